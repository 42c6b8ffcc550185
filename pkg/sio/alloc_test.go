package sio

import (
	"encoding/json"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeSockets adds n sockets with real queues (no transport) to ns.
func fakeSockets(t testing.TB, s *Server, ns *Namespace, n int, room string) []*EngineConn {
	t.Helper()
	conns := make([]*EngineConn, n)
	req, _ := http.NewRequest("GET", "/socket.io/", nil)
	for i := range conns {
		c := s.engine.newConn(req, "polling")
		cl := &client{s: s, conn: c}
		c.Data = cl
		so := &Socket{id: newID(), nsp: ns.Name(), ns: ns, client: cl, done: make(chan struct{})}
		so.connected.Store(true)
		s.sockets.Add(1)
		cl.sockets = append(cl.sockets, so)
		ns.add(so, s.engine.stats)
		so.Join(room)
		conns[i] = c
	}
	return conns
}

func drain(conns []*EngineConn) {
	for _, c := range conns {
		for c.pop() != nil {
		}
	}
}

// A broadcast encodes once: its allocations do not grow with the number of
// recipients, and every recipient gets the very same frames.
func TestBroadcastEncodesOnce(t *testing.T) {
	s := NewServer(Options{})
	ns := s.Of("/room-test")
	payload := json.RawMessage(`{"roomId":"r1","content":"hello"}`)
	allocs := func(n int) float64 {
		conns := fakeSockets(t, s, ns, n, "r")
		defer func() {
			for _, c := range conns {
				c.Data.(*client).disconnectAll("done", false)
			}
		}()
		return testing.AllocsPerRun(50, func() {
			require.NoError(t, ns.To("r").Emit("hub:messageArrived", payload))
			drain(conns)
		})
	}
	small, large := allocs(10), allocs(500)
	t.Logf("allocs per broadcast: %v to 10 sockets, %v to 500", small, large)
	require.LessOrEqual(t, large, small+1, "allocations grow with recipients: %v for 10, %v for 500", small, large)
	require.Less(t, large, 10.0)

	conns := fakeSockets(t, s, ns, 3, "same")
	require.NoError(t, ns.To("same").Emit("x", []byte{1}))
	first := conns[0].pop()
	require.Len(t, first.frames, 2)
	for _, c := range conns[1:] {
		require.Same(t, first, c.pop())
	}
}

// BenchmarkBroadcastQueue is a broadcast with a recovery offset queued to
// the sockets of a room (rooms of the daemon's "rooms" and "fanout"
// scenarios), without a transport: the encoding and the queueing, not the
// writes. b.N broadcasts; the queues are drained every 64.
//
//	go test -run '^$' -bench BenchmarkBroadcastQueue -benchmem ./pkg/sio
func BenchmarkBroadcastQueue(b *testing.B) {
	payload := json.RawMessage(`{"roomId":"r1","message":{"id":"0001","userId":"u1","content":"` + strings.Repeat("hello ", 24) + `"}}`)
	for _, size := range []int{10, 1000} {
		b.Run("sockets="+strconv.Itoa(size), func(b *testing.B) {
			s := NewServer(Options{WriteQueueSize: 1 << 10})
			ns := s.Of("/hub/chat")
			ns.SetRecovery(true)
			conns := fakeSockets(b, s, ns, size, "r")
			bc := ns.To("r").Local()
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := bc.Offset("17.1700000000123.r1").Emit("hub:messageArrived", payload); err != nil {
					b.Fatal(err)
				}
				if i%64 == 63 {
					drain(conns)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*size), "ns/delivery")
		})
	}
}

// A broadcast that reaches no local socket builds no frame (its arguments
// cannot fail to encode, so there is no error to report either); one that
// reaches sockets sends the frame an eager encoding makes, byte for byte.
func TestBroadcastWithoutLocalRecipientBuildsNothing(t *testing.T) {
	s := NewServer(Options{})
	ns := s.Of("/lazy")
	payload := json.RawMessage(`{"roomId":"r1","content":"hello"}`)
	conns := fakeSockets(t, s, ns, 2, "full")
	empty := testing.AllocsPerRun(50, func() {
		require.NoError(t, ns.To("empty").Emit("hub:messageArrived", payload))
	})
	full := testing.AllocsPerRun(50, func() {
		require.NoError(t, ns.To("full").Emit("hub:messageArrived", payload))
		drain(conns)
	})
	local := testing.AllocsPerRun(50, func() {
		require.NoError(t, ns.To("empty").Local().Emit("hub:messageArrived", payload))
	})
	t.Logf("allocs per broadcast: %v to no socket (%v local only), %v to 2", empty, local, full)
	require.LessOrEqual(t, empty+2, full, "a broadcast to nobody builds its frame")
	require.LessOrEqual(t, local+2, full, "a local broadcast to nobody builds its frame")

	require.NoError(t, ns.To("full").Emit("hub:messageArrived", payload, "x", 7, true, nil))
	f, _, _, err := encodeEventFrame("/lazy", "hub:messageArrived", []any{payload, "x", 7, true, nil}, "")
	require.NoError(t, err)
	for _, c := range conns {
		o := c.pop()
		require.Len(t, o.frames, 1)
		require.Equal(t, frameWire(f), frameWire(o.frames[0]))
	}
	// Arguments that may fail to encode are encoded first: the error is
	// the caller's, recipients or not.
	require.Error(t, ns.To("empty").Emit("x", make(chan int)))
	require.Error(t, ns.To("full").Emit("x", math.NaN()))
	require.Nil(t, conns[0].pop())
}

// LocalTo is the target the chain To(room).Local().OffsetKey(offset, key)
// builds, in one allocation.
func TestLocalToIsTheChain(t *testing.T) {
	ns := NewServer(Options{}).Of("/chain")
	key := &struct{ n int }{7}
	for _, tc := range []struct {
		offset string
		key    any
	}{{"", nil}, {"12.1700000000000.r1", nil}, {"12.1700000000000.r1", key}} {
		want := ns.To("r1").Local().OffsetKey(tc.offset, tc.key)
		got := ns.LocalTo("r1", tc.offset, tc.key)
		require.Equal(t, *want, *got)
	}
	var sink *Broadcast
	require.LessOrEqual(t, testing.AllocsPerRun(50, func() { sink = ns.LocalTo("r1", "o", key) }), 1.0)
	require.NotNil(t, sink)
}
