package sio

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// eventually polls cond until it holds or fails the test after 5s.
func eventually(t *testing.T, cond func() bool, msg string) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, 5*time.Millisecond, msg)
}

func startServer(t *testing.T, opts Options) (*Server, string) {
	t.Helper()
	s := NewServer(opts)
	hs := httptest.NewServer(s)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
	})
	return s, hs.URL
}

type wsClient struct {
	t *testing.T
	c *websocket.Conn
}

func dialWS(t *testing.T, base, query string) *wsClient {
	t.Helper()
	u := wsURL(base, query)
	c, _, err := websocket.DefaultDialer.Dial(u, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return &wsClient{t: t, c: c}
}

// connectRoot dials s over WebSocket and connects the root namespace; it
// returns the client and the server's socket.
func connectRoot(t *testing.T, s *Server, base string) (*wsClient, *Socket) {
	t.Helper()
	sockets := make(chan *Socket, 1)
	s.Of("/").OnConnection(func(so *Socket) { sockets <- so })
	w := dialWS(t, base, "")
	require.True(t, strings.HasPrefix(w.readText(), "0{"))
	w.connectNsp("/", "")
	return w, <-sockets
}

// read returns the next message, skipping pings.
func (w *wsClient) read() (string, bool) {
	w.t.Helper()
	for {
		_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		mt, b, err := w.c.ReadMessage()
		require.NoError(w.t, err)
		if mt == websocket.TextMessage && string(b) == "2" {
			continue
		}
		return string(b), mt == websocket.BinaryMessage
	}
}

func (w *wsClient) readText() string {
	w.t.Helper()
	s, bin := w.read()
	require.False(w.t, bin, "unexpected binary message")
	return s
}

func (w *wsClient) send(s string) {
	w.t.Helper()
	require.NoError(w.t, w.c.WriteMessage(websocket.TextMessage, []byte(s)))
}

// expectClosed waits for the server to close the connection.
func (w *wsClient) expectClosed() {
	w.t.Helper()
	for {
		_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := w.c.ReadMessage()
		if err != nil {
			var ne interface{ Timeout() bool }
			if ok := asTimeout(err, &ne); ok && ne.Timeout() {
				w.t.Fatal("connection not closed")
			}
			return
		}
	}
}

func asTimeout(err error, ne *interface{ Timeout() bool }) bool {
	v, ok := err.(interface{ Timeout() bool })
	if ok {
		*ne = v
	}
	return ok
}

// connectNsp opens a WebSocket session and connects to nsp; it returns the
// Socket.IO sid.
func (w *wsClient) connectNsp(nsp, auth string) string {
	w.t.Helper()
	prefix := "40"
	if nsp != "/" {
		prefix += nsp + ","
	}
	w.send(prefix + auth)
	got := w.readText()
	require.True(w.t, strings.HasPrefix(got, prefix+`{"sid":"`), got)
	return strings.TrimSuffix(strings.TrimPrefix(got, prefix+`{"sid":"`), `"}`)
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func httpPost(t *testing.T, u, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(u, "text/plain;charset=UTF-8", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func newBenchHTTP(b *testing.B, h http.Handler) string {
	b.Helper()
	hs := httptest.NewServer(h)
	b.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
	})
	return hs.URL
}

// pollHandshake opens a polling session and returns its sid.
func pollHandshake(t *testing.T, base string) string {
	t.Helper()
	code, body := httpGet(t, base+"/socket.io/?EIO=4&transport=polling")
	require.Equal(t, http.StatusOK, code)
	var open struct {
		SID string `json:"sid"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(body, "0")), &open))
	return open.SID
}

// pollURL is the polling endpoint of session sid.
func pollURL(base, sid string) string {
	return base + "/socket.io/?EIO=4&transport=polling&sid=" + sid
}

// lookupAny returns the engine's only connection.
func (e *Engine) lookupAny(t *testing.T) *EngineConn {
	t.Helper()
	var c *EngineConn
	eventually(t, func() bool {
		e.mu.RLock()
		defer e.mu.RUnlock()
		for _, x := range e.conns {
			c = x
		}
		return len(e.conns) == 1
	}, "one connection")
	return c
}

// wsURL is the WebSocket transport's URL on the server at base (http://...),
// with query appended ("&k=v...").
func wsURL(base, query string) string {
	return "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket" + query
}

// goroutinesWith counts the goroutines whose stacks name every one of fns.
func goroutinesWith(fns ...string) int {
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		all := true
		for _, fn := range fns {
			all = all && bytes.Contains(g, []byte(fn))
		}
		if all {
			n++
		}
	}
	return n
}
