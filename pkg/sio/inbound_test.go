package sio

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// TestInboundOrderAndCloseAfterEvents: events a client sends and then
// closes are all handled, in order, before the disconnect.
func TestInboundOrderAndCloseAfterEvents(t *testing.T) {
	for _, tc := range readerCases {
		t.Run(tc.name, func(t *testing.T) { testInboundOrderAndClose(t, tc.opts) })
	}
}

func testInboundOrderAndClose(t *testing.T, opts Options) {
	s, base := startServer(t, opts)
	ns := s.Of("/g")
	var mu sync.Mutex
	var got []string
	disconnected := make(chan int, 1)
	ns.OnEvent(func(_ *Socket, ev *Event) {
		mu.Lock()
		got = append(got, string(ev.Args[0]))
		mu.Unlock()
	})
	ns.OnDisconnect(func(_ *Socket, reason string) {
		mu.Lock()
		disconnected <- len(got)
		mu.Unlock()
	})
	c := dialWS(t, base, "")
	c.readText()
	c.connectNsp("/g", "")
	const n = 200
	for i := range n {
		c.send(fmt.Sprintf(`42/g,["e",%d]`, i))
	}
	c.send("1") // Engine.IO close right behind them
	require.Equal(t, n, recv(t, disconnected), "every event before the close was handled first")
	mu.Lock()
	defer mu.Unlock()
	for i, v := range got {
		require.Equal(t, fmt.Sprint(i), v, "in order")
	}
}

// TestInboundIsBounded: while a handler is stuck, the connection queues
// at most maxInbox packets and then stops reading; other connections are
// served meanwhile, and the queued packets are handled once it resumes.
func TestInboundIsBounded(t *testing.T) {
	for _, tc := range readerCases {
		t.Run(tc.name, func(t *testing.T) { testInboundIsBounded(t, tc.opts) })
	}
}

// readerCases are the two WebSocket readers: the network poller (the
// default where there is one) and a goroutine per connection.
var readerCases = []struct {
	name string
	opts Options
}{
	{"poller", Options{}},
	{"goroutine", Options{GoroutineReaders: true}},
}

func inboxLen(c *EngineConn) int {
	c.imu.Lock()
	defer c.imu.Unlock()
	return len(c.inbox)
}

func testInboundIsBounded(t *testing.T, opts Options) {
	s, base := startServer(t, opts)
	ns := s.Of("/g")
	release := make(chan struct{})
	var mu sync.Mutex
	handled := map[string]int{}
	ns.OnEvent(func(so *Socket, ev *Event) {
		if ev.Name == "stuck" {
			<-release
		}
		mu.Lock()
		handled[ev.Name]++
		mu.Unlock()
	})
	slow := dialWS(t, base, "")
	slow.readText()
	slow.connectNsp("/g", "")
	slow.send(`42/g,["stuck"]`)
	const flood = 3 * maxInbox
	go func() {
		for range flood {
			if slow.c.WriteMessage(1, []byte(`42/g,["flood"]`)) != nil {
				return
			}
		}
	}()
	var conn *EngineConn
	eventually(t, func() bool {
		for _, so := range ns.Sockets() {
			conn = so.client.conn
		}
		return conn != nil && inboxLen(conn) == maxInbox
	}, "the inbox fills up")
	conn.imu.Lock()
	queued := len(conn.inbox)
	conn.imu.Unlock()
	require.LessOrEqual(t, queued, maxInbox, "never more than maxInbox waiting")

	other := dialWS(t, base, "")
	other.readText()
	other.connectNsp("/g", "")
	other.send(`42/g,["other"]`)
	eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return handled["other"] == 1 }, "another connection is served")

	close(release)
	eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return handled["flood"] == flood }, "the backlog is handled after the handler resumes")
	eventually(t, func() bool {
		conn.imu.Lock()
		defer conn.imu.Unlock()
		return !conn.dispatching && len(conn.inbox) == 0
	}, "the dispatcher is gone once the inbox is empty")
}

// TestRequestHeadersKept: with Options.RequestHeaders the socket's request
// keeps only those headers, and always its query.
func TestRequestHeadersKept(t *testing.T) {
	for _, tc := range []struct {
		name  string
		keep  []string
		other string // X-Other as seen by the handler
	}{
		{"only the listed headers", []string{"authorization"}, ""},
		{"every header when unset", nil, "yes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, base := startServer(t, Options{RequestHeaders: tc.keep})
			got := make(chan *http.Request, 1)
			s.Of("/g").OnConnect(func(so *Socket, _ json.RawMessage) error {
				got <- so.Request()
				return nil
			})
			u := "ws" + strings.TrimPrefix(base, "http") + "/socket.io/?EIO=4&transport=websocket&token=q"
			hdr := http.Header{"Authorization": {"Bearer abc"}, "X-Other": {"yes"}}
			conn, _, err := websocket.DefaultDialer.Dial(u, hdr)
			require.NoError(t, err)
			t.Cleanup(func() { _ = conn.Close() })
			c := &wsClient{t: t, c: conn}
			c.readText()
			c.connectNsp("/g", "")
			r := recv(t, got)
			require.Equal(t, "Bearer abc", r.Header.Get("Authorization"))
			require.Equal(t, tc.other, r.Header.Get("X-Other"))
			require.Equal(t, "q", r.URL.Query().Get("token"))
		})
	}
}

// tick releases the waiters of a pacer made with running set (no ticker
// of its own) once one waits: a test's linger ticks.
func (p *pacer) tick(t *testing.T) {
	t.Helper()
	var ch chan struct{}
	eventually(t, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		ch, p.ch = p.ch, nil
		return ch != nil
	}, "nobody waits for the tick")
	close(ch)
}

// A dispatcher exits at a linger tick only when it handled nothing since
// the tick before: a connection that sends between two ticks keeps it.
func TestDispatcherLingersOneIdleInterval(t *testing.T) {
	s, base := startServer(t, Options{})
	linger := &pacer{interval: time.Hour, running: true} // the test ticks
	s.engine.linger = linger
	t.Cleanup(func() { _ = s.Close(context.Background()) }) // ends the waits of its idle dispatchers
	ns := s.Of("/")
	handled := make(chan string, 4)
	ns.OnEvent(func(_ *Socket, ev *Event) { handled <- ev.Name })
	w := dialWS(t, base, "")
	w.readText()
	w.connectNsp("/", "")
	w.send(`42["a"]`)
	require.Equal(t, "a", <-handled)
	c := ns.Sockets()[0].client.conn
	parked := parkedOn(linger, c) // waits for packets and a tick it has not seen
	dispatching := func() bool {
		c.imu.Lock()
		defer c.imu.Unlock()
		return c.dispatching
	}
	eventually(t, parked, "the dispatcher parks")
	linger.tick(t)
	eventually(t, parked, "it handled packets in the interval: it parks again")
	require.True(t, dispatching())

	w.send(`42["b"]`)
	require.Equal(t, "b", <-handled)
	eventually(t, parked, "the dispatcher parks after the event")
	linger.tick(t)
	eventually(t, parked, "and again after the tick")
	require.True(t, dispatching(), "the same dispatcher")

	linger.tick(t) // a whole interval without a packet
	eventually(t, func() bool { return !dispatching() }, "an idle dispatcher exits")
	w.send(`42["c"]`)
	require.Equal(t, "c", <-handled, "a new dispatcher starts for the next packet")
}
