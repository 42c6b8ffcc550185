package sio

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// frameClient is a WebSocket client whose frames are written byte for byte
// by the test (masked or not, fragmented, split across writes); the
// server's frames are read with the WebSocket library.
type frameClient struct {
	*wsClient
	nc net.Conn
}

func dialRaw(t *testing.T, base, query string) *frameClient {
	t.Helper()
	u, err := url.Parse("ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket" + query)
	require.NoError(t, err)
	nc, err := net.Dial("tcp", u.Host)
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	ws, _, err := websocket.NewClient(nc, u, nil, 1024, 1024)
	require.NoError(t, err)
	return &frameClient{wsClient: &wsClient{t: t, c: ws}, nc: nc}
}

// clientFrame builds a frame as a client sends it: b0 is FIN|RSV|opcode,
// the payload is masked unless unmasked.
func clientFrame(b0 byte, payload []byte, unmasked bool) []byte {
	out := []byte{b0, 0}
	switch n := len(payload); {
	case n < 126:
		out[1] = byte(n)
	case n < 1<<16:
		out[1] = 126
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out[1] = 127
		out = binary.BigEndian.AppendUint64(out, uint64(n))
	}
	if unmasked {
		return append(out, payload...)
	}
	out[1] |= wsMaskBit
	key := []byte{0x12, 0x34, 0x56, 0x78}
	out = append(out, key...)
	start := len(out)
	out = append(out, payload...)
	maskWS(key, out[start:])
	return out
}

func text(s string) []byte { return clientFrame(wsFinBit|opText, []byte(s), false) }

// TestReadersReadFrames: what a client may legally send arrives whole and
// in order, however it is cut into frames and writes, with either reader.
func TestReadersReadFrames(t *testing.T) {
	for _, rc := range readerCases {
		t.Run(rc.name, func(t *testing.T) { testReadFrames(t, rc.opts) })
	}
}

func testReadFrames(t *testing.T, opts Options) {
	long := `42/g,["e","` + strings.Repeat("x", 70_000) + `"]`
	cases := []struct {
		name   string
		writes func() [][]byte
		want   []string // event args received, in order
		pong   string   // payload of the pong expected, if a ping is sent
	}{
		{"frames in one write", func() [][]byte {
			return [][]byte{bytes.Join([][]byte{text(`42/g,["e","a"]`), text(`42/g,["e","b"]`), text(`42/g,["e","c"]`)}, nil)}
		}, []string{`"a"`, `"b"`, `"c"`}, ""},
		{"a frame byte by byte", func() [][]byte {
			var w [][]byte
			for _, b := range text(`42/g,["e","slow"]`) {
				w = append(w, []byte{b})
			}
			return w
		}, []string{`"slow"`}, ""},
		{"fragments with a ping between them", func() [][]byte {
			return [][]byte{
				clientFrame(opText, []byte(`42/g,["e",`), false),
				clientFrame(wsFinBit|opPing, []byte("hi"), false),
				clientFrame(opContinuation, []byte(`"frag`), false),
				clientFrame(wsFinBit|opContinuation, []byte(`mented"]`), false),
			}
		}, []string{`"fragmented"`}, "hi"},
		{"a frame larger than the poller's buffer, in pieces", func() [][]byte {
			f := text(long)
			return [][]byte{f[:3], f[3:40_000], f[40_000:]}
		}, []string{`"` + strings.Repeat("x", 70_000) + `"`}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, got := eventClient(t, opts)
			pong := make(chan string, 1)
			c.c.SetPongHandler(func(p string) error { pong <- p; return nil })
			for _, w := range tc.writes() {
				_, err := c.nc.Write(w)
				require.NoError(t, err)
			}
			for _, want := range tc.want {
				require.Equal(t, want, recv(t, got))
			}
			if tc.pong != "" {
				go func() { _, _, _ = c.c.ReadMessage() }() // pongs are read by the library's reader
				require.Equal(t, tc.pong, recv(t, pong))
			}
		})
	}
}

// TestReadersRefuseBadFrames: each protocol violation gets the same close
// code and disconnect reason from the poller as from the WebSocket
// library's reader.
func TestReadersRefuseBadFrames(t *testing.T) {
	for _, rc := range readerCases {
		t.Run(rc.name, func(t *testing.T) { testRefuseBadFrames(t, rc.opts) })
	}
}

func testRefuseBadFrames(t *testing.T, opts Options) {
	cases := []struct {
		name   string
		frame  []byte
		code   int
		reason string
	}{
		{"RSV1 without an extension", clientFrame(wsFinBit|0x40|opText, []byte("42[]"), false), wsProtocolError, "transport error"},
		{"unmasked client frame", clientFrame(wsFinBit|opText, []byte("42[]"), true), wsProtocolError, "transport error"},
		{"reserved opcode", clientFrame(wsFinBit|0x3, []byte("x"), false), wsProtocolError, "transport error"},
		{"continuation of nothing", clientFrame(wsFinBit|opContinuation, []byte("x"), false), wsProtocolError, "transport error"},
		{"fragmented ping", clientFrame(opPing, []byte("x"), false), wsProtocolError, "transport error"},
		{"control frame over 125 bytes", clientFrame(wsFinBit|opPing, make([]byte, 126), false), wsProtocolError, "transport error"},
		{"close with an invalid code", clientFrame(wsFinBit|opClose, []byte{0x03, 0xED}, false), wsProtocolError, "transport error"},
		{"close (echoed)", clientFrame(wsFinBit|opClose, []byte{0x03, 0xE8}, false), websocket.CloseNormalClosure, "transport close"},
		{"length over maxPayload, before the payload", clientFrame(wsFinBit|opBinary, make([]byte, 3000), false)[:12], wsMessageTooBig, "transport error"},
		{"fragments adding up to over maxPayload", append(clientFrame(opBinary, make([]byte, 600), false), clientFrame(wsFinBit|opContinuation, make([]byte, 600), false)...), wsMessageTooBig, "transport error"},
		{"invalid UTF-8", text("42[\"\xff\"]"), wsInvalidPayload, "transport error"},
		{"not an Engine.IO packet", text("9"), websocket.CloseAbnormalClosure, "parse error"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts.MaxPayload = 1000
			s, base := startServer(t, opts)
			reasons := make(chan string, 1)
			s.Of("/").OnDisconnect(func(_ *Socket, reason string) { reasons <- reason })
			c := dialRaw(t, base, "")
			c.readText()
			c.connectNsp("/", "")
			// A close frame is echoed only while the writer is idle
			// (TestCloseEchoWaitsForNoWriter): let the CONNECT reply's finish.
			eventually(t, func() bool { return writersIdle(s) }, "the writer is idle")
			_, err := c.nc.Write(tc.frame)
			require.NoError(t, err)
			code, _ := c.closeCode()
			require.Equal(t, tc.code, code)
			require.Equal(t, tc.reason, recv(t, reasons))
		})
	}
}

// TestUpgradeLeftoverReachesPoller: packets the client writes together
// with the upgrade's "5" are handled on the WebSocket, in order.
func TestUpgradeLeftoverReachesPoller(t *testing.T) {
	s, base := startServer(t, Options{})
	got := make(chan string, 4)
	s.Of("/").OnEvent(func(so *Socket, ev *Event) { got <- ev.Name + ":" + so.Transport() })
	sid := pollingSession(t, base)
	code, _ := httpPost(t, pollURL(base, sid), "40")
	require.Equal(t, 200, code)
	_, body := httpGet(t, pollURL(base, sid))
	require.True(t, strings.HasPrefix(body, "40"), body)
	c := dialRaw(t, base, "&sid="+sid)
	_, err := c.nc.Write(text("2probe"))
	require.NoError(t, err)
	require.Equal(t, "3probe", c.readText())
	_, err = c.nc.Write(bytes.Join([][]byte{text("5"), text(`42["a"]`), text(`42["b"]`)}, nil))
	require.NoError(t, err)
	require.Equal(t, "a:websocket", recv(t, got))
	require.Equal(t, "b:websocket", recv(t, got))
	require.NotNil(t, s.engine.lookup(sid).nr.Load(), "read on the poller")
}

// TestIdleConnectionsHoldNoGoroutine: connections that joined a namespace
// and went quiet hold no goroutine each on the poller, one each with
// goroutine readers.
func TestIdleConnectionsHoldNoGoroutine(t *testing.T) {
	const n = 40
	for _, tc := range readerCases {
		t.Run(tc.name, func(t *testing.T) {
			s, base := startServer(t, tc.opts)
			s.Of("/g")
			before := settledGoroutines()
			for range n {
				c := dialWS(t, base, "")
				c.readText()
				c.connectNsp("/g", "")
			}
			idle := func() bool { return runtime.NumGoroutine() < before+n/4 }
			if tc.opts.GoroutineReaders {
				// One reader goroutine each (a count of all goroutines
				// would also count, or miss, the engine's own).
				idle = func() bool { return goroutinesWith("sio.(*EngineConn).readWebSocket(") == n }
			}
			eventually(t, idle, "goroutines once the connections are idle")
			require.Equal(t, n, s.engine.ConnCount())
		})
	}
}

// settledGoroutines is the goroutine count once it stopped falling: the
// goroutines of connections an earlier test closed end a little later.
func settledGoroutines() int {
	n := runtime.NumGoroutine()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		m := runtime.NumGoroutine()
		if m >= n {
			return m
		}
		n = m
	}
	return n
}

// TestPollerEchoesAfterPause: a connection paused by a full inbox reads
// again once it drains, and what it sends meanwhile is not lost.
func TestPollerEchoesAfterPause(t *testing.T) {
	s, base := startServer(t, Options{})
	release := make(chan struct{})
	got := make(chan json.RawMessage, 4*maxInbox)
	s.Of("/g").OnEvent(func(_ *Socket, ev *Event) {
		if ev.Name == "stuck" {
			<-release
			return
		}
		got <- ev.Args[0]
	})
	c := dialRaw(t, base, "")
	c.readText()
	_, err := c.nc.Write(text("40/g,"))
	require.NoError(t, err)
	c.readText()
	var all [][]byte
	all = append(all, text(`42/g,["stuck"]`))
	const total = 3 * maxInbox
	for i := range total {
		all = append(all, text(`42/g,["e",`+strings.Repeat(" ", i%7)+string(rune('0'+i%10))+`]`))
	}
	_, err = c.nc.Write(bytes.Join(all, nil))
	require.NoError(t, err)
	conn := s.engine.lookupAny(t)
	eventually(t, func() bool {
		r := conn.nr.Load()
		return inboxLen(conn) == maxInbox && r != nil
	}, "the inbox fills and the reader pauses")
	close(release)
	for i := range total {
		require.Equal(t, string(rune('0'+i%10)), string(recv(t, got)))
	}
}

// TestClientCloseIsEchoed: a client's close frame is answered with one
// carrying the same status (none when it sent none), as RFC 6455 5.5.1
// asks, with either reader: the client's close completes cleanly instead
// of ending in 1006.
func TestClientCloseIsEchoed(t *testing.T) {
	for _, rc := range readerCases {
		t.Run(rc.name, func(t *testing.T) {
			for _, tc := range []struct {
				name    string
				payload []byte
				want    []byte
			}{
				{"with a status", []byte{0x03, 0xE8, 'b', 'y', 'e'}, []byte{0x88, 2, 0x03, 0xE8}},
				{"a going-away status", []byte{0x03, 0xE9}, []byte{0x88, 2, 0x03, 0xE9}},
				{"without a status", nil, []byte{0x88, 0}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					_, base := startServer(t, rc.opts)
					c := dialRaw(t, base, "")
					c.readText() // the open packet
					_, err := c.nc.Write(clientFrame(wsFinBit|opClose, tc.payload, false))
					require.NoError(t, err)
					// Whatever the server wrote before, then its close frame.
					_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
					all, _ := io.ReadAll(c.nc)
					require.True(t, bytes.HasSuffix(all, tc.want), "the server's last bytes %x, want %x", all, tc.want)
				})
			}
		})
	}
}

// writersIdle reports whether no connection of s has a writer with data in
// flight (sendClose's condition for echoing a close frame).
func writersIdle(s *Server) bool {
	s.engine.mu.RLock()
	defer s.engine.mu.RUnlock()
	for _, c := range s.engine.conns {
		c.wmu.Lock()
		busy := c.writing && !(c.parked && c.qh == len(c.q))
		c.wmu.Unlock()
		if busy {
			return false
		}
	}
	return true
}
