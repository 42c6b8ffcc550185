package hub

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// roomIDPayloads are event payloads decodeRoomID must read exactly as
// decode does.
var roomIDPayloads = []string{
	`{"roomId":"r1","content":{"roomId":"inner"}}`, `{"content":{"roomId":"x"},"roomId":"r2"}`,
	`{"roomId":"a","roomId":"b"}`, `{"ROOMID":"upper"}`, `{"roomId":"a","roomid":"b"}`,
	`{"room\u0049d":"escaped key"}`, `{"roomId":"esc\"aped\u00e9"}`, "{\"roomId\":\"bad \xff utf8\"}",
	`{"roomId":null}`, `{"roomId":"a","roomId":null}`, `{"roomId":5}`, `{"roomId":{"a":1}}`,
	`{}`, `{"other":1}`, `[]`, `"r"`, ``, ` {"roomId":"space"}`, `{"roomId":"r1"} x`, `{"roomId":`,
	`{"roomId":"r1",}`, `{"ſoomId":"long s"}`, `{"roomId":""}`,
}

func FuzzDecodeRoomID(f *testing.F) {
	for _, p := range roomIDPayloads {
		f.Add([]byte(p))
	}
	f.Fuzz(checkRoomID)
}

func checkRoomID(t *testing.T, payload []byte) {
	want, wantErr := decodeRoomIDSlow(payload)
	got, err := decodeRoomID(payload, json.Valid(payload))
	require.Equal(t, wantErr, err, "payload %q", payload)
	require.Equal(t, want, got, "payload %q", payload)
}

// BenchmarkDecodeRoomID reads the roomId of a hub:send payload: the scan
// against the decode it replaced on the dispatch path.
func BenchmarkDecodeRoomID(b *testing.B) {
	p := []byte(`{"roomId":"room-42","messageType":"text","content":{"body":"hello there, how are you doing today?"},"clientMessageId":"c-123456"}`)
	for _, bc := range []struct {
		name string
		fn   func(json.RawMessage) (string, error)
	}{{"scan", func(p json.RawMessage) (string, error) { return decodeRoomID(p, json.Valid(p)) }}, {"decode", decodeRoomIDSlow}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if id, err := bc.fn(p); err != nil || id != "room-42" {
					b.Fatal(id, err)
				}
			}
		})
	}
}

// sendPayloads are hub:send payloads decodeSend must decode exactly as
// decode does.
var sendPayloads = []string{
	`{"roomId":"r1","messageType":"text","content":{"body":"hi"},"clientMessageId":"c1"}`,
	`{"roomId":"r1","messageType":"text","content":{"body":"hi"},"replyTo":{"id":"m1"},"forwarded":true,"x":[1,{"y":2}]}`,
	`{"content":null,"replyTo":null,"forwarded":null}`, `{"forwarded":false,"forwarded":null}`, `{"forwarded":1}`,
	`{"messageType":"a","messageType":"b"}`, `{"messageType":"a","messageType":null}`, `{"MessageType":"text"}`,
	`{"content":"s","content":[1, 2 ]}`, `{"clientMessageId":"\u00e9"}`, `{"client\u004dessageId":"x"}`,
	`{"roomId":5}`, `{"content":{"a":1}} x`, `[]`, ``, `{"messageType":"text",}`, "{\"messageType\":\"\xff\"}",
}

func FuzzDecodeSend(f *testing.F) {
	for _, p := range sendPayloads {
		f.Add([]byte(p))
	}
	f.Fuzz(checkDecodeSend)
}

func checkDecodeSend(t *testing.T, payload []byte) {
	var want, got sendRequest
	wantErr := decode(payload, &want)
	err := decodeSend(payload, json.Valid(payload), &got)
	require.Equal(t, wantErr, err, "payload %q", payload)
	if err != nil {
		return
	}
	// A decoded content is marked valid, and is: the content validation
	// skips json.Valid on it.
	require.True(t, got.contentValid, "payload %q", payload)
	// The dispatcher takes the roomId of a payload that decodes whole from
	// this decode (sendRoomID): it is the one every other event reads.
	roomID, roomErr := decodeRoomIDSlow(payload)
	require.NoError(t, roomErr, "payload %q", payload)
	require.Equal(t, roomID, got.RoomID, "payload %q", payload)
	in := &call{payload: payload}
	id, err := sendRoomID(in)
	require.NoError(t, err, "payload %q", payload)
	require.Equal(t, roomID, id, "payload %q", payload)
	require.True(t, in.decoded, "payload %q", payload)
	require.True(t, len(got.Content) == 0 || json.Valid(got.Content), "payload %q", payload)
	got.contentValid = false
	require.Equal(t, want, got, "payload %q", payload)
	// The raw fields share the payload: writing past one must not reach
	// the other.
	_ = append(got.Content, 'X')
	_ = append(got.ReplyTo, 'X')
	require.Equal(t, want.Content, got.Content, "payload %q", payload)
	require.Equal(t, want.ReplyTo, got.ReplyTo, "payload %q", payload)
}

// BenchmarkDecodeSend decodes a hub:send payload: the scan against the
// decode by reflection it replaced.
func BenchmarkDecodeSend(b *testing.B) {
	p := []byte(`{"roomId":"room-42","messageType":"text","content":{"body":"hello there, how are you doing today?"},"clientMessageId":"c-123456"}`)
	for _, bc := range []struct {
		name string
		fn   func(json.RawMessage, *sendRequest) error
	}{{"scan", func(p json.RawMessage, r *sendRequest) error { return decodeSend(p, json.Valid(p), r) }},
		{"decode", func(p json.RawMessage, r *sendRequest) error { return decode(p, r) }}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var req sendRequest
				if err := bc.fn(p, &req); err != nil || req.RoomID != "room-42" {
					b.Fatal(req.RoomID, err)
				}
			}
		})
	}
}
