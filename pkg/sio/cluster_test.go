package sio

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// node is one hubd node of a test cluster: a Server whose namespace
// /hub/chat (alias /x/hub/chat) comes from a resolver, as in hubd.
type node struct {
	s     *Server
	ns    *Namespace
	base  string
	adapt Adapter
}

func startNode(t *testing.T, a Adapter) *node {
	t.Helper()
	s, base := startServer(t, Options{Adapter: a})
	ns := NewNamespace("/hub/chat")
	s.SetNamespaceResolver(func(name string) *Namespace {
		if strings.HasSuffix(name, "/hub/chat") {
			return ns
		}
		return nil
	})
	// auth {"rooms":[...]} lists the rooms the socket joins.
	ns.OnConnect(func(so *Socket, auth json.RawMessage) error {
		var a struct{ Rooms []string }
		if len(auth) > 0 {
			if err := json.Unmarshal(auth, &a); err != nil {
				return err
			}
		}
		so.SetData(a.Rooms)
		return nil
	})
	ns.OnConnection(func(so *Socket) { so.Join(so.Data().([]string)...) })
	return &node{s: s, ns: ns, base: base, adapt: a}
}

// member is a WebSocket client of a node, connected to nsp.
type member struct {
	*wsClient
	nsp string
	sid string
}

func (n *node) join(t *testing.T, nsp string, rooms ...string) *member {
	t.Helper()
	c := dialWS(t, n.base, "")
	c.readText()
	auth, err := json.Marshal(map[string][]string{"rooms": rooms})
	require.NoError(t, err)
	sid := c.connectNsp(nsp, string(auth))
	eventually(t, func() bool {
		for _, r := range rooms {
			found := false
			for _, so := range n.ns.SocketsIn(r) {
				found = found || so.ID() == sid
			}
			if !found {
				return false
			}
		}
		return true
	}, "rooms joined")
	return &member{wsClient: c, nsp: nsp, sid: sid}
}

// until reads events up to and including the one named last, and returns
// their names; binary attachments are checked against the placeholders.
func (m *member) until(last string) []string {
	m.t.Helper()
	var names []string
	prefix := "42" + m.nsp + ","
	binPrefix := "451-" + m.nsp + ","
	for {
		msg := m.readText()
		var arr []json.RawMessage
		switch {
		case strings.HasPrefix(msg, prefix):
			require.NoError(m.t, json.Unmarshal([]byte(msg[len(prefix):]), &arr), msg)
		case strings.HasPrefix(msg, binPrefix):
			require.NoError(m.t, json.Unmarshal([]byte(msg[len(binPrefix):]), &arr), msg)
			att, bin := m.read()
			require.True(m.t, bin)
			require.Equal(m.t, "\x01\x02", att)
		default:
			m.t.Fatalf("unexpected packet %q (namespace %s)", msg, m.nsp)
		}
		var name string
		require.NoError(m.t, json.Unmarshal(arr[0], &name))
		names = append(names, name)
		if name == last {
			return names
		}
	}
}

// TestTwoNodeBroadcast: clients on two nodes in the same room; a broadcast
// on node A reaches the clients of node B exactly once, Except works across
// nodes, aliases keep their names, and node B's broadcasts reach node A.
func TestTwoNodeBroadcast(t *testing.T) {
	for name, mk := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			cl := mk(t)
			a, b := startNode(t, cl.node(t)), startNode(t, cl.node(t))
			a1 := a.join(t, "/hub/chat", "room")
			b1 := b.join(t, "/hub/chat", "room")
			b2 := b.join(t, "/x/hub/chat", "room")
			b3 := b.join(t, "/hub/chat", "room", "muted")
			b4 := b.join(t, "/hub/chat")
			for _, n := range []*node{a, b} {
				eventually(t, func() bool { return cl.subscribed(n.adapt, "/hub/chat") }, "subscribed")
			}
			require.Equal(t, 1, a.ns.RoomSize("room"), "room membership is node-local")
			require.Equal(t, 3, b.ns.RoomSize("room"))

			require.NoError(t, a.ns.To("room").Except("muted").Emit("msg", "hello", []byte{1, 2}))
			require.NoError(t, a.ns.To("room").Except(b1.sid).Emit("two"))
			require.NoError(t, a.ns.Emit("all"))

			require.Equal(t, []string{"msg", "two", "all"}, a1.until("all"))
			require.Equal(t, []string{"msg", "all"}, b1.until("all"))
			require.Equal(t, []string{"msg", "two", "all"}, b2.until("all"))
			require.Equal(t, []string{"two", "all"}, b3.until("all"))
			require.Equal(t, []string{"all"}, b4.until("all"))
			require.Equal(t, uint64(3), b.s.Stats().RemoteBroadcasts)

			require.NoError(t, b.ns.To("room").Except(b2.sid).Emit("fromB"))
			require.Equal(t, []string{"fromB"}, a1.until("fromB"))
			require.Equal(t, []string{"fromB"}, b1.until("fromB"))
			require.Equal(t, []string{"fromB"}, b3.until("fromB"))
			require.Equal(t, uint64(1), a.s.Stats().RemoteBroadcasts)
			require.Zero(t, a.s.Stats().AdapterErrors)
		})
	}
}

// TestServerSideEmit: an event sent with ServerSideEmit reaches the
// namespace handler of every other node, with its arguments and binary
// attachments, never a socket and never the sending node.
func TestServerSideEmit(t *testing.T) {
	for name, mk := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			cl := mk(t)
			a, b, c := startNode(t, cl.node(t)), startNode(t, cl.node(t)), startNode(t, cl.node(t))
			type got struct {
				name string
				args []string
				atts [][]byte
			}
			var mu sync.Mutex
			seen := map[*node][]got{}
			for _, n := range []*node{a, b, c} {
				n.ns.OnServerSideEvent(func(ev *Event) {
					g := got{name: ev.Name, atts: ev.Attachments}
					for _, a := range ev.Args {
						g.args = append(g.args, string(a))
					}
					mu.Lock()
					seen[n] = append(seen[n], g)
					mu.Unlock()
				})
				require.NoError(t, n.s.Attach(n.ns))
				eventually(t, func() bool { return cl.subscribed(n.adapt, "/hub/chat") }, "subscribed")
			}
			sock := b.join(t, "/hub/chat", "room")
			require.NoError(t, a.ns.ServerSideEmit("kick", map[string]string{"user": "u1"}, []byte{7, 8}))
			require.NoError(t, a.ns.To("room").Emit("after"))
			// The socket on b sees the broadcast, not the server-side event.
			require.Equal(t, []string{"after"}, sock.until("after"))
			want := got{name: "kick", args: []string{`{"user":"u1"}`, `{"_placeholder":true,"num":0}`}, atts: [][]byte{{7, 8}}}
			for _, n := range []*node{b, c} {
				eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen[n]) == 1 }, "delivered")
				mu.Lock()
				require.Equal(t, want, seen[n][0])
				mu.Unlock()
			}
			mu.Lock()
			require.Empty(t, seen[a], "not delivered to the sender")
			mu.Unlock()
			require.Equal(t, uint64(1), b.s.Stats().RemoteBroadcasts, "server-side events are not broadcasts")
		})
	}
}

func TestServerSideEmitWithoutAdapterIsNoop(t *testing.T) {
	ns := NewNamespace("/hub/chat")
	called := false
	ns.OnServerSideEvent(func(*Event) { called = true })
	require.NoError(t, ns.ServerSideEmit("x", 1))
	require.False(t, called)
}

// proxy is a TCP relay to Redis that can be cut to simulate an outage.
type proxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup

	gate sync.RWMutex // write-locked: nothing is relayed

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
}

func startProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		_ = ln.Close()
		p.setDown(true)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		r, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns[c], p.conns[r] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			buf := make([]byte, 32<<10)
			for {
				n, err := src.Read(buf)
				if n > 0 {
					p.gate.RLock() // held for writing while stalled
					_, werr := dst.Write(buf[:n])
					p.gate.RUnlock()
					if werr != nil {
						break
					}
				}
				if err != nil {
					break
				}
			}
			_ = dst.Close()
			_ = src.Close()
		}
		p.wg.Go(func() { pipe(r, c) })
		p.wg.Go(func() { pipe(c, r) })
	}
}

// stall stops relaying without closing anything; the returned func resumes.
func (p *proxy) stall() (resume func()) {
	p.gate.Lock()
	var once sync.Once
	return func() { once.Do(p.gate.Unlock) }
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for c := range p.conns {
			_ = c.Close()
		}
		clear(p.conns)
	}
}

// TestRedisOutage: while node A cannot reach Redis its broadcasts still
// reach its own sockets and Emit does not fail; failures are counted; when
// Redis is back the subscription is restored and broadcasts cross again.
func TestRedisOutage(t *testing.T) {
	addr := redisAddr(t)
	prefix := "hubd-test:" + newID() + ":"
	p := startProxy(t, addr)
	adA, err := NewRedisAdapter(RedisAdapterOptions{Client: newRedisClient(t, p.ln.Addr().String()), Prefix: prefix})
	require.NoError(t, err)
	t.Cleanup(func() { _ = adA.Close() })
	adB, err := NewRedisAdapter(RedisAdapterOptions{Client: newRedisClient(t, addr), Prefix: prefix})
	require.NoError(t, err)
	t.Cleanup(func() { _ = adB.Close() })
	a, b := startNode(t, adA), startNode(t, adB)
	a1 := a.join(t, "/hub/chat", "room")
	b1 := b.join(t, "/hub/chat", "room")
	eventually(t, func() bool { return adA.Subscribed("/hub/chat") && adB.Subscribed("/hub/chat") }, "subscribed")
	require.NoError(t, a.ns.To("room").Emit("before"))
	require.Equal(t, []string{"before"}, b1.until("before"))

	p.setDown(true)
	eventually(t, func() bool { return !adA.Subscribed("/hub/chat") }, "subscription lost")
	errs := adA.Stats().PublishErrors
	require.NoError(t, a.ns.To("room").Emit("during"))
	require.Equal(t, []string{"before", "during"}, a1.until("during"), "local delivery without Redis")
	eventually(t, func() bool { return adA.Stats().PublishErrors > errs }, "publish failure counted")

	p.setDown(false)
	require.Eventually(t, func() bool { return adA.Subscribed("/hub/chat") }, 15*time.Second, 10*time.Millisecond, "resubscribed")
	require.Positive(t, adA.Stats().Reconnects)
	published := adA.Stats().Published
	require.Eventually(t, func() bool {
		_ = a.ns.To("room").Emit("probe")
		return adA.Stats().Published > published
	}, 15*time.Second, 20*time.Millisecond, "publishing again")
	require.NoError(t, a.ns.To("room").Emit("after"))
	got := b1.until("after")
	require.NotContains(t, got, "during")
	require.NoError(t, b.ns.To("room").Emit("back"))
	names := a1.until("back")
	require.Equal(t, "back", names[len(names)-1])
}

// TestRedisBackpressure: a node that cannot keep up drops what overflows its
// delivery queue (counted) and never slows the publisher; a publisher whose
// Redis stalls keeps serving its own sockets and drops what overflows its
// publish queue (counted), without Emit blocking or failing.
func TestRedisBackpressure(t *testing.T) {
	addr := redisAddr(t)
	prefix := "hubd-test:" + newID() + ":"
	p := startProxy(t, addr)
	mk := func(client string) *RedisAdapter {
		a, err := NewRedisAdapter(RedisAdapterOptions{Client: newRedisClient(t, client), Prefix: prefix, PublishQueue: 4, DeliveryQueue: 4})
		require.NoError(t, err)
		t.Cleanup(func() { _ = a.Close() })
		return a
	}
	pub, slow := mk(addr), mk(p.ln.Addr().String())

	t.Run("slow subscriber", func(t *testing.T) {
		release := make(chan struct{})
		var got sync.WaitGroup
		got.Add(1)
		var once sync.Once
		cancel, err := slow.Subscribe("/slow", func(*BroadcastMessage) {
			once.Do(got.Done)
			<-release
		})
		require.NoError(t, err)
		defer cancel()
		eventually(t, func() bool { return slow.Subscribed("/slow") }, "subscribed")
		const n = 200
		sent := 0
		for sent < n {
			// The publisher's own queue is small too: pace on it, not on
			// the subscriber.
			if pub.Publish(&BroadcastMessage{Namespace: "/slow", Data: []byte(`["x"]`)}) == nil {
				sent++
			}
		}
		eventually(t, func() bool { return pub.Stats().Published == n }, "publisher not held back by the slow node")
		got.Wait()
		eventually(t, func() bool { return slow.Stats().DeliveryDropped > 0 }, "overflow dropped and counted")
		close(release)
		require.Less(t, slow.Stats().Received, uint64(n))
	})

	t.Run("stalled Redis", func(t *testing.T) {
		s, base := startServer(t, Options{Adapter: slow})
		ns := s.Of("/stall")
		c := dialWS(t, base, "")
		c.readText()
		c.connectNsp("/stall", "")
		eventually(t, func() bool { return slow.Subscribed("/stall") }, "subscribed")
		resume := p.stall()
		defer resume()
		for i := 0; i < 20; i++ {
			require.NoError(t, ns.Emit("tick", i))
		}
		for i := 0; i < 20; i++ {
			require.Equal(t, fmt.Sprintf(`42/stall,["tick",%d]`, i), c.readText(), "local delivery while Redis stalls")
		}
		require.Positive(t, slow.Stats().PublishDropped)
		require.Equal(t, slow.Stats().PublishDropped, s.Stats().AdapterErrors)
	})
}
