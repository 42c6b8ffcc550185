package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// fakeHub is a minimal in-process server of the hub protocol: Engine.IO open,
// namespace CONNECT with an HS256 token, hub:join and hub:send with acks and
// hub:messageArrived fan-out. It pings every client once after CONNECT and
// counts the pongs.
type fakeHub struct {
	t          *testing.T
	ns         string
	secret     string
	rejectSend string        // when set, every hub:send is refused with this code
	ackDelay   time.Duration // when set, hub:send acks are written this much later

	mu    sync.Mutex
	rooms map[string]map[*fakeConn]bool

	pongs atomic.Int64
	sends atomic.Int64
	// maxUnacked is the most hub:send a single connection had unacked at once.
	maxUnacked atomic.Int64
	joined     atomic.Int64
	addr       string
	// sources counts WebSocket connections by the client's IP address.
	sources map[string]int
}

type fakeConn struct {
	ws      *websocket.Conn
	wmu     sync.Mutex
	unacked atomic.Int64
}

func (f *fakeConn) write(b []byte) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	_ = f.ws.WriteMessage(websocket.TextMessage, b)
}

func startFakeHub(t *testing.T, secret string) *fakeHub {
	t.Helper()
	h := &fakeHub{t: t, ns: "/hub/chatHub", secret: secret, rooms: map[string]map[*fakeConn]bool{},
		sources: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(h.serve)}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	h.addr = ln.Addr().String()
	return h
}

func (h *fakeHub) url() string { return "ws://" + h.addr }

var upgrader = websocket.Upgrader{}

func (h *fakeHub) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/socket.io/" || r.URL.Query().Get("EIO") != "4" {
		http.NotFound(w, r)
		return
	}
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		h.mu.Lock()
		h.sources[host]++
		h.mu.Unlock()
	}
	c := &fakeConn{ws: ws}
	defer h.drop(c)
	c.write([]byte(`0{"sid":"s","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
	prefix := h.ns + ","
	for {
		_, frame, err := ws.ReadMessage()
		if err != nil {
			return
		}
		switch {
		case string(frame) == "3":
			h.pongs.Add(1)
		case bytes.HasPrefix(frame, []byte("40"+prefix)):
			if !h.authorized(frame[len("40"+prefix):]) {
				c.write([]byte("44" + prefix + `{"message":"Invalid token"}`))
				continue
			}
			c.write([]byte("40" + prefix + `{"sid":"n"}`))
			c.write([]byte("2"))
		case bytes.HasPrefix(frame, []byte("42"+prefix)):
			h.event(c, frame[len("42"+prefix):])
		}
	}
}

func (h *fakeHub) authorized(auth []byte) bool {
	var a struct {
		Token string `json:"token"`
	}
	if json.Unmarshal(auth, &a) != nil {
		return false
	}
	_, err := jwt.Parse(a.Token, func(*jwt.Token) (any, error) { return []byte(h.secret), nil },
		jwt.WithValidMethods([]string{"HS256"}))
	return err == nil
}

func (h *fakeHub) event(c *fakeConn, rest []byte) {
	// Runs on a server goroutine: report problems with Errorf, never FailNow.
	i := bytes.IndexByte(rest, '[')
	if i <= 0 {
		h.t.Errorf("emit without ack id: %q", rest)
		return
	}
	id := string(rest[:i])
	var args []json.RawMessage
	var name string
	var p struct {
		RoomID  string          `json:"roomId"`
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(rest[i:], &args); err != nil || len(args) != 2 {
		h.t.Errorf("bad emit %q: %v", rest, err)
		return
	}
	if err := json.Unmarshal(args[0], &name); err != nil {
		h.t.Errorf("bad event name %q: %v", args[0], err)
		return
	}
	if err := json.Unmarshal(args[1], &p); err != nil {
		h.t.Errorf("bad payload %q: %v", args[1], err)
		return
	}
	ack := func(body string) { c.write([]byte("43" + h.ns + "," + id + "[" + body + "]")) }
	switch name {
	case "hub:join":
		h.mu.Lock()
		if h.rooms[p.RoomID] == nil {
			h.rooms[p.RoomID] = map[*fakeConn]bool{}
		}
		h.rooms[p.RoomID][c] = true
		h.mu.Unlock()
		h.joined.Add(1)
		ack(`{"ok":true,"roomId":` + strconv.Quote(p.RoomID) + `,"hubRole":"member"}`)
		c.write([]byte("42" + h.ns + `,["hub:joined",{"roomId":` + strconv.Quote(p.RoomID) + `}]`))
	case "hub:send":
		h.sends.Add(1)
		n := c.unacked.Add(1)
		for m := h.maxUnacked.Load(); n > m && !h.maxUnacked.CompareAndSwap(m, n); m = h.maxUnacked.Load() {
		}
		if h.ackDelay > 0 {
			inner := ack
			ack = func(body string) {
				time.AfterFunc(h.ackDelay, func() {
					c.unacked.Add(-1)
					inner(body)
				})
			}
		} else {
			defer c.unacked.Add(-1)
		}
		if h.rejectSend != "" {
			ack(`{"ok":false,"error":{"code":"` + h.rejectSend + `","message":"no"}}`)
			return
		}
		msg := `{"id":"m","roomId":` + strconv.Quote(p.RoomID) + `,"seq":1,"senderId":"u","messageType":"text","content":` +
			string(p.Content) + `,"timestamp":"2026-01-01T00:00:00Z","status":"published"}`
		frame := []byte("42" + h.ns + `,["hub:messageArrived",{"roomId":` + strconv.Quote(p.RoomID) +
			`,"message":` + msg + `,"sender":{"id":"u"}}]`)
		h.mu.Lock()
		members := make([]*fakeConn, 0, len(h.rooms[p.RoomID]))
		for m := range h.rooms[p.RoomID] {
			members = append(members, m)
		}
		h.mu.Unlock()
		for _, m := range members {
			m.write(frame)
		}
		ack(`{"message":` + msg + `,"ok":true}`)
	default:
		ack(`{"ok":false,"error":{"code":"UNKNOWN_EVENT","message":"unknown"}}`)
	}
}

func (h *fakeHub) drop(c *fakeConn) {
	h.mu.Lock()
	for _, members := range h.rooms {
		delete(members, c)
	}
	h.mu.Unlock()
	_ = c.ws.Close()
}
