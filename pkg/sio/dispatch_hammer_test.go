package sio

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"
)

// hammerState is one socket's view of its own events: the handler must
// never run twice at once for it, and must see its events in order.
type hammerState struct {
	busy atomic.Bool
	last int
}

// Many connections connect, emit, get acks and broadcasts, and disconnect
// at once, while dispatcher goroutines end and are handed to the next
// connection at every (very frequent) linger tick: no connection's packets
// run on two goroutines at once or out of order, none is stranded, and
// each connection's CONNECT reply comes before the acks of the events it
// sent right behind its CONNECT.
func TestDispatchersUnderConnectionChurn(t *testing.T) {
	for _, tc := range readerCases {
		t.Run(tc.name, func(t *testing.T) { testDispatchersUnderChurn(t, tc.opts) })
	}
}

func testDispatchersUnderChurn(t *testing.T, opts Options) {
	s, base := startServer(t, opts)
	s.engine.linger = &pacer{interval: time.Millisecond}
	ns := s.Of("/g")
	violation := checkEventOrder(ns)
	defer broadcastUntil(ns, 100*time.Microsecond)() // broadcasts arrive during every CONNECT

	const clients, rounds, events = 24, 4, 20
	testenv.Concurrently(t, clients, func(c int) error {
		for r := range rounds {
			if err := hammerClient(base, events, (c+r)%2 == 0); err != nil {
				return fmt.Errorf("client %d round %d: %w", c, r, err)
			}
		}
		return nil
	})
	if v := violation.Load(); v != nil {
		t.Fatal(v)
	}
	eventually(t, func() bool { return s.engine.ConnCount() == 0 }, "every connection ended")
}

// hammerClient connects to /g, sends events right behind its CONNECT
// (without waiting for the reply), reads the reply and every ack in order
// among the broadcasts, and leaves with a close frame or by dropping the
// TCP connection.
func hammerClient(base string, events int, closeFrame bool) error {
	u := wsURL(base, "")
	c, _, err := websocket.DefaultDialer.Dial(u, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, b, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(b), "0{") {
		return fmt.Errorf("open: %q %v", b, err)
	}
	out := []string{"40/g,"}
	for i := 1; i <= events; i++ {
		out = append(out, fmt.Sprintf(`42/g,%d["e",%d]`, i, i))
	}
	for _, m := range out {
		if err := c.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			return err
		}
	}
	connected, next := false, 1
	for next <= events {
		_, b, err := c.ReadMessage()
		if err != nil {
			return fmt.Errorf("waiting for ack %d: %w", next, err)
		}
		m := string(b)
		switch {
		case m == "2", strings.HasPrefix(m, `42/g,["b",`):
		case strings.HasPrefix(m, `40/g,{"sid":"`):
			if connected {
				return fmt.Errorf("second CONNECT reply %q", m)
			}
			connected = true
		case strings.HasPrefix(m, "43/g,"):
			if !connected {
				return fmt.Errorf("ack %q before the CONNECT reply", m)
			}
			if want := fmt.Sprintf("43/g,%d[%d]", next, next); m != want {
				return fmt.Errorf("got %q, want %q", m, want)
			}
			next++
		default:
			return fmt.Errorf("unexpected %q", m)
		}
	}
	if closeFrame {
		_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
	}
	return nil
}

// Clients that close right behind their CONNECT (a close frame, or the TCP
// connection dropped) while the dispatcher writes its reply, and while
// broadcasts arrive: every connection ends, and no writer or dispatcher
// goroutine is left behind.
func TestCloseDuringConnectReply(t *testing.T) {
	for _, tc := range readerCases {
		t.Run(tc.name, func(t *testing.T) {
			s, base := startServer(t, tc.opts)
			ns := s.Of("/g")
			ns.OnConnection(func(so *Socket) { _ = so.Emit("hello", 1) })
			stopBroadcasts := broadcastUntil(ns, 100*time.Microsecond)
			u := wsURL(base, "")
			var wg sync.WaitGroup
			for i := range 64 {
				wg.Go(func() {
					c, _, err := websocket.DefaultDialer.Dial(u, nil)
					if err != nil {
						return
					}
					_ = c.WriteMessage(websocket.TextMessage, []byte("40/g,"))
					if i%2 == 0 {
						_ = c.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
					}
					_ = c.Close()
				})
			}
			wg.Wait()
			stopBroadcasts()
			eventually(t, func() bool { return s.engine.ConnCount() == 0 }, "every connection ended")
			eventually(t, func() bool { return s.engine.writers.Load() == 0 }, "no writer left")
			eventually(t, func() bool { return ns.SocketCount() == 0 }, "no socket left")
		})
	}
}

// Polling clients send their CONNECT and events in bodies of many packets
// while broadcasts arrive: each gets the CONNECT reply, then every ack in
// order, and its handler never runs twice at once or out of order.
func TestPollingBodiesUnderBroadcasts(t *testing.T) {
	s, base := startServer(t, Options{})
	ns := s.Of("/g")
	violation := checkEventOrder(ns)
	defer broadcastUntil(ns, 200*time.Microsecond)()

	const clients = 8
	testenv.Concurrently(t, clients, func(int) error { return pollingClient(base) })
	require.Nil(t, violation.Load())
}

// pollingClient opens a polling session, sends CONNECT and numbered events
// in a few bodies, then polls until every ack came: the CONNECT reply
// once and first, the acks in order, among heartbeats and broadcasts.
// Errors, not assertions: it runs on a goroutine of its own.
func pollingClient(base string) error {
	const bodies, perBody = 4, 10
	code, open, err := pollRequest(http.MethodGet, base+"/socket.io/?EIO=4&transport=polling", "")
	if err != nil || code != http.StatusOK {
		return fmt.Errorf("handshake: %d %v", code, err)
	}
	var hs struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(open, "0")), &hs); err != nil {
		return fmt.Errorf("handshake %q: %w", open, err)
	}
	u := pollURL(base, hs.SID)
	body := []string{"40/g,"}
	k := 0
	for range bodies {
		for range perBody {
			k++
			body = append(body, fmt.Sprintf(`42/g,%d["e",%d]`, k, k))
		}
		if code, _, err := pollRequest(http.MethodPost, u, strings.Join(body, "\x1e")); err != nil || code != http.StatusOK {
			return fmt.Errorf("post: %d %v", code, err)
		}
		body = body[:0]
	}
	connected, next := false, 1
	for deadline := time.Now().Add(20 * time.Second); next <= k; {
		if time.Now().After(deadline) {
			return fmt.Errorf("acks up to %d of %d within 20 s", next-1, k)
		}
		code, got, err := pollRequest(http.MethodGet, u, "")
		if err != nil || code != http.StatusOK {
			return fmt.Errorf("get: %d %v", code, err)
		}
		for _, m := range strings.Split(got, "\x1e") {
			switch {
			case m == "2", m == "6", strings.HasPrefix(m, `42/g,["b",`):
			case strings.HasPrefix(m, `40/g,{"sid":"`):
				if connected {
					return fmt.Errorf("a second CONNECT reply")
				}
				connected = true
			case !connected:
				return fmt.Errorf("ack %q before the CONNECT reply", m)
			case m != fmt.Sprintf("43/g,%d[%d]", next, next):
				return fmt.Errorf("got %q, want the ack of %d", m, next)
			default:
				next++
			}
		}
	}
	return nil
}

// pollRequest sends a polling GET or POST and returns its status and body.
func pollRequest(method, u, body string) (int, string, error) {
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// checkEventOrder acks every event of ns with its argument, a number, and
// keeps the first violation: a socket's handler running twice at once, or
// an event that is not the one after the last.
func checkEventOrder(ns *Namespace) *atomic.Value {
	var violation atomic.Value
	ns.OnConnection(func(so *Socket) { so.SetData(&hammerState{}) })
	ns.OnEvent(func(so *Socket, ev *Event) {
		st := so.Data().(*hammerState)
		if !st.busy.CompareAndSwap(false, true) {
			violation.CompareAndSwap(nil, "two goroutines ran one connection's packets")
			return
		}
		defer st.busy.Store(false)
		n, err := strconv.Atoi(string(ev.Args[0]))
		if err != nil || n != st.last+1 {
			violation.CompareAndSwap(nil, fmt.Sprintf("event %s after %d", ev.Args[0], st.last))
		}
		st.last = n
		_ = ev.Ack(n)
	})
	return &violation
}

// broadcastUntil broadcasts to ns every interval until the returned
// function is called.
func broadcastUntil(ns *Namespace, every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-time.After(every):
			}
			_ = ns.Emit("b", i)
		}
	})
	return func() { close(done); wg.Wait() }
}
