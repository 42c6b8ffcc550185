package sio

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// TestReadersRefuseHostileFrames: violations spread over several frames,
// or hidden in a header field, get the same close code and disconnect
// reason from the poller as from the WebSocket library's reader.
func TestReadersRefuseHostileFrames(t *testing.T) {
	for _, rc := range readerCases {
		t.Run(rc.name, func(t *testing.T) { testRefuseHostileFrames(t, rc.opts) })
	}
}

func testRefuseHostileFrames(t *testing.T, opts Options) {
	join := func(fs ...[]byte) []byte { return bytes.Join(fs, nil) }
	hugeLength := []byte{wsFinBit | opBinary, wsMaskBit | 127, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}
	cases := []struct {
		name   string
		frame  []byte
		code   int
		reason string
		// libCode, when set, is the library reader's code where it
		// differs: on a negative length it reports its read limit
		// exceeded without sending a close frame.
		libCode int
	}{
		{"a new message inside a fragmented one", join(clientFrame(opText, []byte(`42["e",`), false), text(`42["x"]`)), wsProtocolError, "transport error", 0},
		{"continuation after the final fragment", join(text(`42["e"]`), clientFrame(wsFinBit|opContinuation, []byte("x"), false)), wsProtocolError, "transport error", 0},
		{"unmasked continuation", join(clientFrame(opText, []byte(`42["e",`), false), clientFrame(wsFinBit|opContinuation, []byte(`"x"]`), true)), wsProtocolError, "transport error", 0},
		{"RSV3 on a continuation", join(clientFrame(opText, []byte(`42["e",`), false), clientFrame(wsFinBit|0x10|opContinuation, []byte(`"x"]`), false)), wsProtocolError, "transport error", 0},
		{"reserved control opcode", clientFrame(wsFinBit|0xB, nil, false), wsProtocolError, "transport error", 0},
		{"64-bit length with the top bit set", hugeLength, wsProtocolError, "transport error", websocket.CloseAbnormalClosure},
		{"invalid UTF-8 split across fragments", join(clientFrame(opText, []byte("42[\"\xe2\x82"), false), clientFrame(wsFinBit|opContinuation, []byte("(\"]"), false)), wsInvalidPayload, "transport error", 0},
		{"close with a reason not in UTF-8", clientFrame(wsFinBit|opClose, []byte{0x03, 0xE8, 0xff}, false), wsProtocolError, "transport error", 0},
		{"close with reserved code 1005", clientFrame(wsFinBit|opClose, []byte{0x03, 0xED}, false), wsProtocolError, "transport error", 0},
		// A client's close is echoed (TestClientCloseIsEchoed).
		{"close without a code", clientFrame(wsFinBit|opClose, nil, false), websocket.CloseNoStatusReceived, "transport close", 0},
		{"close with a code and a reason", clientFrame(wsFinBit|opClose, []byte{0x0F, 0xA0, 'b', 'y', 'e'}, false), 4000, "transport close", 0},
		{"ping between fragments over maxPayload", join(clientFrame(opBinary, make([]byte, 600), false), clientFrame(wsFinBit|opPing, nil, false), clientFrame(wsFinBit|opContinuation, make([]byte, 600), false)), wsMessageTooBig, "transport error", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts.MaxPayload = 1000
			_, c, reasons := joinedRaw(t, opts)
			_, err := c.nc.Write(tc.frame)
			require.NoError(t, err)
			want := tc.code
			if opts.GoroutineReaders && tc.libCode != 0 {
				want = tc.libCode
			}
			code, _ := c.closeCode()
			require.Equal(t, want, code)
			require.Equal(t, tc.reason, recv(t, reasons))
		})
	}
}

// TestReadersAcceptLegalSplits: a character cut between two fragments, a
// message of several fragments each larger than the poller's buffer and a
// frame cut in many writes arrive whole with either reader.
func TestReadersAcceptLegalSplits(t *testing.T) {
	for _, rc := range readerCases {
		t.Run(rc.name, func(t *testing.T) { testAcceptLegalSplits(t, rc.opts) })
	}
}

func testAcceptLegalSplits(t *testing.T, opts Options) {
	big := strings.Repeat("y", 300_000)
	bigFrame := text(`42/g,["e","` + big + `"]`)
	cases := []struct {
		name   string
		writes [][]byte
		want   string
	}{
		{"a character cut between fragments", [][]byte{
			clientFrame(opText, []byte("42/g,[\"e\",\"\xe2\x82"), false),
			clientFrame(wsFinBit|opContinuation, []byte("\xac\"]"), false),
		}, `"€"`},
		{"fragments larger than the poller's buffer", [][]byte{
			clientFrame(opText, []byte(`42/g,["e","`+big[:100_000]), false),
			clientFrame(opContinuation, []byte(big[100_000:]), false),
			clientFrame(wsFinBit|opContinuation, []byte(`"]`), false),
		}, `"` + big + `"`},
		{"a 300 kB frame in many writes", splitEvery(bigFrame, 7, 1000, 150_000), `"` + big + `"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, got := eventClient(t, opts)
			for _, w := range tc.writes {
				_, err := c.nc.Write(w)
				require.NoError(t, err)
			}
			require.Equal(t, tc.want, recv(t, got))
		})
	}
}

// eventClient is a raw client joined to /g on a new server, and the first
// argument of each event that namespace receives.
func eventClient(t *testing.T, opts Options) (*frameClient, <-chan string) {
	t.Helper()
	s, base := startServer(t, opts)
	got := make(chan string, 8)
	s.Of("/g").OnEvent(func(_ *Socket, ev *Event) { got <- string(ev.Args[0]) })
	c := dialRaw(t, base, "")
	c.readText()
	_, err := c.nc.Write(text("40/g,"))
	require.NoError(t, err)
	c.readText()
	return c, got
}

// splitEvery cuts p at the given offsets and at the end.
func splitEvery(p []byte, cuts ...int) [][]byte {
	var out [][]byte
	prev := 0
	for _, c := range cuts {
		out = append(out, p[prev:c])
		prev = c
	}
	return append(out, p[prev:])
}

// TestReadersTimeOutMidFrame: a client that declares a large message,
// sends a few bytes of it and goes silent is dropped by the heartbeat with
// either reader.
func TestReadersTimeOutMidFrame(t *testing.T) {
	for _, rc := range readerCases {
		t.Run(rc.name, func(t *testing.T) {
			opts := rc.opts
			opts.PingInterval, opts.PingTimeout = 100*time.Millisecond, 200*time.Millisecond
			_, c, reasons := joinedRaw(t, opts)
			f := clientFrame(wsFinBit|opBinary, make([]byte, 900_000), false)
			_, err := c.nc.Write(f[:14+10])
			require.NoError(t, err)
			require.Equal(t, "ping timeout", recv(t, reasons))
		})
	}
}

// TestReadersClientGoneMidFrame: a client whose TCP connection ends in the
// middle of a frame's header or payload is disconnected with reason
// "transport close" by either reader.
func TestReadersClientGoneMidFrame(t *testing.T) {
	f := text(`42["e","` + strings.Repeat("z", 300) + `"]`)
	for _, rc := range readerCases {
		for _, cut := range []int{1, 3, 100} {
			t.Run(fmt.Sprintf("%s/after %d bytes", rc.name, cut), func(t *testing.T) {
				_, c, reasons := joinedRaw(t, rc.opts)
				_, err := c.nc.Write(f[:cut])
				require.NoError(t, err)
				require.NoError(t, c.nc.(*net.TCPConn).CloseWrite())
				require.Equal(t, "transport close", recv(t, reasons))
			})
		}
	}
}

// joinedRaw starts a server and joins "/" with a frameClient; it returns
// both and the channel of the disconnect reasons.
func joinedRaw(t *testing.T, opts Options) (*Server, *frameClient, <-chan string) {
	t.Helper()
	s, base := startServer(t, opts)
	reasons := make(chan string, 1)
	s.Of("/").OnDisconnect(func(_ *Socket, reason string) { reasons <- reason })
	c := dialRaw(t, base, "")
	c.readText()
	c.connectNsp("/", "")
	// A client's close frame is echoed only while the writer is idle
	// (TestCloseEchoWaitsForNoWriter): let the CONNECT reply's finish.
	eventually(t, func() bool { return writersIdle(s) }, "the writer is idle")
	return s, c, reasons
}
