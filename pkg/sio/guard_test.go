package sio

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

type oversizeCall struct {
	name   string
	sock   *Socket
	hasAck bool
	size   int
}

func TestMaxEventBytes(t *testing.T) {
	const limit = 64
	big := strings.Repeat("x", limit)
	// pad fills an event to n bytes of Socket.IO packet (the Engine.IO
	// type byte "4" is not counted).
	pad := func(n int) string {
		return `42/g,["e","` + strings.Repeat("y", n-len(`2/g,["e",""]`)) + `"]`
	}
	cases := []struct {
		name  string
		text  string   // packet sent
		bins  [][]byte // attachments sent after it
		over  bool     // expected to hit the cap (text only)
		event string   // name seen by the oversize handler
		ack   string   // expected ack sent by the oversize handler
	}{
		{name: "under the cap", text: `42/g,["small","a"]`},
		{name: "exactly the cap", text: pad(limit)},
		{name: "over by one", text: pad(limit + 1), over: true, event: "e"},
		{name: "oversize with ack id", text: `42/g,7["big","` + big + `"]`, over: true, event: "big", ack: `43/g,7[{"code":"MESSAGE_TOO_LARGE"}]`},
		// Not parsed: an oversize packet is dropped before its JSON is looked at.
		{name: "oversize invalid JSON is dropped, not fatal", text: `42/g,["big",` + big + `]`, over: true, event: "big"},
		{name: "oversize with an escaped name", text: `42/g,["b\"g","` + big + `"]`, over: true},
		{name: "binary under the cap", text: `451-/g,["bin",{"_placeholder":true,"num":0}]`, bins: [][]byte{{9}}},
	}
	s, base := startServer(t, Options{})
	ns := s.Of("/g")
	events := make(chan *Event, 16)
	calls := make(chan oversizeCall, 16)
	ns.OnEvent(func(_ *Socket, ev *Event) { events <- ev })
	ns.SetMaxEventBytes(limit, func(so *Socket, ev *Event, size int) {
		calls <- oversizeCall{name: ev.Name, sock: so, hasAck: ev.HasAck(), size: size}
		require.Empty(t, ev.Args)
		if ev.HasAck() {
			require.NoError(t, ev.Ack(map[string]string{"code": "MESSAGE_TOO_LARGE"}))
		}
	})
	c := dialWS(t, base, "")
	c.readText()
	sid := c.connectNsp("/g", "")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.send(tc.text)
			for _, b := range tc.bins {
				require.NoError(t, c.c.WriteMessage(websocket.BinaryMessage, b))
			}
			// A marker event shows the connection is still open and in order.
			c.send(`42/g,["marker"]`)
			if !tc.over {
				ev := recv(t, events)
				require.NotEqual(t, "marker", ev.Name)
				require.Len(t, ev.Attachments, len(tc.bins))
			} else {
				call := recv(t, calls)
				require.Equal(t, len(tc.text)-1, call.size)
				require.Equal(t, tc.event, call.name)
				require.Equal(t, sid, call.sock.ID())
				require.Equal(t, tc.ack != "", call.hasAck)
				if tc.ack != "" {
					require.Equal(t, tc.ack, c.readText())
				}
			}
			require.Equal(t, "marker", recv(t, events).Name)
		})
	}
	// A binary event over the cap closes the connection instead: see
	// TestBinaryReassemblyBounded.
	require.Equal(t, uint64(4), s.Stats().OversizeEvents)
	require.Zero(t, s.Stats().ParseErrors)

	// Removing the cap delivers big events again.
	ns.SetMaxEventBytes(0, nil)
	c.send(`42/g,["big","` + big + `"]`)
	require.Equal(t, "big", recv(t, events).Name)
}

// A malformed header still closes the connection when a cap is set.
func TestMaxEventBytesMalformedHeader(t *testing.T) {
	s, base := startServer(t, Options{})
	s.Of("/").SetMaxEventBytes(8, nil)
	c := dialWS(t, base, "")
	c.readText()
	c.connectNsp("/", "")
	c.send(`450-["` + strings.Repeat("x", 20) + `"]`)
	c.expectClosed()
}

func TestLastActivity(t *testing.T) {
	s, base := startServer(t, Options{})
	socks := make(chan *Socket, 1)
	s.Of("/").OnConnection(func(so *Socket) { socks <- so })
	c := dialWS(t, base, "")
	c.readText()
	c.connectNsp("/", "")
	so := <-socks
	for i, pkt := range []string{"3", `42["x"]`} {
		before := so.LastActivity()
		require.False(t, before.IsZero())
		// Wait until the clock moved past before, so a new stamp is visible.
		eventually(t, func() bool { return time.Now().After(before) }, "clock")
		c.send(pkt)
		eventually(t, func() bool { return so.LastActivity().After(before) }, fmt.Sprintf("packet %d updates LastActivity", i))
	}
}

// recv takes the next value from ch or fails the test after 5s.
func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("nothing received")
		panic("unreachable")
	}
}

func TestPeekEventName(t *testing.T) {
	cases := []struct{ in, want string }{
		{`["hub:send",{}]`, "hub:send"},
		{` [ "a" ]`, "a"},
		{`["",1]`, ""},
		{`["a\"b"]`, ""},
		{`["` + strings.Repeat("n", 128) + `"]`, strings.Repeat("n", 128)},
		{`["` + strings.Repeat("n", 129) + `"]`, ""},
		{`["unterminated`, ""},
		{`[1,"a"]`, ""},
		{`{"a":1}`, ""},
		{``, ""},
		{"[\"\xff\"]", ""},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, peekEventName([]byte(tc.in)), tc.in)
	}
}
