package sio

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

func TestHandshakeErrors(t *testing.T) {
	s, base := startServer(t, Options{AllowedOrigins: []string{"https://ok.example"}})
	_ = s
	tests := []struct {
		name   string
		method string
		query  string
		origin string
		status int
		body   string
	}{
		{name: "missing EIO", method: "GET", query: "transport=polling", status: 400, body: `{"code":5,"message":"Unsupported protocol version"}`},
		{name: "EIO 3", method: "GET", query: "EIO=3&transport=polling", status: 400, body: `{"code":5,"message":"Unsupported protocol version"}`},
		{name: "unknown transport", method: "GET", query: "EIO=4&transport=abc", status: 400, body: `{"code":0,"message":"Transport unknown"}`},
		{name: "missing transport", method: "GET", query: "EIO=4", status: 400, body: `{"code":0,"message":"Transport unknown"}`},
		{name: "unknown sid", method: "GET", query: "EIO=4&transport=polling&sid=nope", status: 400, body: `{"code":1,"message":"Session ID unknown"}`},
		{name: "handshake by POST", method: "POST", query: "EIO=4&transport=polling", status: 400, body: `{"code":2,"message":"Bad handshake method"}`},
		{name: "origin refused", method: "GET", query: "EIO=4&transport=polling", origin: "https://evil.example", status: 403, body: `{"code":4,"message":"Forbidden"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, base+"/socket.io/?"+tt.query, strings.NewReader(""))
			require.NoError(t, err)
			if tt.origin != "" {
				req.Header.Set("Origin", tt.origin)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			var b strings.Builder
			_, _ = ioCopy(&b, resp)
			require.Equal(t, tt.status, resp.StatusCode)
			require.JSONEq(t, tt.body, b.String())
		})
	}
}

func ioCopy(b *strings.Builder, resp *http.Response) (int64, error) {
	buf := make([]byte, 4096)
	var n int64
	for {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		n += int64(k)
		if err != nil {
			return n, nil
		}
	}
}

func TestHandshakePollingAndCORS(t *testing.T) {
	_, base := startServer(t, Options{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, AllowedOrigins: []string{"https://ok.example"}})
	req, _ := http.NewRequest("GET", base+"/socket.io/?EIO=4&transport=polling", nil)
	req.Header.Set("Origin", "https://ok.example")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var b strings.Builder
	_, _ = ioCopy(&b, resp)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	require.Equal(t, "https://ok.example", resp.Header.Get("Access-Control-Allow-Origin"))
	require.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
	body := b.String()
	require.True(t, strings.HasPrefix(body, "0"), body)
	var hs struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int      `json:"pingInterval"`
		PingTimeout  int      `json:"pingTimeout"`
		MaxPayload   int      `json:"maxPayload"`
	}
	require.NoError(t, json.Unmarshal([]byte(body[1:]), &hs))
	require.Len(t, hs.SID, 20)
	require.Equal(t, []string{"websocket"}, hs.Upgrades)
	require.Equal(t, 300, hs.PingInterval)
	require.Equal(t, 200, hs.PingTimeout)
	require.Equal(t, 1_000_000, hs.MaxPayload)

	pre, _ := http.NewRequest("OPTIONS", base+"/socket.io/?EIO=4&transport=polling", nil)
	pre.Header.Set("Origin", "https://ok.example")
	pre.Header.Set("Access-Control-Request-Headers", "authorization")
	resp, err = http.DefaultClient.Do(pre)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	require.Equal(t, "authorization", resp.Header.Get("Access-Control-Allow-Headers"))
	require.Equal(t, "https://ok.example", resp.Header.Get("Access-Control-Allow-Origin"))
}

func pollingSession(t *testing.T, base string) string {
	t.Helper()
	code, body := httpGet(t, base+"/socket.io/?EIO=4&transport=polling")
	require.Equal(t, 200, code)
	var hs struct {
		SID string `json:"sid"`
	}
	require.NoError(t, json.Unmarshal([]byte(body[1:]), &hs))
	return hs.SID
}

func TestPollingMaxPayloadEnforced(t *testing.T) {
	s, base := startServer(t, Options{MaxPayload: 100})
	sid := pollingSession(t, base)
	u := base + "/socket.io/?EIO=4&transport=polling&sid=" + sid
	code, _ := httpPost(t, u, "4"+strings.Repeat("x", 200))
	require.Equal(t, http.StatusRequestEntityTooLarge, code)
	eventually(t, func() bool { return s.ConnCount() == 0 }, "session closed")
	code, _ = httpGet(t, u)
	require.Equal(t, 400, code)
}

func TestWebSocketMaxPayloadEnforced(t *testing.T) {
	s, base := startServer(t, Options{MaxPayload: 100})
	c := dialWS(t, base, "")
	c.readText() // open
	c.send("4" + strings.Repeat("x", 200))
	c.expectClosed()
	eventually(t, func() bool { return s.ConnCount() == 0 }, "session closed")
}

func TestConcurrentPollClosesSession(t *testing.T) {
	s, base := startServer(t, Options{})
	sid := pollingSession(t, base)
	u := base + "/socket.io/?EIO=4&transport=polling&sid=" + sid
	first := make(chan string, 1)
	go func() {
		_, body := httpGet(t, u)
		first <- body
	}()
	eventually(t, func() bool {
		c := s.engine.lookup(sid)
		return c != nil && c.pollActive.Load()
	}, "first poll pending")
	code, _ := httpGet(t, u)
	require.Equal(t, 400, code)
	require.Equal(t, "1", <-first)
	code, _ = httpGet(t, u)
	require.Equal(t, 400, code)
}

func TestPollingRoundTripAndUpgrade(t *testing.T) {
	s, base := startServer(t, Options{})
	ns := s.Of("/")
	got := make(chan string, 4)
	ns.OnEvent(func(so *Socket, ev *Event) {
		got <- ev.Name + ":" + so.Transport()
		_ = so.Emit("echo", ev.Args[0])
	})
	sid := pollingSession(t, base)
	u := base + "/socket.io/?EIO=4&transport=polling&sid=" + sid
	code, body := httpPost(t, u, "40")
	require.Equal(t, 200, code)
	require.Equal(t, "ok", body)
	_, body = httpGet(t, u)
	require.True(t, strings.HasPrefix(body, `40{"sid":"`), body)
	code, _ = httpPost(t, u, `42["a",1]`+"\x1e"+`42["b",2]`)
	require.Equal(t, 200, code)
	require.Equal(t, "a:polling", <-got)
	require.Equal(t, "b:polling", <-got)
	_, body = httpGet(t, u)
	require.Equal(t, `42["echo",1]`+"\x1e"+`42["echo",2]`, body)

	// Upgrade: probe, the pending poll returns a noop, then "5".
	ws := dialWS(t, base, "&sid="+sid)
	pollDone := make(chan string, 1)
	go func() {
		_, b := httpGet(t, u)
		pollDone <- b
	}()
	ws.send("2probe")
	require.Equal(t, "3probe", ws.readText())
	require.Equal(t, "6", <-pollDone)
	ws.send("5")
	eventually(t, func() bool { return s.engine.lookup(sid).Transport() == "websocket" }, "upgraded")
	ws.send(`42["c",3]`)
	require.Equal(t, "c:websocket", <-got)
	require.Equal(t, `42["echo",3]`, ws.readText())
	code, _ = httpGet(t, u)
	require.Equal(t, 400, code, "polling after upgrade")

	// A second WebSocket on the same sid is accepted then closed.
	ws2 := dialWS(t, base, "&sid="+sid)
	ws2.expectClosed()
	ws.send(`42["d",4]`)
	require.Equal(t, "d:websocket", <-got)
}

func TestPingTimeout(t *testing.T) {
	s, base := startServer(t, Options{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	// A client that answers pings stays connected across several intervals.
	good := dialWS(t, base, "")
	good.readText()
	for i := 0; i < 3; i++ {
		_ = good.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := good.c.ReadMessage()
		require.NoError(t, err)
		require.Equal(t, "2", string(b))
		good.send("3")
	}
	require.Equal(t, 1, s.ConnCount())
	// One that does not is closed.
	bad := dialWS(t, base, "")
	bad.readText()
	_ = bad.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := bad.c.ReadMessage()
	require.NoError(t, err)
	require.Equal(t, "2", string(b))
	bad.expectClosed()
}

func TestConnectEventsAndAcks(t *testing.T) {
	s, base := startServer(t, Options{})
	ns := s.Of("/chat")
	authGot := make(chan json.RawMessage, 1)
	ns.OnConnect(func(so *Socket, auth json.RawMessage) error {
		authGot <- auth
		so.SetData("user-1")
		return nil
	})
	events := make(chan *Event, 4)
	ns.OnEvent(func(so *Socket, ev *Event) {
		require.Equal(t, "user-1", so.Data())
		events <- ev
		if ev.HasAck() {
			require.NoError(t, ev.Ack("ok", json.RawMessage(`{"n":1}`)))
			require.ErrorIs(t, ev.Ack("again"), ErrAckSent)
		}
	})
	c := dialWS(t, base, "")
	c.readText()
	sid := c.connectNsp("/chat", `{"token":"abc"}`)
	require.JSONEq(t, `{"token":"abc"}`, string(<-authGot))
	require.Len(t, sid, 20)
	require.Equal(t, 1, ns.RoomSize(sid), "own room")

	c.send(`42/chat,["hello",1,{"a":[true]}]`)
	ev := <-events
	require.Equal(t, "hello", ev.Name)
	require.Len(t, ev.Args, 2)
	require.JSONEq(t, `{"a":[true]}`, string(ev.Args[1]))
	require.False(t, ev.HasAck())
	require.ErrorIs(t, ev.Ack(), ErrNoAck)

	c.send(`42/chat,17["q"]`)
	<-events
	require.Equal(t, `43/chat,17["ok",{"n":1}]`, c.readText())

	// Binary event reassembly.
	c.send(`452-/chat,["bin",{"_placeholder":true,"num":1},"x",{"_placeholder":true,"num":0}]`)
	require.NoError(t, c.c.WriteMessage(websocket.BinaryMessage, []byte{1}))
	require.NoError(t, c.c.WriteMessage(websocket.BinaryMessage, []byte{2, 2}))
	ev = <-events
	require.Equal(t, [][]byte{{1}, {2, 2}}, ev.Attachments)
	b, ok := ev.Binary(0)
	require.True(t, ok)
	require.Equal(t, []byte{2, 2}, b)
	_, ok = ev.Binary(1)
	require.False(t, ok)

	// A packet to a namespace the client did not join is ignored.
	c.send(`42/other,["x"]`)
	c.send(`42/chat,["after"]`)
	require.Equal(t, "after", (<-events).Name)
}

func TestConnectErrors(t *testing.T) {
	s, base := startServer(t, Options{})
	s.Of("/locked").OnConnect(func(*Socket, json.RawMessage) error {
		return &ConnectError{Message: "Authentication required", Payload: map[string]string{"code": "AUTH_REQUIRED"}}
	})
	s.Of("/plain").OnConnect(func(*Socket, json.RawMessage) error { return errors.New("Invalid token") })
	c := dialWS(t, base, "")
	c.readText()
	c.send("40/locked,")
	require.Equal(t, `44/locked,{"message":"Authentication required","data":{"code":"AUTH_REQUIRED"}}`, c.readText())
	c.send("40/plain,")
	require.Equal(t, `44/plain,{"message":"Invalid token"}`, c.readText())
	c.send("40/random")
	require.Equal(t, `44/random,{"message":"Invalid namespace"}`, c.readText())
}

func TestResolverAliases(t *testing.T) {
	s, base := startServer(t, Options{})
	hub := NewNamespace("/hub/chat")
	s.SetNamespaceResolver(func(name string) *Namespace {
		if strings.HasSuffix(name, "/hub/chat") {
			return hub
		}
		return nil
	})
	joined := make(chan *Socket, 2)
	hub.OnEvent(func(so *Socket, ev *Event) {
		so.Join("r")
		joined <- so
	})
	a := dialWS(t, base, "")
	a.readText()
	a.connectNsp("/hub/chat", "")
	b := dialWS(t, base, "")
	b.readText()
	b.connectNsp("/x/hub/chat", "")
	a.send(`42/hub/chat,["join"]`)
	b.send(`42/x/hub/chat,["join"]`)
	so1, so2 := <-joined, <-joined
	require.Equal(t, 2, hub.RoomSize("r"))
	require.ElementsMatch(t, []string{"/hub/chat", "/x/hub/chat"}, []string{so1.NamespaceName(), so2.NamespaceName()})
	require.NoError(t, hub.To("r").Emit("news", "hi"))
	require.Equal(t, `42/hub/chat,["news","hi"]`, a.readText())
	require.Equal(t, `42/x/hub/chat,["news","hi"]`, b.readText())

	// With an attachment and an offset: each name gets its own packet, and
	// both the same attachment and offset.
	hub.SetRecovery(true)
	require.NoError(t, hub.To("r").Local().Offset("5.1.r").Emit("pic", []byte{1, 2}))
	for _, c := range []struct {
		w   *wsClient
		nsp string
	}{{a, "/hub/chat"}, {b, "/x/hub/chat"}} {
		require.Equal(t, `451-`+c.nsp+`,["pic",{"_placeholder":true,"num":0},"5.1.r"]`, c.w.readText())
		att, binary := c.w.read()
		require.True(t, binary)
		require.Equal(t, "\x01\x02", att)
	}
}

func TestBroadcastToExcept(t *testing.T) {
	s, base := startServer(t, Options{})
	ns := s.Of("/")
	var mu sync.Mutex
	byID := map[string]*Socket{}
	ns.OnConnect(func(so *Socket, auth json.RawMessage) error {
		mu.Lock()
		byID[so.ID()] = so
		mu.Unlock()
		return nil
	})
	clients := make([]*wsClient, 4)
	socks := make([]*Socket, 4)
	for i := range clients {
		clients[i] = dialWS(t, base, "")
		clients[i].readText()
		id := clients[i].connectNsp("/", "")
		mu.Lock()
		socks[i] = byID[id]
		mu.Unlock()
	}
	// rooms: 0 in a; 1 in a,b; 2 in b; 3 nothing
	socks[0].Join("a")
	socks[1].Join("a", "b")
	socks[2].Join("b")
	require.ElementsMatch(t, []string{socks[1].ID(), "a", "b"}, socks[1].Rooms())

	tests := []struct {
		name string
		b    *Broadcast
		want []bool
	}{
		{name: "room a", b: ns.To("a"), want: []bool{true, true, false, false}},
		{name: "rooms a and b, deduplicated", b: ns.To("a").To("b"), want: []bool{true, true, true, false}},
		{name: "a except b", b: ns.To("a").Except("b"), want: []bool{true, false, false, false}},
		{name: "all except a", b: ns.Except("a"), want: []bool{false, false, true, true}},
		{name: "own room", b: ns.To(socks[3].ID()), want: []bool{false, false, false, true}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := "ev" + string(rune('0'+i))
			require.NoError(t, tt.b.Emit(ev, 1))
			// A marker to every socket bounds what each one may have got.
			require.NoError(t, ns.Emit("marker"))
			for k, c := range clients {
				first := c.readText()
				if tt.want[k] {
					require.Equal(t, `42["`+ev+`",1]`, first, "client %d", k)
					require.Equal(t, `42["marker"]`, c.readText())
				} else {
					require.Equal(t, `42["marker"]`, first, "client %d", k)
				}
			}
		})
	}

	socks[1].Leave("a")
	require.Equal(t, 1, ns.RoomSize("a"))
	require.Len(t, ns.SocketsIn("b"), 2)
}

func TestSlowConsumerDisconnect(t *testing.T) {
	rc := &refusalCounter{}
	s, base := startServer(t, Options{WriteQueueSize: 4, OnRefuse: rc.add})
	ns := s.Of("/")
	reasons := make(chan string, 1)
	ns.OnDisconnect(func(_ *Socket, reason string) { reasons <- reason })
	sid := pollingSession(t, base)
	u := base + "/socket.io/?EIO=4&transport=polling&sid=" + sid
	code, _ := httpPost(t, u, "40")
	require.Equal(t, 200, code)
	eventually(t, func() bool { return ns.SocketCount() == 1 }, "socket connected")
	// The client never polls: the CONNECT reply plus 3 packets fill the
	// queue; the next broadcast must not block and must drop the client.
	for i := 0; i < 3; i++ {
		require.NoError(t, ns.Emit("x", i))
	}
	done := make(chan struct{})
	go func() {
		_ = ns.Emit("overflow")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("broadcast blocked on a slow consumer")
	}
	require.Equal(t, "slow consumer", <-reasons)
	eventually(t, func() bool { return s.ConnCount() == 0 }, "connection closed")
	require.Equal(t, uint64(1), s.Stats().SlowConsumerDisconnects)
	rc.requireOne(t, nil, RefuseSlowConsumer)
}

func TestEmitWithAck(t *testing.T) {
	s, base := startServer(t, Options{AckTimeout: 100 * time.Millisecond})
	ns := s.Of("/")
	conn := make(chan *Socket, 1)
	ns.OnConnection(func(so *Socket) { conn <- so })
	c := dialWS(t, base, "")
	c.readText()
	c.connectNsp("/", "")
	so := <-conn

	type result struct {
		args []json.RawMessage
		err  error
	}
	res := make(chan result, 1)
	go func() {
		a, err := so.EmitWithAck(context.Background(), "ask", 1)
		res <- result{a, err}
	}()
	require.Equal(t, `420["ask",1]`, c.readText())
	c.send(`430["yes",2]`)
	r := <-res
	require.NoError(t, r.err)
	require.Equal(t, []json.RawMessage{json.RawMessage(`"yes"`), json.RawMessage(`2`)}, r.args)

	// No answer: the default timeout applies.
	_, err := so.EmitWithAck(context.Background(), "ask", 2)
	require.ErrorIs(t, err, ErrAckTimeout)
	require.Equal(t, `421["ask",2]`, c.readText())

	// Socket disconnects while waiting.
	go func() {
		a, err := so.EmitWithAck(context.Background(), "ask", 3)
		res <- result{a, err}
	}()
	require.Equal(t, `422["ask",3]`, c.readText())
	so.Disconnect("")
	require.ErrorIs(t, (<-res).err, ErrSocketClosed)
	require.Equal(t, "41", c.readText())
	require.ErrorIs(t, so.Emit("late"), ErrSocketClosed)
	// The Engine.IO connection stays open.
	require.Equal(t, 1, s.ConnCount())
}

func TestUnexpectedBinaryClosesConnection(t *testing.T) {
	s, base := startServer(t, Options{})
	s.Of("/")
	c := dialWS(t, base, "")
	c.readText()
	c.connectNsp("/", "")
	require.NoError(t, c.c.WriteMessage(websocket.BinaryMessage, []byte{1}))
	c.expectClosed()
	eventually(t, func() bool { return s.Stats().ParseErrors == 1 }, "parse error counted")
}

func TestCloseGraceful(t *testing.T) {
	s, base := startServer(t, Options{})
	ns := s.Of("/")
	reasons := make(chan string, 2)
	ns.OnDisconnect(func(_ *Socket, r string) { reasons <- r })
	c := dialWS(t, base, "")
	c.readText()
	c.connectNsp("/", "")
	sid := pollingSession(t, base)
	require.Equal(t, 2, s.ConnCount())
	st := s.Stats()
	require.Equal(t, 1, st.Sockets)
	require.Equal(t, uint64(2), st.ConnectionsTotal)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- s.Close(ctx) }()
	require.Equal(t, "41", c.readText())
	// The polling client gets a close packet on its next poll.
	_, body := httpGet(t, base+"/socket.io/?EIO=4&transport=polling&sid="+sid)
	require.Equal(t, "1", body)
	require.NoError(t, <-closed)
	require.Equal(t, "server shutting down", <-reasons)
	require.Equal(t, 0, s.ConnCount())
	require.Equal(t, 0, s.Stats().Sockets)
	// New handshakes are refused.
	code, _ := httpGet(t, base+"/socket.io/?EIO=4&transport=polling")
	require.Equal(t, http.StatusServiceUnavailable, code)
}

func TestConnectTimeout(t *testing.T) {
	s, base := startServer(t, Options{ConnectTimeout: 50 * time.Millisecond})
	c := dialWS(t, base, "")
	c.readText()
	c.expectClosed()
	eventually(t, func() bool { return s.ConnCount() == 0 }, "closed")
}

func TestPollingBinaryBothWays(t *testing.T) {
	s, base := startServer(t, Options{})
	ns := s.Of("/")
	ns.OnEvent(func(so *Socket, ev *Event) {
		b, ok := ev.Binary(0)
		require.True(t, ok)
		require.NoError(t, ev.Ack(b, "t"))
	})
	sid := pollingSession(t, base)
	u := base + "/socket.io/?EIO=4&transport=polling&sid=" + sid
	httpPost(t, u, "40")
	_, body := httpGet(t, u)
	require.True(t, strings.HasPrefix(body, `40{"sid":`), body)
	code, _ := httpPost(t, u, `451-3["up",{"_placeholder":true,"num":0}]`+"\x1ebAQID")
	require.Equal(t, 200, code)
	_, body = httpGet(t, u)
	require.Equal(t, `461-3[{"_placeholder":true,"num":0},"t"]`+"\x1ebAQID", body)
}

func TestSlowConsumerWebSocket(t *testing.T) {
	rc := &refusalCounter{}
	s, base := startServer(t, Options{WriteQueueSize: 8, OnRefuse: rc.add})
	ns := s.Of("/")
	conn := make(chan *Socket, 1)
	ns.OnConnection(func(so *Socket) { conn <- so })
	c := dialWS(t, base, "")
	c.readText()
	c.connectNsp("/", "")
	so := <-conn
	// The client stops reading: socket buffers fill, the writer blocks, the
	// queue fills, and the connection must be dropped without blocking Emit.
	big := json.RawMessage(`"` + strings.Repeat("x", 64<<10) + `"`)
	start := time.Now()
	for i := 0; i < 5000 && s.Stats().SlowConsumerDisconnects == 0; i++ {
		_ = ns.Emit("big", big)
	}
	require.Equal(t, uint64(1), s.Stats().SlowConsumerDisconnects)
	require.Less(t, time.Since(start), 5*time.Second, "emits were blocked")
	<-so.Done()
	eventually(t, func() bool { return s.ConnCount() == 0 }, "connection closed")
	rc.requireOne(t, nil, RefuseSlowConsumer) // once, however many emits found the queue full
}
