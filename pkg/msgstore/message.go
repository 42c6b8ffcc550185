package msgstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Message statuses.
const (
	StatusPublished = "published"
	StatusPending   = "pending"
	StatusRejected  = "rejected"
	StatusDeleted   = "deleted"
)

// TimeFormat is the wire format of message times: RFC 3339 with milliseconds,
// always UTC, for example "2026-11-27T23:59:01.123Z".
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Message is one persisted hub message. Its JSON form is the wire form of the
// protocol's message object.
type Message struct {
	ID              string          `json:"id"` // assigned by Append when empty: UUIDv7
	HubName         string          `json:"-"`
	RoomID          string          `json:"roomId"`
	Seq             int64           `json:"seq"` // per (hub, room) strictly increasing from 1, assigned by Append
	SenderID        string          `json:"senderId"`
	MessageType     string          `json:"messageType"`
	Content         json.RawMessage `json:"content"`
	Timestamp       time.Time       `json:"timestamp"` // set by Append if zero; stored in UTC with millisecond precision
	Status          string          `json:"status"`    // published | pending | rejected | deleted
	ReplyTo         json.RawMessage `json:"replyTo,omitempty"`
	Reaction        json.RawMessage `json:"reaction,omitempty"` // JSON array of {emoji,userId,timestamp}
	Forwarded       *bool           `json:"forwarded,omitempty"`
	ClientMessageID string          `json:"clientMessageId,omitempty"`
	EditedAt        *time.Time      `json:"editedAt,omitempty"`
	// Audience restricts who may read the message; nil: the whole room.
	Audience *Audience `json:"audience,omitempty"`
	// Rev is the room's change number of the message's last change, assigned
	// by Update: per (hub, room) strictly increasing from 1 across the room's
	// messages, without holes; 0 for a message never changed.
	Rev int64 `json:"rev,omitempty"`
	// Change says what the last change was; the update function sets it.
	Change *Change `json:"change,omitempty"`
}

// Change is what the last change of a message was: its kind, who made it
// and when, for a reaction the emoji toggled, for a rejection its reason.
// ApprovedRev and EditedRev are the revs of the message's approval and of
// its last edit when a later change replaced them (an approved message
// edited, reacted to, deleted; an edited one reacted to).
type Change struct {
	Kind        string    `json:"kind"`
	By          string    `json:"by,omitempty"`
	At          time.Time `json:"at"`
	Emoji       string    `json:"emoji,omitempty"`
	Reason      string    `json:"reason,omitempty"`
	ApprovedRev int64     `json:"approvedRev,omitempty"`
	EditedRev   int64     `json:"editedRev,omitempty"`
	// Was is the message's status before the change, when it changed it.
	Was string `json:"was,omitempty"`
}

// Change kinds.
const (
	ChangeEdited   = "edited"
	ChangeDeleted  = "deleted"
	ChangeReaction = "reaction"
	ChangeApproved = "approved"
	ChangeRejected = "rejected"
)

// messageFields has Message's fields without its JSON methods.
type messageFields Message

// MarshalJSON encodes m with its times in TimeFormat, fields in declaration
// order. Raw JSON fields are written as they are (Normalize compacts them);
// an empty Content is null.
func (m Message) MarshalJSON() ([]byte, error) {
	return m.appendJSON(make([]byte, 0, 256+len(m.Content)+len(m.Reaction)+len(m.ReplyTo))), nil
}

// AppendJSON appends m's JSON form (the one MarshalJSON returns) to b. It
// lets a caller embed messages in a larger payload without encoding/json
// re-validating and re-compacting the output of MarshalJSON.
func (m *Message) AppendJSON(b []byte) []byte { return m.appendJSON(b) }

func (m *Message) appendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, m.ID)
	b = append(b, `,"roomId":`...)
	b = appendString(b, m.RoomID)
	b = append(b, `,"seq":`...)
	b = strconv.AppendInt(b, m.Seq, 10)
	b = append(b, `,"senderId":`...)
	b = appendString(b, m.SenderID)
	b = append(b, `,"messageType":`...)
	b = appendString(b, m.MessageType)
	b = append(b, `,"content":`...)
	if len(m.Content) == 0 {
		b = append(b, "null"...)
	} else {
		b = append(b, m.Content...)
	}
	b = append(b, `,"timestamp":"`...)
	b = AppendTime(b, m.Timestamp)
	b = append(b, `","status":`...)
	b = appendString(b, m.Status)
	if len(m.ReplyTo) > 0 {
		b = append(b, `,"replyTo":`...)
		b = append(b, m.ReplyTo...)
	}
	if len(m.Reaction) > 0 {
		b = append(b, `,"reaction":`...)
		b = append(b, m.Reaction...)
	}
	if m.Forwarded != nil {
		b = append(b, `,"forwarded":`...)
		b = strconv.AppendBool(b, *m.Forwarded)
	}
	if m.ClientMessageID != "" {
		b = append(b, `,"clientMessageId":`...)
		b = appendString(b, m.ClientMessageID)
	}
	if m.EditedAt != nil {
		b = append(b, `,"editedAt":"`...)
		b = AppendTime(b, *m.EditedAt)
		b = append(b, '"')
	}
	if m.Audience != nil {
		b = append(b, `,"audience":`...)
		b = appendAudience(b, m.Audience)
	}
	if m.Rev > 0 {
		b = append(b, `,"rev":`...)
		b = strconv.AppendInt(b, m.Rev, 10)
	}
	if c := m.Change; c != nil {
		b = append(b, `,"change":{"kind":`...)
		b = appendString(b, c.Kind)
		if c.By != "" {
			b = append(b, `,"by":`...)
			b = appendString(b, c.By)
		}
		b = append(b, `,"at":"`...)
		b = AppendTime(b, c.At)
		b = append(b, '"')
		if c.Emoji != "" {
			b = append(b, `,"emoji":`...)
			b = appendString(b, c.Emoji)
		}
		if c.Reason != "" {
			b = append(b, `,"reason":`...)
			b = appendString(b, c.Reason)
		}
		if c.ApprovedRev > 0 {
			b = append(b, `,"approvedRev":`...)
			b = strconv.AppendInt(b, c.ApprovedRev, 10)
		}
		if c.EditedRev > 0 {
			b = append(b, `,"editedRev":`...)
			b = strconv.AppendInt(b, c.EditedRev, 10)
		}
		if c.Was != "" {
			b = append(b, `,"was":`...)
			b = appendString(b, c.Was)
		}
		b = append(b, '}')
	}
	return append(b, '}')
}

// AppendJSONString appends s as a JSON string, escaped as in AppendJSON.
func AppendJSONString(b []byte, s string) []byte { return appendString(b, s) }

// appendString appends s as a JSON string, escaping as encoding/json does
// (HTML characters aside): quotes, backslashes, control characters, U+2028,
// U+2029, and invalid UTF-8 as U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// UnmarshalJSON decodes m; times may be any RFC 3339 form and are kept in UTC.
func (m *Message) UnmarshalJSON(data []byte) error {
	in := struct {
		*messageFields
		Timestamp string  `json:"timestamp"`
		EditedAt  *string `json:"editedAt,omitempty"`
	}{messageFields: (*messageFields)(m)}
	if err := json.Unmarshal(data, &in); err != nil {
		return err
	}
	ts, err := ParseTime(in.Timestamp)
	if err != nil {
		return fmt.Errorf("message timestamp: %w", err)
	}
	m.Timestamp = ts
	m.EditedAt = nil
	if in.EditedAt != nil {
		at, err := ParseTime(*in.EditedAt)
		if err != nil {
			return fmt.Errorf("message editedAt: %w", err)
		}
		m.EditedAt = &at
	}
	return nil
}

// FormatTime formats t in TimeFormat (UTC, milliseconds).
func FormatTime(t time.Time) string {
	return string(AppendTime(make([]byte, 0, len(TimeFormat)), t))
}

// AppendTime appends t in TimeFormat (UTC, milliseconds truncated), as
// t.UTC().AppendFormat(b, TimeFormat) does but without interpreting the
// layout: every message encoding writes one or two times. Years outside
// 0-9999 take AppendFormat.
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, TimeFormat)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	b = append(b, byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-')
	b = appendTwo(b, int(month), '-')
	b = appendTwo(b, day, 'T')
	b = appendTwo(b, hour, ':')
	b = appendTwo(b, minute, ':')
	b = appendTwo(b, sec, '.')
	return append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// appendTwo appends v (0-99) in two digits and then sep.
func appendTwo(b []byte, v int, sep byte) []byte {
	return append(b, byte('0'+v/10), byte('0'+v%10), sep)
}

// ParseTime parses an RFC 3339 time and returns it in UTC. The empty string is
// the zero time.
func ParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, err
	}
	return t.UTC(), nil
}

// Clone returns a deep copy of m.
func (m *Message) Clone() *Message {
	if m == nil {
		return nil
	}
	c := *m
	c.Content = slices.Clone(m.Content)
	c.ReplyTo = slices.Clone(m.ReplyTo)
	c.Reaction = slices.Clone(m.Reaction)
	if m.Forwarded != nil {
		f := *m.Forwarded
		c.Forwarded = &f
	}
	if m.EditedAt != nil {
		at := *m.EditedAt
		c.EditedAt = &at
	}
	c.Audience = m.Audience.Clone()
	if m.Change != nil {
		ch := *m.Change
		c.Change = &ch
	}
	return &c
}

// ValidStatus reports whether s is one of the message statuses.
func ValidStatus(s string) bool {
	switch s {
	case StatusPublished, StatusPending, StatusRejected, StatusDeleted:
		return true
	}
	return false
}

// maxKeyLen bounds hub names, room, sender, message and client message ids.
const maxKeyLen = 1024

// Normalize brings m into the form every Store persists and returns: times in
// UTC truncated to milliseconds (the wire precision), an empty Status as
// published, Content as compact JSON (null when empty), ReplyTo and Reaction
// compact or nil. It reports invalid fields as *InvalidError. Stores call it;
// a caller only needs it to compare its own message with a stored one.
func Normalize(m *Message) error {
	for _, f := range []struct{ name, value string }{
		{"hubName", m.HubName}, {"roomId", m.RoomID},
	} {
		if f.value == "" {
			return invalid(f.name, "is required")
		}
	}
	for _, f := range []struct{ name, value string }{
		{"hubName", m.HubName}, {"roomId", m.RoomID}, {"id", m.ID},
		{"senderId", m.SenderID}, {"clientMessageId", m.ClientMessageID},
	} {
		if len(f.value) > maxKeyLen {
			return invalid(f.name, fmt.Sprintf("longer than %d bytes", maxKeyLen))
		}
	}
	if m.Status == "" {
		m.Status = StatusPublished
	}
	if !ValidStatus(m.Status) {
		return invalid("status", fmt.Sprintf("unknown status %q", m.Status))
	}
	var err error
	if len(m.Content) == 0 {
		m.Content = json.RawMessage("null")
	} else if m.Content, err = compactJSON(m.Content); err != nil {
		return invalid("content", err.Error())
	}
	if m.ReplyTo, err = compactOptional(m.ReplyTo); err != nil {
		return invalid("replyTo", err.Error())
	}
	if m.Reaction, err = compactOptional(m.Reaction); err != nil {
		return invalid("reaction", err.Error())
	}
	if err := m.Audience.validate(); err != nil {
		return err
	}
	if err := m.Change.validate(); err != nil {
		return err
	}
	m.Timestamp = m.Timestamp.UTC().Truncate(time.Millisecond)
	if m.EditedAt != nil {
		at := m.EditedAt.UTC().Truncate(time.Millisecond)
		m.EditedAt = &at
	}
	if m.Change != nil {
		c := *m.Change
		c.At = c.At.UTC().Truncate(time.Millisecond)
		m.Change = &c
	}
	return nil
}

func compactJSON(raw json.RawMessage) (json.RawMessage, error) {
	buf := bytes.NewBuffer(make([]byte, 0, len(raw))) // compact is never longer
	if err := json.Compact(buf, raw); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	return json.RawMessage(buf.Bytes()), nil
}

func compactOptional(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	c, err := compactJSON(raw)
	if err != nil {
		return nil, err
	}
	if string(c) == "null" {
		return nil, nil
	}
	return c, nil
}
