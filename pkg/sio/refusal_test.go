package sio

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// refusalCounter records what Options.OnRefuse reports.
type refusalCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (r *refusalCounter) add(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = make(map[string]int)
	}
	r.n[reason]++
}

func (r *refusalCounter) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.n)
}

// requireOne checks that exactly one refusal, reason, was reported since before.
func (r *refusalCounter) requireOne(t *testing.T, before map[string]int, reason string) {
	t.Helper()
	want := maps.Clone(before)
	if want == nil {
		want = map[string]int{}
	}
	want[reason]++
	// Polled: a close frame of the WebSocket library may reach the client
	// before the refusal is reported.
	require.Eventually(t, func() bool { return maps.Equal(want, r.snapshot()) }, 5*time.Second, 5*time.Millisecond)
	require.Equal(t, want, r.snapshot())
}

// Limits of the hostile-input server.
const (
	hostileMaxPayload = 200_000
	hostileEventCap   = 4096
)

// startHostileServer serves "/g" (event cap hostileEventCap), "/h" (no cap)
// and "/n1".."/n9", with at most 3 namespaces per connection and timeout
// as both the attachment and the connect timeout.
func startHostileServer(t *testing.T, timeout time.Duration) (*Server, string, *refusalCounter) {
	t.Helper()
	rc := &refusalCounter{}
	s, base := startServer(t, Options{
		MaxPayload: hostileMaxPayload, AttachmentTimeout: timeout,
		ConnectTimeout: timeout, MaxNamespaces: 3, OnRefuse: rc.add,
	})
	s.Of("/g").SetMaxEventBytes(hostileEventCap, func(so *Socket, ev *Event, _ int) {
		_ = so.Emit("too-large", ev.Name)
	})
	s.Of("/h")
	for i := 1; i <= 9; i++ {
		s.Of(fmt.Sprintf("/n%d", i))
	}
	return s, base, rc
}

// closeCode reads until the server ends the connection and returns the
// WebSocket close code (1006 when the TCP connection was closed without a
// close frame) and the text messages received before, pings left out.
func (w *wsClient) closeCode() (int, []string) {
	w.t.Helper()
	var got []string
	for {
		_ = w.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		mt, b, err := w.c.ReadMessage()
		if err == nil {
			if mt == websocket.TextMessage && string(b) != "2" {
				got = append(got, string(b))
			}
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, got
		}
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			w.t.Fatal("connection not closed")
		}
		return websocket.CloseAbnormalClosure, got // reset by the server
	}
}

func (w *wsClient) sendBinary(b []byte) {
	w.t.Helper()
	// The server may close while a large frame is written: the reaction
	// is read afterwards.
	_ = w.c.WriteMessage(websocket.BinaryMessage, b)
}

// ph is a binary event header on nsp ("" for "/") with n attachments and
// extra placed before the placeholders.
func ph(nsp string, n int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "45%d-", n)
	if nsp != "" {
		b.WriteString(nsp + ",")
	}
	b.WriteString(`["bin"` + extra)
	for i := range n {
		fmt.Fprintf(&b, `,{"_placeholder":true,"num":%d}`, i)
	}
	return b.String() + "]"
}

// The WebSocket catalogue of hostile and malformed packets: each case runs
// on its own connection and checks the exact reaction (close code, or the
// connection kept) and the one refusal reported.
func TestHostileWebSocketCatalogue(t *testing.T) {
	// Timeouts long enough not to overtake any other reaction on a loaded
	// machine, and short ones for the cases that wait for them.
	_, base, rc := startHostileServer(t, 10*time.Second)
	_, quickBase, quickRC := startHostileServer(t, 300*time.Millisecond)
	type msg struct {
		text string
		bin  []byte
	}
	txt := func(s string) msg { return msg{text: s} }
	bin := func(n int) msg { return msg{bin: make([]byte, n)} }
	cases := []struct {
		name   string
		join   []string // namespaces joined first
		send   []msg
		reason string
		code   int  // close code; 0: the connection stays open
		wait   bool // the reaction comes after a timeout
	}{
		{name: "invalid UTF-8 text frame", send: []msg{txt("42[\"e\",\"\xff\xfe\"]")}, reason: RefuseInvalidUTF8, code: 1007},
		{name: "invalid UTF-8 after a namespace", join: []string{"/h"}, send: []msg{txt("42/h,[\"e\",\"\xc3\x28\"]")}, reason: RefuseInvalidUTF8, code: 1007},
		{name: "overlong UTF-8 encoding", send: []msg{txt("4\xc0\xaf")}, reason: RefuseInvalidUTF8, code: 1007},
		{name: "unknown Engine.IO type", send: []msg{txt("9")}, reason: RefuseParseError, code: 1006},
		{name: "empty text frame", send: []msg{txt("")}, reason: RefuseParseError, code: 1006},
		{name: "unknown Socket.IO type", send: []msg{txt("47")}, reason: RefuseParseError, code: 1006},
		{name: "unknown Socket.IO type, letters", send: []msg{txt("4abc")}, reason: RefuseParseError, code: 1006},
		{name: "event payload that is an object", join: []string{"/h"}, send: []msg{txt(`42/h,{}`)}, reason: RefuseParseError, code: 1006},
		{name: "ack id that is not a number", join: []string{"/h"}, send: []msg{txt(`42/h,abc["m",1]`)}, reason: RefuseParseError, code: 1006},
		{name: "truncated JSON", join: []string{"/h"}, send: []msg{txt(`42/h,["e",{"a":`)}, reason: RefuseParseError, code: 1006},
		{name: "event name not a string", join: []string{"/h"}, send: []msg{txt(`42/h,[1,2]`)}, reason: RefuseParseError, code: 1006},
		{name: "JSON too deep", send: []msg{txt(`42["e",` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `]`)}, reason: RefuseParseError, code: 1006},
		{name: "CONNECT_ERROR from a client", send: []msg{txt(`44{"message":"x"}`)}, reason: RefuseParseError, code: 1006},
		{name: "zero attachments", send: []msg{txt(`450-["e"]`)}, reason: RefuseParseError, code: 1006},
		{name: "placeholder out of range", send: []msg{txt(`451-["e",{"_placeholder":true,"num":1}]`)}, reason: RefuseParseError, code: 1006},
		{name: "attachment nobody expects", send: []msg{bin(8)}, reason: RefuseParseError, code: 1006},
		{name: "text while attachments are expected", join: []string{"/h"}, send: []msg{txt(ph("/h", 2, "")), bin(8), txt(`42/h,["e"]`)}, reason: RefuseParseError, code: 1006},
		{name: "11 attachments", send: []msg{txt(ph("", 11, ""))}, reason: RefuseTooManyAttachments, code: 1006},
		{name: "attachment count of 5 digits", send: []msg{txt(`4599999-["e"]`)}, reason: RefuseTooManyAttachments, code: 1006},
		{name: "namespace name over 256 bytes", send: []msg{txt(`40/` + strings.Repeat("n", 300) + `,{}`)}, reason: RefuseNamespaceTooLong, code: 1008},
		{name: "frame over MaxPayload", send: []msg{bin(hostileMaxPayload + 1)}, reason: RefusePayloadTooLarge, code: 1009},
		{name: "binary before CONNECT past 64 KiB", send: []msg{txt(ph("", 10, "")), bin(40 << 10), bin(40 << 10)}, reason: RefuseBinaryBeforeConnect, code: 1009},
		{name: "binary to a namespace not joined", join: []string{"/h"}, send: []msg{txt(ph("/n1", 1, "")), bin(65 << 10)}, reason: RefuseBinaryBeforeConnect, code: 1009},
		{name: "binary total over MaxPayload", join: []string{"/h"}, send: []msg{txt(ph("/h", 3, "")), bin(90_000), bin(90_000), bin(90_000)}, reason: RefuseBinaryTooLarge, code: 1009},
		{name: "attachment over the event cap", join: []string{"/g"}, send: []msg{txt(ph("/g", 1, "")), bin(hostileEventCap)}, reason: RefuseBinaryTooLarge, code: 1009},
		{name: "binary text part over the event cap", join: []string{"/g"}, send: []msg{txt(ph("/g", 1, `,"`+strings.Repeat("x", hostileEventCap)+`"`))}, reason: RefuseBinaryTooLarge, code: 1009},
		{name: "last attachment never sent", join: []string{"/h"}, send: []msg{txt(ph("/h", 2, "")), bin(8)}, reason: RefuseBinaryTimeout, code: 1008, wait: true},
		{name: "no namespace joined in time", reason: RefuseConnectTimeout, code: 1006, wait: true},
		{name: "too many namespaces", join: []string{"/n1", "/n2", "/n3"}, send: []msg{txt(`40/n4,`)}, reason: RefuseTooManyNamespaces},
		{name: "text event over the event cap", join: []string{"/g"}, send: []msg{txt(`42/g,["big","` + strings.Repeat("x", hostileEventCap) + `"]`)}, reason: RefuseEventTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			base, rc := base, rc
			if tc.wait {
				base, rc = quickBase, quickRC
			}
			before := rc.snapshot()
			c := dialWS(t, base, "")
			c.readText()
			for _, nsp := range tc.join {
				c.connectNsp(nsp, "")
			}
			for _, m := range tc.send {
				if m.bin != nil {
					c.sendBinary(m.bin)
				} else {
					_ = c.c.WriteMessage(websocket.TextMessage, []byte(m.text))
				}
			}
			if tc.code == 0 {
				switch tc.reason {
				case RefuseTooManyNamespaces:
					require.Equal(t, `44/n4,{"message":"Too many namespaces"}`, c.readText())
				case RefuseEventTooLarge:
					require.Equal(t, `42/g,["too-large","big"]`, c.readText())
				}
				// Still open: leaving a namespace frees a place for another.
				c.send(`41` + tc.join[0] + `,`)
				c.send(`40/n9,`)
				require.True(t, strings.HasPrefix(c.readText(), `40/n9,{"sid":`), "the connection is kept")
				rc.requireOne(t, before, tc.reason)
				return
			}
			start := time.Now()
			code, got := c.closeCode()
			require.Equal(t, tc.code, code)
			require.Empty(t, got, "nothing is answered before the close")
			if !tc.wait {
				require.Less(t, time.Since(start), 5*time.Second, "closed at once, not by a timeout")
			}
			rc.requireOne(t, before, tc.reason)
		})
	}
}

// A namespace refused as too long is not echoed in any form, on polling
// as on WebSocket.
func TestNamespaceTooLongNotEchoed(t *testing.T) {
	_, base, rc := startHostileServer(t, 10*time.Second)
	name := strings.Repeat("q", MaxNamespaceLen+1)
	sid := pollHandshake(t, base)
	status, body := httpPost(t, pollURL(base, sid), "40/"+name+",")
	require.Equal(t, http.StatusBadRequest, status)
	require.NotContains(t, body, name)
	status, body = httpGet(t, pollURL(base, sid))
	require.Equal(t, http.StatusBadRequest, status, "the session is closed")
	require.NotContains(t, body, name)
	rc.requireOne(t, nil, RefuseNamespaceTooLong)
}

// The polling path refuses what the WebSocket path does: the POST gets an
// error status and the session is closed.
func TestHostilePollingCatalogue(t *testing.T) {
	s, base, rc := startHostileServer(t, 10*time.Second)
	b64 := func(n int) string { return "b" + base64.StdEncoding.EncodeToString(make([]byte, n)) }
	cases := []struct {
		name   string
		join   string // namespace joined first
		body   string
		status int
		reason string
	}{
		{name: "invalid UTF-8 body", body: "42[\"e\",\"\xff\"]", status: 400, reason: RefuseInvalidUTF8},
		{name: "body over MaxPayload", body: "4" + strings.Repeat("x", hostileMaxPayload), status: 413, reason: RefusePayloadTooLarge},
		{name: "malformed packet", body: "42[", status: 400, reason: RefuseParseError},
		{name: "11 attachments", body: ph("", 11, ""), status: 400, reason: RefuseTooManyAttachments},
		{name: "binary before CONNECT past 64 KiB", body: ph("", 1, "") + "\x1e" + b64(65<<10), status: 400, reason: RefuseBinaryBeforeConnect},
		{name: "attachment over the event cap", join: "/g", body: ph("/g", 1, "") + "\x1e" + b64(hostileEventCap), status: 400, reason: RefuseBinaryTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := rc.snapshot()
			sid := pollHandshake(t, base)
			if tc.join != "" {
				status, _ := httpPost(t, pollURL(base, sid), "40"+tc.join+",")
				require.Equal(t, http.StatusOK, status)
				_, body := httpGet(t, pollURL(base, sid))
				require.Contains(t, body, "40"+tc.join+",")
			}
			status, _ := httpPost(t, pollURL(base, sid), tc.body)
			require.Equal(t, tc.status, status)
			eventually(t, func() bool { return s.engine.lookup(sid) == nil }, "session closed")
			rc.requireOne(t, before, tc.reason)
		})
	}

	t.Run("overlapping POST", func(t *testing.T) {
		before := rc.snapshot()
		sid := pollHandshake(t, base)
		c := s.engine.lookup(sid)
		pr, pw := io.Pipe()
		first := make(chan int, 1)
		go func() {
			resp, err := http.Post(pollURL(base, sid), "text/plain", pr)
			if err != nil {
				first <- 0
				return
			}
			resp.Body.Close()
			first <- resp.StatusCode
		}()
		// The first POST holds the session's read side while its body comes.
		eventually(t, func() bool {
			if c.readMu.TryLock() {
				c.readMu.Unlock()
				return false
			}
			return true
		}, "first POST being read")
		status, _ := httpPost(t, pollURL(base, sid), `40`)
		require.Equal(t, http.StatusBadRequest, status)
		_ = pw.CloseWithError(io.ErrClosedPipe)
		<-first
		require.Nil(t, s.engine.lookup(sid))
		rc.requireOne(t, before, RefuseRequestOverlap)
	})
}

func TestRefusedOrigin(t *testing.T) {
	rc := &refusalCounter{}
	_, base := startServer(t, Options{AllowedOrigins: []string{"https://ok.example"}, OnRefuse: rc.add})
	req, err := http.NewRequest(http.MethodGet, base+"/socket.io/?EIO=4&transport=polling", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	rc.requireOne(t, nil, RefuseOrigin)
}

// Every reason has its reaction in the table, and the exported list is
// the table.
func TestRefusalTable(t *testing.T) {
	require.Len(t, RefusalReasons(), len(refusals))
	for _, r := range RefusalReasons() {
		require.Regexp(t, `^[a-z0-9_]+$`, r)
	}
}

// Until a namespace is joined, at most preConnectBytes of received packets
// wait for the handler: with the CONNECT handler stuck, the reader stops
// reading instead of buffering what the client keeps sending.
func TestInboxBoundedBeforeConnect(t *testing.T) {
	s, base := startServer(t, Options{})
	release := make(chan struct{})
	ns := s.Of("/slow")
	ns.OnConnect(func(*Socket, json.RawMessage) error {
		<-release
		return nil
	})
	events := make(chan string, 64)
	ns.OnEvent(func(_ *Socket, ev *Event) { events <- ev.Name })
	c := dialWS(t, base, "")
	c.readText()
	c.send(`40/slow,`)
	const n, size = 20, 30 << 10
	body := strings.Repeat("x", size)
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := c.c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf(`42/slow,["e%d","%s"]`, i, body))); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	conn := s.engine.lookupAny(t)
	eventually(t, func() bool {
		conn.imu.Lock()
		defer conn.imu.Unlock()
		return conn.inWaiting
	}, "the reader waits for room")
	conn.imu.Lock()
	held := conn.inBytes
	conn.imu.Unlock()
	require.LessOrEqual(t, held, preConnectBytes)
	close(release)
	require.True(t, strings.HasPrefix(c.readText(), `40/slow,{"sid":`))
	for i := range n {
		require.Equal(t, fmt.Sprintf("e%d", i), recv(t, events))
	}
	require.NoError(t, <-sent)
}
