package sio

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/hubd/hubd/pkg/jsonscan"
)

// Socket.IO packet types.
const (
	pConnect      = 0
	pDisconnect   = 1
	pEvent        = 2
	pAck          = 3
	pConnectError = 4
	pBinaryEvent  = 5
	pBinaryAck    = 6
)

// Packet is a decoded Socket.IO packet header with its raw JSON payload.
type Packet struct {
	Type        int
	Nsp         string
	ID          int64 // -1 when absent
	Attachments int
	Data        []byte // raw JSON, empty when absent
}

// Limits applied by DecodePacket.
type Limits struct {
	MaxDepth       int
	MaxAttachments int
}

var defaultLimits = Limits{MaxDepth: DefaultMaxDepth, MaxAttachments: DefaultMaxAttachments}

// DecodePacket parses a Socket.IO packet as sent by a client and checks its
// payload against the rules of its type. Event names must be strings,
// binary packets need a positive attachment count, JSON must be valid and no
// deeper than lim.MaxDepth.
func DecodePacket(b []byte, lim Limits) (Packet, error) {
	p, err := decodeHeader(b, lim, nil)
	if err != nil {
		return p, err
	}
	if err := p.validate(lim); err != nil {
		return p, err
	}
	return p, nil
}

// decodeHeader parses the type, attachment count, namespace and ack id of a
// packet without looking at its JSON payload, which is left in Data.
func decodeHeader(b []byte, lim Limits, names *interner) (Packet, error) {
	p := Packet{ID: -1, Nsp: "/"}
	if len(b) == 0 {
		return p, sioErr("empty packet")
	}
	t := b[0]
	if t < '0' || t > '6' {
		return p, sioErr("unknown packet type")
	}
	p.Type = int(t - '0')
	i := 1
	if p.Type == pBinaryEvent || p.Type == pBinaryAck {
		j := i
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			j++
		}
		if j == i || j >= len(b) || b[j] != '-' {
			return p, sioErr("bad attachment count")
		}
		if j-i > 4 {
			return p, refusedErr(RefuseTooManyAttachments, "too many attachments")
		}
		n, _ := strconv.Atoi(string(b[i:j]))
		if n <= 0 {
			return p, sioErr("bad attachment count")
		}
		if n > lim.MaxAttachments {
			return p, refusedErr(RefuseTooManyAttachments, "too many attachments")
		}
		p.Attachments = n
		i = j + 1
	}
	if i < len(b) && b[i] == '/' {
		j := bytes.IndexByte(b[i:], ',')
		end := len(b)
		if j >= 0 {
			end = i + j
		}
		if end-i > MaxNamespaceLen {
			return p, refusedErr(RefuseNamespaceTooLong, "namespace name too long")
		}
		if names != nil {
			p.Nsp = names.str(b[i:end])
		} else {
			p.Nsp = string(b[i:end])
		}
		i = min(end+1, len(b))
		if !utf8.ValidString(p.Nsp) {
			return p, sioErr("bad namespace")
		}
	}
	j := i
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	if j > i {
		if j-i > 15 {
			return p, sioErr("bad ack id")
		}
		p.ID, _ = strconv.ParseInt(string(b[i:j]), 10, 64)
		i = j
	}
	p.Data = b[i:]
	return p, nil
}

func (p *Packet) validate(lim Limits) error {
	d := p.Data
	if len(d) > 0 {
		if err := checkDepth(d, lim.MaxDepth); err != nil {
			return err
		}
		if !json.Valid(d) {
			return sioErr("invalid JSON")
		}
	}
	first := byte(0)
	if len(d) > 0 {
		first = d[0]
	}
	switch p.Type {
	case pConnect:
		if len(d) > 0 && first != '{' {
			return sioErr("connect payload must be an object")
		}
		if p.ID >= 0 {
			return sioErr("unexpected ack id")
		}
	case pDisconnect:
		if len(d) > 0 || p.ID >= 0 {
			return sioErr("unexpected disconnect payload")
		}
	case pEvent, pBinaryEvent:
		if first != '[' {
			return sioErr("event payload must be an array")
		}
		// The name is the first element and must be a string.
		k := 1
		for k < len(d) && isSpace(d[k]) {
			k++
		}
		if k >= len(d) || d[k] != '"' {
			return sioErr("event name must be a string")
		}
	case pAck, pBinaryAck:
		if first != '[' {
			return sioErr("ack payload must be an array")
		}
		if p.ID < 0 {
			return sioErr("ack without id")
		}
	default:
		return sioErr("packet type not accepted from a client")
	}
	return nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// checkDepth rejects JSON nested deeper than max. It only tracks brackets
// outside strings; validity is checked separately.
func checkDepth(d []byte, max int) error {
	depth := 0
	inStr := false
	for i := 0; i < len(d); i++ {
		c := d[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '[', '{':
			depth++
			if depth > max {
				return sioErr("JSON nested too deep")
			}
		case ']', '}':
			depth--
		}
	}
	return nil
}

// splitArray splits a JSON array into its raw elements, copies sharing one
// copy of d (each capped at its own length); null has none.
func splitArray(d []byte) ([]json.RawMessage, error) {
	if !json.Valid(d) {
		return nil, sioErr("invalid array")
	}
	return splitValidArray(slices.Clone(d))
}

// splitValidArray is splitArray for d that json.Valid accepted, without
// the copy: its elements are sub-slices of d itself (each capped at its own
// length), for a d of the caller's own (a client's packet, see OnMessage).
func splitValidArray(d []byte) ([]json.RawMessage, error) {
	t := bytes.TrimSpace(d)
	if string(t) == "null" {
		return nil, nil
	}
	if len(t) == 0 || t[0] != '[' {
		return nil, sioErr("invalid array")
	}
	out, _ := jsonscan.Elements(t, make([]json.RawMessage, 0, 2))
	return out, nil
}

// placeholderNums walks v and returns an error if a binary placeholder is
// malformed or out of range; it reports how many placeholders were seen.
func checkPlaceholders(args []json.RawMessage, attachments int) error {
	seen := 0
	for _, a := range args {
		if bytes.IndexByte(a, '{') < 0 {
			continue
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(a))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return sioErr("invalid JSON")
		}
		if err := walkPlaceholders(v, attachments, &seen); err != nil {
			return err
		}
	}
	if seen == 0 {
		return sioErr("binary packet without placeholder")
	}
	return nil
}

func walkPlaceholders(v any, attachments int, seen *int) error {
	switch t := v.(type) {
	case map[string]any:
		if ph, ok := t["_placeholder"]; ok && ph == true {
			num, ok := t["num"].(json.Number)
			if !ok {
				return sioErr("placeholder without num")
			}
			n, err := num.Int64()
			if err != nil || n < 0 || n >= int64(attachments) {
				return sioErr("placeholder num out of range")
			}
			*seen++
			return nil
		}
		for _, x := range t {
			if err := walkPlaceholders(x, attachments, seen); err != nil {
				return err
			}
		}
	case []any:
		for _, x := range t {
			if err := walkPlaceholders(x, attachments, seen); err != nil {
				return err
			}
		}
	}
	return nil
}

// placeholderNum reports whether raw is exactly a placeholder object and its num.
func placeholderNum(raw json.RawMessage) (int, bool) {
	if len(raw) < 20 || raw[0] != '{' || !bytes.Contains(raw, []byte(`"_placeholder"`)) {
		return 0, false
	}
	var ph struct {
		Placeholder bool `json:"_placeholder"`
		Num         *int `json:"num"`
	}
	if json.Unmarshal(raw, &ph) != nil || !ph.Placeholder || ph.Num == nil {
		return 0, false
	}
	return *ph.Num, true
}
