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
// roomId that is not a plain string) goes through decode.
func decodeRoomID(payload json.RawMessage) (string, error) {
	if len(payload) == 0 || payload[0] != '{' || !json.Valid(payload) {
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
	if len(raw) < 2 || raw[0] != '"' {
		return decodeRoomIDSlow(payload) // null, or not a string
	}
	s := raw[1 : len(raw)-1]
	if bytes.IndexByte(s, '\\') >= 0 || !utf8.Valid(s) {
		return decodeRoomIDSlow(payload)
	}
	return string(s), nil
}

func decodeRoomIDSlow(payload json.RawMessage) (string, error) {
	var req struct {
		RoomID string `json:"roomId"`
	}
	err := decode(payload, &req)
	return req.RoomID, err
}
