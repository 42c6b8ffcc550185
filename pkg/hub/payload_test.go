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

func TestDecodeRoomIDMatchesDecode(t *testing.T) {
	for _, p := range roomIDPayloads {
		checkRoomID(t, []byte(p))
	}
}

func FuzzDecodeRoomID(f *testing.F) {
	for _, p := range roomIDPayloads {
		f.Add([]byte(p))
	}
	f.Fuzz(checkRoomID)
}

func checkRoomID(t *testing.T, payload []byte) {
	want, wantErr := decodeRoomIDSlow(payload)
	got, err := decodeRoomID(payload)
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
	}{{"scan", decodeRoomID}, {"decode", decodeRoomIDSlow}} {
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
