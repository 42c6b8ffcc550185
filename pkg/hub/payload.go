package hub

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/hubd/hubd/pkg/jsonscan"
)

// keyRoomID is the payload field naming an event's room.
var keyRoomID = []byte("roomId")

// decodeRoomID returns the roomId of an event payload exactly as decode
// into a struct with only that field does (the same value, the same
// error), without decoding the rest of the payload, which the event's
// handler decodes anyway. A payload it cannot settle by looking (a key
// matching roomId only case-insensitively or written with escapes, a
// roomId that is not a plain string) goes through decode. valid tells
// whether json.Valid accepts payload (an event's payload is: see
// call.payload).
func decodeRoomID(payload json.RawMessage, valid bool) (string, error) {
	if len(payload) == 0 || payload[0] != '{' || !valid {
		return decodeRoomIDSlow(payload)
	}
	var (
		raw   []byte
		plain = true
	)
	jsonscan.Members(payload, func(key, value []byte) bool {
		k := key[1 : len(key)-1]
		switch {
		case bytes.Equal(k, keyRoomID):
			raw = value
		case bytes.IndexByte(k, '\\') >= 0 || bytes.EqualFold(k, keyRoomID):
			plain = false
		}
		return plain
	})
	if !plain {
		return decodeRoomIDSlow(payload)
	}
	if raw == nil {
		return "", nil
	}
	var s string
	if !plainString(raw, &s) {
		return decodeRoomIDSlow(payload) // null, not a string, or escaped
	}
	return s, nil
}

// roomIDOfCall is the roomId of an event of a room (Inbound.roomOf).
func roomIDOfCall(in *call) (string, error) { return decodeRoomID(in.payload, true) }

// sendRoomID is the roomId of a hub:send (Inbound.roomOf): the payload
// is decoded whole once, for the dispatcher and for handleSend. A payload
// that does not decode whole is read as any other event's (decodeRoomID)
// and its decode error kept for handleSend, which refuses it with that
// error: its refusal comes after the membership and pre-checks, as for
// every event of a room. Where decodeSend succeeds, its roomId is
// decodeRoomID's (FuzzDecodeSend).
func sendRoomID(in *call) (string, error) {
	if err := decodeSend(in.payload, true, &in.send); err != nil {
		in.send, in.sendErr = sendRequest{}, err
		return decodeRoomID(in.payload, true)
	}
	in.decoded = true
	return in.send.RoomID, nil
}

func decodeRoomIDSlow(payload json.RawMessage) (string, error) {
	var req struct {
		RoomID string `json:"roomId"`
	}
	err := decode(payload, &req)
	return req.RoomID, err
}

// sendFields are the members of a hub:send payload, by name, and how
// decodeSend sets each (false: the value is beyond the scan).
var sendFields = []struct {
	name []byte
	set  func(req *sendRequest, value []byte) bool
}{
	{[]byte("roomId"), func(r *sendRequest, v []byte) bool { return plainString(v, &r.RoomID) }},
	{[]byte("messageType"), func(r *sendRequest, v []byte) bool { return plainString(v, &r.MessageType) }},
	{[]byte("content"), func(r *sendRequest, v []byte) bool { r.Content = v; return true }},
	{[]byte("replyTo"), func(r *sendRequest, v []byte) bool { r.ReplyTo = v; return true }},
	{[]byte("forwarded"), func(r *sendRequest, v []byte) bool { return boolPointer(v, &r.Forwarded) }},
	{[]byte("clientMessageId"), func(r *sendRequest, v []byte) bool { return plainString(v, &r.ClientMessageID) }},
}

// decodeSend decodes a hub:send payload exactly as decode does (the same
// fields, the same error), from a scan of its members instead of a decode
// by reflection. The raw fields (content, replyTo) share the payload's
// bytes, capped at their own length: the payload is the event's own copy
// and nothing writes to it. A payload the scan cannot settle (a key
// matching a field only case-insensitively or written with escapes, a
// string field that is not a plain string, null where decode keeps the
// earlier value) goes through decode. valid tells whether json.Valid
// accepts payload (see call.payload). The content of a decoded
// request is valid JSON or empty, and marked so.
func decodeSend(payload json.RawMessage, valid bool, req *sendRequest) error {
	if len(payload) == 0 || payload[0] != '{' || !valid {
		err := decode(payload, req)
		req.contentValid = err == nil
		return err
	}
	plain := true
	jsonscan.Members(payload, func(key, value []byte) bool {
		plain = setSendField(req, key[1:len(key)-1], value)
		return plain
	})
	if !plain {
		*req = sendRequest{}
		err := decode(payload, req)
		req.contentValid = err == nil
		return err
	}
	req.contentValid = true
	return nil
}

// setSendField sets the field named k, if any; false when k or value is
// beyond the scan (see decodeSend).
func setSendField(req *sendRequest, k, value []byte) bool {
	if bytes.IndexByte(k, '\\') >= 0 {
		return false
	}
	for _, f := range sendFields {
		if bytes.Equal(k, f.name) {
			return f.set(req, value)
		}
		if bytes.EqualFold(k, f.name) {
			return false
		}
	}
	return true
}

// plainString sets *s to the JSON string v when it holds no escapes and
// valid UTF-8.
func plainString(v []byte, s *string) bool {
	if len(v) < 2 || v[0] != '"' {
		return false
	}
	raw := v[1 : len(v)-1]
	if bytes.IndexByte(raw, '\\') >= 0 || !utf8.Valid(raw) {
		return false
	}
	*s = string(raw)
	return true
}

// boolPointer sets *p from the JSON literal v: true, false, or null (nil).
func boolPointer(v []byte, p **bool) bool {
	switch string(v) {
	case "true", "false":
		b := v[0] == 't'
		*p = &b
	case "null":
		*p = nil
	default:
		return false
	}
	return true
}
