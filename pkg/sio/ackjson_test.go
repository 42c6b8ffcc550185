package sio

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// AckJSON writes the very packet Ack writes for the same JSON argument,
// whatever the namespace, the ack id and the argument's size (the
// WebSocket header's three length forms), and refuses as Ack does.
func TestAckJSONIsAcksPacket(t *testing.T) {
	big := `{"body":"` + strings.Repeat("x", 70000) + `"}`
	for _, nsp := range []string{"/", "/hub/chat"} {
		s := NewServer(Options{})
		ns := s.Of(nsp)
		conn := fakeSockets(t, s, ns, 1, "r")[0]
		so := conn.Data.(*client).sockets[0]
		for _, id := range []int64{0, 7, 123456789} {
			for _, arg := range []string{`{"ok":true}`, ``, `[1,"a",null]`, `{"body":"` + strings.Repeat("y", 200) + `"}`, big} {
				ack := &Event{Name: "e", sock: so, id: id}
				require.NoError(t, ack.Ack(json.RawMessage(arg)))
				want := conn.pop()
				ev := &Event{Name: "e", sock: so, id: id}
				require.NoError(t, ev.AckJSON(len(arg)/2, func(b []byte) []byte { return append(b, arg...) }))
				got := conn.pop()
				require.Len(t, got.frames, 1)
				require.Equal(t, frameWire(want.frames[0]), frameWire(got.frames[0]), "nsp %s id %d arg %.40s", nsp, id, arg)
				require.ErrorIs(t, ev.AckJSON(0, func(b []byte) []byte { return b }), ErrAckSent)
			}
		}
		require.ErrorIs(t, (&Event{Name: "e", sock: so, id: -1}).AckJSON(0, func(b []byte) []byte { return b }), ErrNoAck)
		so.connected.Store(false)
		require.ErrorIs(t, (&Event{Name: "e", sock: so, id: 1}).AckJSON(0, func(b []byte) []byte { return b }), ErrSocketClosed)
		require.Nil(t, conn.pop())
	}
}

// frameWire is what a frame puts on a WebSocket connection.
func frameWire(f *frame) string { return string(f.buf[f.start:]) }
