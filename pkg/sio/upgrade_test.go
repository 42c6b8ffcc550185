package sio

import (
	"bufio"
	"fmt"
	"github.com/stretchr/testify/require"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// pipeHijacker is a ResponseWriter whose Hijack hands over one end of a
// pipe; what is written to it is read from the other end.
type pipeHijacker struct {
	*httptest.ResponseRecorder
	server, client net.Conn
}

func (p *pipeHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return p.server, bufio.NewReadWriter(bufio.NewReader(p.server), bufio.NewWriter(p.server)), nil
}

// libraryAccepts runs the WebSocket library's Upgrade on r as the engine
// configures it and reports whether it upgraded, or the status it answered.
func libraryAccepts(t *testing.T, e *Engine, r *http.Request) (bool, int) {
	t.Helper()
	server, client := net.Pipe()
	defer client.Close()
	w := &pipeHijacker{ResponseRecorder: httptest.NewRecorder(), server: server, client: client}
	go func() { _, _ = io.Copy(io.Discard, client) }()
	ws, err := e.up.Upgrade(w, r, nil)
	if err != nil {
		_ = server.Close()
		return false, w.Code
	}
	_ = ws.Close()
	return true, 0
}

// plainUpgrade takes only requests the library accepts, and takes the
// forms real clients send.
func TestPlainUpgradeMatchesLibrary(t *testing.T) {
	const key = "dGhlIHNhbXBsZSBub25jZQ=="
	base := http.Header{
		"Connection": {"Upgrade"}, "Upgrade": {"websocket"},
		"Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {key},
	}
	tests := []struct {
		name   string
		method string
		set    map[string][]string // replaces base headers (nil value: deleted)
		plain  bool
	}{
		{"gorilla and node clients", "GET", nil, true},
		{"browser", "GET", map[string][]string{"Connection": {"keep-alive, Upgrade"}, "Upgrade": {"WebSocket"}, "Origin": {"http://example.test"}}, true},
		{"tokens across lines", "GET", map[string][]string{"Connection": {"keep-alive", "upgrade"}}, true},
		{"spaces and tabs", "GET", map[string][]string{"Connection": {" \tkeep-alive ,\tUPGRADE\t"}}, true},
		{"trailing comma", "GET", map[string][]string{"Connection": {"upgrade,"}}, true},
		{"version list", "GET", map[string][]string{"Sec-Websocket-Version": {"8, 13"}}, true},
		{"extensions offered, compression off", "GET", map[string][]string{"Sec-Websocket-Extensions": {"permessage-deflate; client_max_window_bits"}}, true},
		{"POST", "POST", nil, false},
		{"no Connection", "GET", map[string][]string{"Connection": nil}, false},
		{"Connection close", "GET", map[string][]string{"Connection": {"close"}}, false},
		{"quoted token first", "GET", map[string][]string{"Connection": {`"x", upgrade`}}, false},
		{"empty element first", "GET", map[string][]string{"Connection": {", upgrade"}}, false},
		{"two words", "GET", map[string][]string{"Connection": {"upgrade now"}}, false},
		{"Upgrade h2c", "GET", map[string][]string{"Upgrade": {"h2c"}}, false},
		{"version 8", "GET", map[string][]string{"Sec-Websocket-Version": {"8"}}, false},
		{"no key", "GET", map[string][]string{"Sec-Websocket-Key": nil}, false},
		{"short key", "GET", map[string][]string{"Sec-Websocket-Key": {"dGhlIHNhbXBsZQ=="}}, false},
		{"key not base64", "GET", map[string][]string{"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZ!=="}}, false},
		{"key unpadded", "GET", map[string][]string{"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ"}}, false},
		{"key of 17 bytes", "GET", map[string][]string{"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZTE="}}, false},
		{"origin refused", "GET", map[string][]string{"Origin": {"http://evil.test"}}, false},
	}
	for _, opts := range []struct {
		name string
		o    Options
	}{
		{"default", Options{AllowedOrigins: []string{"http://example.test"}}},
		{"deflate", Options{AllowedOrigins: []string{"http://example.test"}, PerMessageDeflate: true}},
		{"goroutine readers", Options{AllowedOrigins: []string{"http://example.test"}, GoroutineReaders: true}},
	} {
		e := NewEngine(opts.o, nil)
		for _, tc := range tests {
			t.Run(opts.name+"/"+tc.name, func(t *testing.T) {
				r := httptest.NewRequest(tc.method, "/socket.io/?EIO=4&transport=websocket", nil)
				r.Header = base.Clone()
				for k, v := range tc.set {
					if v == nil {
						delete(r.Header, k)
					} else {
						r.Header[k] = v
					}
				}
				gotKey, plain := e.plainUpgrade(r)
				accepted, status := libraryAccepts(t, e, r)
				if plain {
					require.True(t, accepted, "plain path for a request the library refuses with %d", status)
					require.Equal(t, r.Header.Get("Sec-Websocket-Key"), gotKey)
				}
				want := tc.plain && netpollSupported && !opts.o.GoroutineReaders
				if opts.o.PerMessageDeflate && r.Header.Get("Sec-Websocket-Extensions") != "" {
					want = false
				}
				require.Equal(t, want, plain)
			})
		}
	}
}

func TestAppendAccept(t *testing.T) {
	// RFC 6455 section 1.3.
	require.Equal(t, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", string(appendAccept(nil, "dGhlIHNhbXBsZSBub25jZQ==")))
}

func TestAppendTextFrame(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 65535, 65536} {
		p := []byte(strings.Repeat("x", n))
		require.Equal(t, string(textFrame(string(p)).wire()), string(appendTextFrame([]byte("pre"), p))[3:], "%d bytes", n)
	}
}

var sidPattern = regexp.MustCompile(`"sid":"[A-Za-z0-9_-]{20}"`)

// rawHandshake sends a handshake request on a fresh connection and returns
// what the server answers until the open packet is complete.
func rawHandshake(t *testing.T, base, request string) string {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = nc.Close() })
	_, err = io.WriteString(nc, request)
	require.NoError(t, err)
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for !strings.HasSuffix(string(got), `}`) {
		n, err := nc.Read(buf)
		require.NoError(t, err, "read after %q", got)
		got = append(got, buf[:n]...)
	}
	return sidPattern.ReplaceAllString(string(got), `"sid":"SID"`)
}

// The handshake answered without the library is the library's byte for
// byte (the 101 and the open packet), and the session works.
func TestHandshakePlainWire(t *testing.T) {
	const request = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n" +
		"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
	_, plainURL := startServer(t, Options{})
	_, libURL := startServer(t, Options{GoroutineReaders: true})
	got := rawHandshake(t, plainURL, request)
	want := rawHandshake(t, libURL, request)
	require.Equal(t, want, got)
	require.True(t, strings.HasPrefix(got, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81"), "%q", got)

	srv, u := startServer(t, Options{})
	srv.Of("/")
	c := dialWS(t, u, "")
	open := c.readText()
	require.True(t, strings.HasPrefix(open, `0{"sid":"`), open)
	c.connectNsp("/", "")
	conn := srv.engine.lookupAny(t)
	require.NotNil(t, conn.nr.Load(), "read by the network poller")
}

// A client that sends data before the 101 is dropped, as the library drops it.
func TestHandshakePlainEarlyData(t *testing.T) {
	_, u := startServer(t, Options{})
	nc, err := net.Dial("tcp", strings.TrimPrefix(u, "http://"))
	require.NoError(t, err)
	defer nc.Close()
	_, err = fmt.Fprintf(nc, "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"+
		"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n\x81\x80abcd")
	require.NoError(t, err)
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := io.ReadAll(nc)
	require.NoError(t, err)
	require.Empty(t, b)
}

// The HTTP server's read and write deadlines end with the upgrade, as the
// library clears them: a WebSocket on a server with short timeouts still
// reads and writes after them.
func TestUpgradeClearsServerDeadlines(t *testing.T) {
	s := NewServer(Options{})
	hs := httptest.NewUnstartedServer(s)
	hs.Config.ReadTimeout, hs.Config.WriteTimeout = 100*time.Millisecond, 100*time.Millisecond
	hs.Start()
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
	})
	s.Of("/").OnEvent(func(so *Socket, ev *Event) { _ = so.Emit("echo", "late") })
	w := dialWS(t, hs.URL, "")
	require.True(t, strings.HasPrefix(w.readText(), "0{"))
	w.connectNsp("/", "")
	time.Sleep(300 * time.Millisecond) // past both timeouts
	w.send(`42["echo","late"]`)
	require.Equal(t, `42["echo","late"]`, w.readText())
}
