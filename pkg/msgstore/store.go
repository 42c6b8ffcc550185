// Package msgstore persists hub messages and read marks.
//
// Store is the interface every backend implements; Embedded (a bbolt file
// under the daemon's data directory) is the default when no database is
// configured. Every implementation passes the suite in package storetest.
package msgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/hubd/hubd/pkg/spec"
)

// Errors returned (wrapped) by every Store.
var (
	// ErrNotFound: no message with that id in that hub.
	ErrNotFound = errors.New("msgstore: not found")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("msgstore: closed")
	// ErrDuplicateID: Append got an explicit id that the hub already holds.
	ErrDuplicateID = errors.New("msgstore: duplicate message id")
	// ErrInvalid: a message, query or update is malformed; the concrete error
	// is an *InvalidError naming the field.
	ErrInvalid = errors.New("msgstore: invalid")
	// ErrLocked: another process holds the embedded database file.
	ErrLocked = errors.New("msgstore: database locked by another process")
	// ErrUnavailable: the storage could not be reached or did not answer in
	// time (a lost database connection, a timeout, a failed disk write). The
	// write may be retried; the hub answers UNAVAILABLE and broadcasts
	// nothing.
	ErrUnavailable = errors.New("msgstore: storage unavailable")
	// ErrOutcomeUnknown: a write was sent with its commit and no answer came
	// in time (the database stalled or the connection broke): it may or may
	// not be stored. Retrying with the same ClientMessageID is safe (a
	// stored original is returned, not stored twice). Stores that answer
	// ErrUnavailable guarantee that nothing was stored and nothing will be.
	ErrOutcomeUnknown = errors.New("msgstore: write outcome unknown")
	// ErrNoSchema: a write for a hub whose schema was never created (see
	// SchemaManager).
	ErrNoSchema = errors.New("msgstore: hub has no schema")
	// ErrUnsafeMigration: EnsureSchema refused a spec change that would lose
	// data or cannot be applied in place; nothing was changed.
	ErrUnsafeMigration = errors.New("msgstore: unsafe schema change")
)

// InvalidError names the field that made a message, query or update invalid.
// errors.Is(err, ErrInvalid) holds for it.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("msgstore: invalid %s: %s", e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, reason string) error { return &InvalidError{Field: field, Reason: reason} }

// Query selects messages of one room for List.
type Query struct {
	BeforeSeq int64    // >0: only seq < BeforeSeq
	AfterSeq  int64    // >0: only seq > AfterSeq
	Limit     int      // 0 => no limit
	Statuses  []string // empty => all
	// Viewer, when set, keeps only the messages whose Audience includes
	// that user (before the limit); "" => every message.
	Viewer string
	// Changes makes the query one over the room's change stream: only
	// messages with Rev > 0, ordered by Rev, AfterRev/BeforeRev bounding
	// Rev as AfterSeq/BeforeSeq bound Seq (which must then be 0); the limit
	// and filters as for seq. List(Query{Changes: true, Limit: 1}) gives
	// the room's last change.
	Changes             bool
	AfterRev, BeforeRev int64
}

// Sees reports whether the query's viewer may read a message with
// audience a.
func (q Query) Sees(a *Audience) bool { return q.Viewer == "" || a.Includes(q.Viewer) }

// Validate reports a negative field as *InvalidError.
func (q Query) Validate() error {
	switch {
	case q.BeforeSeq < 0:
		return invalid("beforeSeq", "negative")
	case q.AfterSeq < 0:
		return invalid("afterSeq", "negative")
	case q.Limit < 0:
		return invalid("limit", "negative")
	case q.AfterRev < 0:
		return invalid("afterRev", "negative")
	case q.BeforeRev < 0:
		return invalid("beforeRev", "negative")
	case q.Changes && (q.AfterSeq != 0 || q.BeforeSeq != 0):
		return invalid("afterSeq", "a query over changes is bounded by afterRev and beforeRev")
	case !q.Changes && (q.AfterRev != 0 || q.BeforeRev != 0):
		return invalid("afterRev", "only a query over changes (changes: true) is bounded by rev")
	}
	return nil
}

// Matches reports whether status passes the query's status filter.
func (q Query) Matches(status string) bool {
	if len(q.Statuses) == 0 {
		return true
	}
	for _, s := range q.Statuses {
		if s == status {
			return true
		}
	}
	return false
}

// Store persists hub messages. Implementations are safe for concurrent use.
// A call returns only after its writes are durable (committed), so a caller
// may acknowledge a message as soon as Append returns.
type Store interface {
	// Append stores m (assigning ID when empty, Seq, and Timestamp when zero)
	// and returns the stored copy with created=true; m itself is not modified.
	// If m.ClientMessageID != "" and the same (HubName, SenderID,
	// ClientMessageID) was stored before, it stores nothing and returns the
	// original (as it is now) with created=false.
	Append(ctx context.Context, m *Message) (stored *Message, created bool, err error)
	// List returns messages of one room, OLDEST FIRST. Without
	// BeforeSeq/AfterSeq and with a Limit: the NEWEST Limit messages (still
	// oldest first). With AfterSeq: the OLDEST Limit messages after it (and
	// before BeforeSeq when both are set). With only BeforeSeq: the newest
	// Limit before it. The status filter applies before the limit. An unknown
	// room gives an empty list.
	List(ctx context.Context, hub, roomID string, q Query) ([]*Message, error)
	// Get returns one message; ErrNotFound when the hub has no such id.
	Get(ctx context.Context, hub, id string) (*Message, error)
	// GetByClientID returns the message senderID stored in the hub with
	// that clientMessageId (the one a repeated Append returns), as it is now;
	// ErrNotFound when there is none or clientMessageID is empty.
	GetByClientID(ctx context.Context, hub, senderID, clientMessageID string) (*Message, error)
	// Update applies fn to a copy of the stored message atomically (edit, soft
	// delete, reactions, approve/reject) and returns the new copy. fn may
	// return an error to abort; Update then returns it wrapped and nothing
	// changes. fn must only modify m: it may run more than once, and must not
	// call the store. ID, RoomID, Seq, SenderID, ClientMessageID, Timestamp,
	// Audience and Rev cannot change through fn. When fn returns nil the
	// message gets the room's next change number as its Rev (the room's
	// changes are numbered like its messages: from 1, without holes, and a
	// number is committed only after every lower one of the room); Change
	// is stored as fn left it.
	Update(ctx context.Context, hub, id string, fn func(m *Message) error) (*Message, error)
	// SetReadMark records the time up to which userID has read roomID; the
	// last write wins. A zero ts clears the mark.
	SetReadMark(ctx context.Context, hub, roomID, userID string, ts time.Time) error
	// ReadMark returns the mark, or the zero time when none.
	ReadMark(ctx context.Context, hub, roomID, userID string) (time.Time, error)
	// ReadMarks returns every user's read mark in the room, by user id.
	ReadMarks(ctx context.Context, hub, roomID string) ([]ReadMarkEntry, error)
	// CountUnread counts the published messages of the room with a timestamp
	// after the user's read mark (all of them when there is none) that the
	// user did not send and whose Audience includes the user.
	CountUnread(ctx context.Context, hub, roomID, userID string) (int64, error)
	// SetDelivered records that userID received messageID (a delivery
	// receipt). Idempotent: the first time recorded is kept.
	SetDelivered(ctx context.Context, hub, roomID, userID, messageID string, at time.Time) error
	// Delivered returns who received a message and when, by user id.
	Delivered(ctx context.Context, hub, messageID string) ([]ReadMarkEntry, error)
	// SetModeration stores the moderation record of (hub, room, user),
	// replacing an earlier one. UpdatedAt is set when zero.
	SetModeration(ctx context.Context, m *Moderation) error
	// GetModeration returns the record, or ErrNotFound when none.
	GetModeration(ctx context.Context, hub, roomID, userID string) (*Moderation, error)
	// ListModeration returns the room's records by user id.
	ListModeration(ctx context.Context, hub, roomID string) ([]*Moderation, error)
	// SetRoomSettings replaces the hub-level settings of a room
	// (hub:updateRoom); nil or JSON null removes them.
	SetRoomSettings(ctx context.Context, hub, roomID string, settings json.RawMessage) error
	// RoomSettings returns the settings as compact JSON, nil when none.
	RoomSettings(ctx context.Context, hub, roomID string) (json.RawMessage, error)
	// Close releases the store; later calls return ErrClosed.
	Close() error
}

// SchemaManager is implemented by stores that keep a schema per hub
// (PostgreSQL; not the embedded store).
type SchemaManager interface {
	// EnsureSchema creates or migrates the hub's tables for its spec; called
	// for every hub on start and on reload, BEFORE the swap. An unsafe change
	// returns an error wrapping ErrUnsafeMigration (the reload fails) and
	// changes nothing.
	EnsureSchema(ctx context.Context, h *spec.Hub) error
}

// ReadMarkEntry is one user's read mark or delivery receipt.
type ReadMarkEntry struct {
	UserID string
	At     time.Time
}

// Moderation is the moderation record of one user in one room.
type Moderation struct {
	HubName, RoomID, UserID string
	Blocked                 bool
	BlockedUntil            time.Time // zero: until unblocked
	Silenced                bool
	Reason                  string
	By                      string // moderator user id
	UpdatedAt               time.Time
}

// Clone returns a copy of m.
func (m *Moderation) Clone() *Moderation {
	if m == nil {
		return nil
	}
	c := *m
	return &c
}

// normalizeModeration validates m and returns the form stores persist: times
// in UTC with millisecond precision, UpdatedAt set when zero.
func normalizeModeration(m *Moderation) (*Moderation, error) {
	if m == nil {
		return nil, invalid("moderation", "is nil")
	}
	if m.HubName == "" || m.RoomID == "" || m.UserID == "" {
		return nil, invalid("hubName, roomId and userId", "are required")
	}
	for _, v := range []string{m.HubName, m.RoomID, m.UserID, m.By} {
		if len(v) > maxKeyLen {
			return nil, invalid("moderation", fmt.Sprintf("key longer than %d bytes", maxKeyLen))
		}
	}
	c := m.Clone()
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = time.Now()
	}
	c.UpdatedAt = c.UpdatedAt.UTC().Truncate(time.Millisecond)
	if !c.BlockedUntil.IsZero() {
		c.BlockedUntil = c.BlockedUntil.UTC().Truncate(time.Millisecond)
	}
	return c, nil
}

// normalizeSettings compacts room settings; nil means none.
func normalizeSettings(raw json.RawMessage) (json.RawMessage, error) {
	c, err := compactOptional(raw)
	if err != nil {
		return nil, invalid("settings", err.Error())
	}
	return c, nil
}

// requireKeys reports an empty or oversized key as *InvalidError.
func requireKeys(names string, keys ...string) error {
	for _, k := range keys {
		if k == "" {
			return invalid(names, "are required")
		}
		if len(k) > maxKeyLen {
			return invalid(names, fmt.Sprintf("longer than %d bytes", maxKeyLen))
		}
	}
	return nil
}

// CheckUpdate returns an *InvalidError when an update changed a field that
// cannot change.
func CheckUpdate(before, after *Message) error {
	switch {
	case after.ID != before.ID:
		return invalid("id", "cannot change")
	case after.HubName != before.HubName:
		return invalid("hubName", "cannot change")
	case after.RoomID != before.RoomID:
		return invalid("roomId", "cannot change")
	case after.Seq != before.Seq:
		return invalid("seq", "cannot change")
	case after.SenderID != before.SenderID:
		return invalid("senderId", "cannot change")
	case after.ClientMessageID != before.ClientMessageID:
		return invalid("clientMessageId", "cannot change")
	case !after.Timestamp.Equal(before.Timestamp):
		return invalid("timestamp", "cannot change")
	case !reflect.DeepEqual(after.Audience, before.Audience):
		return invalid("audience", "cannot change")
	case after.Rev != before.Rev:
		return invalid("rev", "is assigned by the store")
	}
	return nil
}
