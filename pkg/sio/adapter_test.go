package sio

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
)

// cluster makes adapters that are nodes of one cluster.
type cluster interface {
	node(t *testing.T) Adapter
	// subscribed reports that a's subscription to namespace is live.
	subscribed(a Adapter, namespace string) bool
}

type memoryCluster struct{ first *MemoryAdapter }

func (c *memoryCluster) node(*testing.T) Adapter {
	if c.first == nil {
		c.first = NewMemoryAdapter()
		return c.first
	}
	return c.first.Peer()
}

func (*memoryCluster) subscribed(Adapter, string) bool { return true }

type redisCluster struct {
	client rueidis.Client
	prefix string
}

func (c *redisCluster) node(t *testing.T) Adapter {
	a, err := NewRedisAdapter(RedisAdapterOptions{Client: c.client, Prefix: c.prefix})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, a.Close()) })
	return a
}

func (*redisCluster) subscribed(a Adapter, namespace string) bool {
	return a.(*RedisAdapter).Subscribed(namespace)
}

// redisAddr is the Redis used by the integration tests; they are skipped
// when HUBD_TEST_REDIS_ADDR is not set.
func redisAddr(t testing.TB) string {
	t.Helper()
	addr := os.Getenv("HUBD_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("HUBD_TEST_REDIS_ADDR not set: Redis adapter tests skipped (scripts/test.sh with HUBD_TEST_SERVICES=1 provides it)")
	}
	return addr
}

func newRedisClient(t testing.TB, addr string) rueidis.Client {
	t.Helper()
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// clusters lists the adapter implementations the shared suites run against.
func clusters(t *testing.T) map[string]func(t *testing.T) cluster {
	return map[string]func(t *testing.T) cluster{
		"memory": func(*testing.T) cluster { return &memoryCluster{} },
		"redis": func(t *testing.T) cluster {
			client := newRedisClient(t, redisAddr(t))
			return &redisCluster{client: client, prefix: "hubd-test:" + newID() + ":"}
		},
	}
}

// collector records the messages a subscriber got.
type collector struct {
	mu  sync.Mutex
	got []BroadcastMessage
}

func (c *collector) fn(m *BroadcastMessage) {
	cp := *m
	cp.Data = append([]byte(nil), m.Data...)
	cp.Attachments = nil
	for _, a := range m.Attachments {
		cp.Attachments = append(cp.Attachments, append([]byte(nil), a...))
	}
	c.mu.Lock()
	c.got = append(c.got, cp)
	c.mu.Unlock()
}

func (c *collector) all() []BroadcastMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]BroadcastMessage(nil), c.got...)
}

func (c *collector) datas() []string {
	var out []string
	for _, m := range c.all() {
		out = append(out, string(m.Data))
	}
	return out
}

func subscribe(t *testing.T, cl cluster, a Adapter, namespace string) (*collector, func()) {
	t.Helper()
	c := &collector{}
	cancel, err := a.Subscribe(namespace, c.fn)
	require.NoError(t, err)
	t.Cleanup(cancel)
	eventually(t, func() bool { return cl.subscribed(a, namespace) }, "subscription live")
	return c, cancel
}

// TestAdapterConformance runs one suite against every Adapter.
func TestAdapterConformance(t *testing.T) {
	for name, mk := range clusters(t) {
		t.Run(name, func(t *testing.T) {
			t.Run("delivers to other nodes exactly once", func(t *testing.T) {
				cl := mk(t)
				a, b, c := cl.node(t), cl.node(t), cl.node(t)
				require.NotEqual(t, a.NodeID(), b.NodeID())
				ca, _ := subscribe(t, cl, a, "/hub/chat")
				cb, _ := subscribe(t, cl, b, "/hub/chat")
				cb2, _ := subscribe(t, cl, b, "/hub/chat")
				cc, _ := subscribe(t, cl, c, "/hub/chat")
				other, _ := subscribe(t, cl, b, "/hub/other")
				m := &BroadcastMessage{
					Namespace: "/hub/chat", Rooms: []string{"r1", "r2"}, Except: []string{"sid1"},
					Data: []byte(`["ev",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{0, 1, 2}},
				}
				require.NoError(t, a.Publish(m))
				require.NoError(t, a.Publish(&BroadcastMessage{Namespace: "/hub/chat", Data: []byte(`["end"]`)}))
				for _, col := range []*collector{cb, cb2, cc} {
					eventually(t, func() bool { return len(col.all()) == 2 }, "both messages")
					got := col.all()[0]
					require.Equal(t, a.NodeID(), got.Node)
					require.Equal(t, "/hub/chat", got.Namespace)
					require.Equal(t, []string{"r1", "r2"}, got.Rooms)
					require.Equal(t, []string{"sid1"}, got.Except)
					require.Equal(t, m.Data, got.Data)
					require.Equal(t, [][]byte{{0, 1, 2}}, got.Attachments)
					require.Equal(t, `["end"]`, string(col.all()[1].Data))
				}
				// A message published by c after the ones from a arrives
				// after them on a, so a got nothing of its own.
				require.NoError(t, c.Publish(&BroadcastMessage{Namespace: "/hub/chat", Data: []byte(`["from-c"]`)}))
				eventually(t, func() bool { return len(ca.all()) == 1 }, "a gets c's message")
				require.Equal(t, []string{`["from-c"]`}, ca.datas(), "a does not get its own broadcasts")
				require.Empty(t, other.all(), "other namespace")
			})
			t.Run("keeps order per publisher", func(t *testing.T) {
				cl := mk(t)
				a, b := cl.node(t), cl.node(t)
				cb, _ := subscribe(t, cl, b, "/n")
				want := make([]string, 200)
				for i := range want {
					want[i] = fmt.Sprintf(`[%d]`, i)
					require.NoError(t, a.Publish(&BroadcastMessage{Namespace: "/n", Data: []byte(want[i])}))
				}
				eventually(t, func() bool { return len(cb.all()) >= len(want) }, "all messages")
				require.Equal(t, want, cb.datas())
			})
			t.Run("cancel stops delivery", func(t *testing.T) {
				cl := mk(t)
				a, b := cl.node(t), cl.node(t)
				gone, cancel := subscribe(t, cl, b, "/n")
				kept, _ := subscribe(t, cl, b, "/n")
				cancel()
				require.NoError(t, a.Publish(&BroadcastMessage{Namespace: "/n", Data: []byte(`["x"]`)}))
				eventually(t, func() bool { return len(kept.all()) == 1 }, "kept subscriber")
				require.Empty(t, gone.all())
			})
		})
	}
}

func TestBroadcastMessageRoundTrip(t *testing.T) {
	cases := []BroadcastMessage{
		{Node: "n", Namespace: "/", Data: []byte(`["a"]`)},
		{Node: "n", Namespace: "/hub/x", Rooms: []string{"a", ""}, Except: []string{"b"}, Data: []byte(`["b",{"_placeholder":true,"num":0}]`), Attachments: [][]byte{{}, {1}}},
		{Node: "n", Namespace: "/hub/x", Data: []byte(`["cmd",{"op":"x"}]`), ServerSide: true},
	}
	for _, m := range cases {
		b, err := m.MarshalBinary()
		require.NoError(t, err)
		var got BroadcastMessage
		require.NoError(t, got.UnmarshalBinary(b))
		require.Equal(t, m, got)
		for i := range b {
			require.Error(t, new(BroadcastMessage).UnmarshalBinary(b[:i]), "truncated at %d", i)
		}
		require.ErrorIs(t, new(BroadcastMessage).UnmarshalBinary(append(b, 0)), ErrBadBroadcast)
		// Unknown flags are refused rather than misread.
		bad := slices.Clone(b)
		bad[len(bad)-1] |= 0x80
		require.ErrorIs(t, new(BroadcastMessage).UnmarshalBinary(bad), ErrBadBroadcast)
		// A version 1 message (no flags byte) from an older node decodes.
		if !m.ServerSide {
			v1 := append([]byte{broadcastVersionV1}, b[1:len(b)-1]...)
			var old BroadcastMessage
			require.NoError(t, old.UnmarshalBinary(v1))
			require.Equal(t, m, old)
		}
	}
}

func TestFromNode(t *testing.T) {
	enc := func(node string) string {
		b, err := (&BroadcastMessage{Node: node, Namespace: "/", Data: []byte(`["a"]`)}).MarshalBinary()
		require.NoError(t, err)
		return string(b)
	}
	long := strings.Repeat("n", 300) // a two-byte length
	cases := []struct {
		name, msg, node string
		want            bool
	}{
		{"same node", enc("node-1"), "node-1", true},
		{"other node", enc("node-2"), "node-1", false},
		{"prefix of the id", enc("node-12"), "node-1", false},
		{"long id", enc(long), long, true},
		{"empty", "", "node-1", false},
		{"version 1", "\x01" + enc("node-1")[1:], "node-1", true},
		{"bad version", "\x03" + enc("node-1")[1:], "node-1", false},
		{"truncated", enc("node-1")[:4], "node-1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, fromNode(tc.msg, tc.node))
		})
	}
}

func FuzzBroadcastMessage(f *testing.F) {
	good, _ := (&BroadcastMessage{Node: "n", Namespace: "/x", Rooms: []string{"r"}, Data: []byte(`["a"]`), Attachments: [][]byte{{1}}}).MarshalBinary()
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte{1, 0, 0, 0xff, 0xff, 0xff, 0x7f})
	f.Fuzz(func(t *testing.T, b []byte) {
		var m BroadcastMessage
		if m.UnmarshalBinary(b) != nil {
			return
		}
		again, err := m.MarshalBinary()
		require.NoError(t, err)
		var m2 BroadcastMessage
		require.NoError(t, m2.UnmarshalBinary(again))
		require.Equal(t, m, m2)
	})
}

// waitFor is how long cross-node tests wait for a delivery.
const waitFor = 5 * time.Second
