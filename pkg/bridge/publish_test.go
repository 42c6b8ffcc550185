package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/hubd/hubd/pkg/msgstore"
)

// openOutboxStore opens an embedded store with an outbox at path.
func openOutboxStore(t testing.TB, path string) *msgstore.Embedded {
	t.Helper()
	s, err := msgstore.OpenEmbedded(path, msgstore.EmbeddedOptions{Outbox: true, NoSync: true})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// say stores a text message in hub chatHub as the hub does.
func say(t testing.TB, s msgstore.Store, room, text string) *msgstore.Message {
	t.Helper()
	m, created, err := s.Append(context.Background(), &msgstore.Message{HubName: "chatHub", RoomID: room, SenderID: "u1",
		MessageType: "text", Content: json.RawMessage(fmt.Sprintf(`{"body":%q}`, text)), Status: msgstore.StatusPublished})
	require.NoError(t, err)
	require.True(t, created)
	return m
}

// event is one consumed message event.
type event struct {
	Topic, Key, Hub, ID, Op, Seq string
	Value                        map[string]any
}

// collector reads every message event topic of chatHub from the start.
type collector struct {
	cl *kgo.Client
	mu sync.Mutex
	ev []event
}

func newCollector(t testing.TB, addrs []string) *collector {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.ConsumeTopics("svc-dbevent-chatMessage-created", "svc-dbevent-chatMessage-updated", "svc-dbevent-chatMessage-deleted"),
		kgo.MetadataMinAge(50*time.Millisecond), kgo.FetchMaxWait(200*time.Millisecond))
	require.NoError(t, err)
	t.Cleanup(cl.Close)
	return &collector{cl: cl}
}

func header(r *kgo.Record, k string) string {
	for _, h := range r.Headers {
		if h.Key == k {
			return string(h.Value)
		}
	}
	return ""
}

// poll reads what arrived.
func (c *collector) poll() {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c.cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
		var v map[string]any
		_ = json.Unmarshal(r.Value, &v)
		c.mu.Lock()
		c.ev = append(c.ev, event{Topic: r.Topic, Key: string(r.Key), Hub: header(r, HeaderHub), ID: header(r, HeaderEventID),
			Op: header(r, HeaderOp), Seq: header(r, HeaderSeq), Value: v})
		c.mu.Unlock()
	})
}

// waitDistinct polls until n distinct event ids arrived and returns every
// event read, duplicates included.
func (c *collector) waitDistinct(t testing.TB, n int) []event {
	t.Helper()
	require.Eventually(t, func() bool {
		c.poll()
		return len(distinct(c.events())) >= n
	}, 3*waitFor, tick, "want %d distinct events", n)
	return c.events()
}

func (c *collector) events() []event {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]event(nil), c.ev...)
}

func distinct(evs []event) map[string]event {
	out := map[string]event{}
	for _, e := range evs {
		out[e.ID] = e
	}
	return out
}

// requireRoomOrder checks that each room's created events (first
// occurrences) have seqs increasing by one, starting at 1 when fromStart
// (else at any seq: a cluster that lost its data holds only later events).
func requireRoomOrder(t testing.TB, evs []event, fromStart bool) {
	t.Helper()
	seen := map[string]bool{}
	last := map[string]float64{}
	for _, e := range evs {
		if e.Op != OpCreated || seen[e.ID] {
			continue
		}
		seen[e.ID] = true
		seq := e.Value["seq"].(float64)
		if l, ok := last[e.Key]; ok || fromStart {
			require.Equal(t, l+1, seq, "room %s: created events in seq order", e.Key)
		}
		last[e.Key] = seq
	}
}

func TestPublishFromOutbox(t *testing.T) {
	e := newEnv(t)
	st := openOutboxStore(t, filepath.Join(t.TempDir(), "messages.db"))
	h := newFakeHub(t, chatSpec("chatHub"))
	b, _ := startBridgeWith(t, Options{Brokers: e.addrs, Group: groupName(t), Outbox: st, PublishTimeout: time.Minute}, h)
	ctx := context.Background()
	m1 := say(t, st, "r1", "one")
	say(t, st, "r1", "two")
	say(t, st, "r2", "three")
	_, err := st.Update(ctx, "chatHub", m1.ID, func(m *msgstore.Message) error {
		m.Content = json.RawMessage(`{"body":"one!"}`)
		m.Change = &msgstore.Change{Kind: msgstore.ChangeEdited, By: "alice", At: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
		return nil
	})
	require.NoError(t, err)
	_, err = st.Update(ctx, "chatHub", m1.ID, func(m *msgstore.Message) error {
		m.Status = msgstore.StatusDeleted
		m.Change = &msgstore.Change{Kind: msgstore.ChangeDeleted, By: "mod", At: time.Date(2026, 12, 1, 0, 0, 1, 0, time.UTC)}
		return nil
	})
	require.NoError(t, err)
	b.MessageEvent(ctx, nil, "", nil) // what a hub calls after a commit

	c := newCollector(t, e.addrs)
	evs := c.waitDistinct(t, 5)
	require.Len(t, evs, 5, "each event once while the broker is healthy")
	var ops []string
	for _, ev := range evs {
		ops = append(ops, ev.Topic+" "+ev.Key)
		require.Equal(t, "chatHub", ev.Hub)
		require.NotEmpty(t, ev.ID)
		require.Equal(t, fmt.Sprint(ev.Value["seq"]), ev.Seq)
	}
	require.ElementsMatch(t, []string{
		"svc-dbevent-chatMessage-created chatHub/r1", "svc-dbevent-chatMessage-created chatHub/r1",
		"svc-dbevent-chatMessage-created chatHub/r2", "svc-dbevent-chatMessage-updated chatHub/r1",
		"svc-dbevent-chatMessage-deleted chatHub/r1",
	}, ops)
	requireRoomOrder(t, evs, true)
	for _, ev := range evs {
		switch ev.Op {
		case OpCreated:
			require.NotContains(t, ev.Value, "rev", "a message never changed")
			require.NotContains(t, ev.Value, "change")
		case OpUpdated:
			require.Equal(t, map[string]any{"body": "one!"}, ev.Value["content"])
			require.Equal(t, true, ev.Value["isActive"])
			require.Equal(t, 1.0, ev.Value["rev"], "the room's change number")
			require.Equal(t, map[string]any{"kind": "edited", "by": "alice", "at": "2026-12-01T00:00:00.000Z"}, ev.Value["change"])
		case OpDeleted:
			require.Equal(t, "deleted", ev.Value["status"])
			require.Equal(t, false, ev.Value["isActive"])
			require.Equal(t, 2.0, ev.Value["rev"])
			require.Equal(t, map[string]any{"kind": "deleted", "by": "mod", "at": "2026-12-01T00:00:01.000Z"}, ev.Value["change"])
		}
	}
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(b.health.outboxDepth) == 0 && testutil.ToFloat64(b.health.outboxAge) == 0
	}, waitFor, tick)
	require.Equal(t, 1.0, testutil.ToFloat64(b.health.up))
}

func TestPublishSkipsHubsWithoutMessageObject(t *testing.T) {
	e := newEnv(t)
	st := openOutboxStore(t, filepath.Join(t.TempDir(), "messages.db"))
	s := chatSpec("chatHub")
	s.MessageSettings.DataObjectName = ""
	obs := newObserved()
	startBridgeWith(t, Options{Brokers: e.addrs, Group: groupName(t), Outbox: st, Observer: obs.observe}, newFakeHub(t, s))
	say(t, st, "r1", "one")
	require.Eventually(t, func() bool { return obs.get("out/message/skipped") == 1 }, waitFor, tick)
	waitOutboxEmpty(t, st)
}

func waitOutboxEmpty(t testing.TB, st msgstore.Outbox) {
	t.Helper()
	require.Eventually(t, func() bool {
		s, err := st.OutboxStats(context.Background())
		return err == nil && s.Depth == 0
	}, waitFor, tick, "outbox empty")
}

// freePort returns a port nothing listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// portCluster is a kfake cluster on a fixed port that a test can kill and
// start again empty (a broker that lost its data, a new cluster at the
// same address).
type portCluster struct {
	t     testing.TB
	port  int
	mu    sync.Mutex
	c     *kfake.Cluster
	addrs []string
}

func newPortCluster(t testing.TB, topics ...string) *portCluster {
	t.Helper()
	p := &portCluster{t: t, port: freePort(t)}
	p.start(topics...)
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.c != nil {
			p.c.Close()
		}
	})
	return p
}

func (p *portCluster) start(topics ...string) {
	p.t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(p.port), kfake.AllowAutoTopicCreation()}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(1, topics...))
	}
	var c *kfake.Cluster
	require.Eventually(p.t, func() bool {
		var err error
		c, err = kfake.NewCluster(opts...)
		return err == nil
	}, waitFor, tick, "port %d free again", p.port)
	p.mu.Lock()
	p.c, p.addrs = c, c.ListenAddrs()
	p.mu.Unlock()
}

func (p *portCluster) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.c.Close()
	p.c = nil
}

func (p *portCluster) cluster() *kfake.Cluster {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.c
}

func TestPublishAcrossBrokerLosingItsData(t *testing.T) {
	pc := newPortCluster(t)
	st := openOutboxStore(t, filepath.Join(t.TempDir(), "messages.db"))
	b, _ := startBridgeWith(t, Options{Brokers: pc.addrs, Group: groupName(t), Outbox: st}, newFakeHub(t, chatSpec("chatHub")))
	for i := range 20 {
		say(t, st, fmt.Sprint("r", i%3), "before")
	}
	newCollector(t, pc.addrs).waitDistinct(t, 20)
	// Acknowledged and removed: a batch whose acknowledgement the kill
	// cuts off is published again (at least once), not what is counted here.
	waitOutboxEmpty(t, st)

	pc.kill()
	for i := range 30 {
		say(t, st, fmt.Sprint("r", i%3), "during")
	}
	require.Eventually(t, func() bool { return testutil.ToFloat64(b.health.up) == 0 }, waitFor, tick, "degraded while the broker is gone")
	pc.start() // empty: the broker lost every topic and group

	c := newCollector(t, pc.addrs)
	evs := c.waitDistinct(t, 30)
	got := distinct(evs)
	require.Len(t, got, 30, "exactly the events of the outage reach the new cluster")
	for _, e := range got {
		require.Equal(t, "during", e.Value["content"].(map[string]any)["body"])
	}
	requireRoomOrder(t, evs, false)
	require.Eventually(t, func() bool { return testutil.ToFloat64(b.health.up) == 1 }, waitFor, tick)
	require.Positive(t, testutil.CollectAndCount(b.health.produceFailures))
}

func TestPublishRecreatedTopic(t *testing.T) {
	pc := newPortCluster(t)
	st := openOutboxStore(t, filepath.Join(t.TempDir(), "messages.db"))
	// A batch never times out here: the metadata check finds the new
	// topic id and the waiting batch goes again with a new producer.
	b, _ := startBridgeWith(t, Options{Brokers: pc.addrs, Group: groupName(t), Outbox: st, PublishTimeout: time.Hour}, newFakeHub(t, chatSpec("chatHub")))
	for range 10 {
		say(t, st, "r1", "before")
	}
	newCollector(t, pc.addrs).waitDistinct(t, 10)
	waitOutboxEmpty(t, st)
	waitChecked(t, b)

	adm, err := kgo.NewClient(kgo.SeedBrokers(pc.addrs...))
	require.NoError(t, err)
	defer adm.Close()
	ctx := context.Background()
	_, err = kadm.NewClient(adm).DeleteTopic(ctx, "svc-dbevent-chatMessage-created")
	require.NoError(t, err)
	_, err = kadm.NewClient(adm).CreateTopic(ctx, 1, 1, nil, "svc-dbevent-chatMessage-created")
	require.NoError(t, err)
	for range 15 {
		say(t, st, "r1", "after")
	}
	evs := newCollector(t, pc.addrs).waitDistinct(t, 15)
	got := distinct(evs)
	require.Len(t, got, 15, "the recreated topic gets exactly the later events")
	requireRoomOrder(t, evs, false)
	for _, e := range got {
		require.Equal(t, "after", e.Value["content"].(map[string]any)["body"])
	}
	require.Positive(t, testutil.ToFloat64(b.health.produceFailures.WithLabelValues(ReasonRecreated)))
}

func TestPublishFrozenBrokerShutdownKeepsEvents(t *testing.T) {
	pc := newPortCluster(t)
	path := filepath.Join(t.TempDir(), "messages.db")
	st := openOutboxStore(t, path)
	hubs := newFakeHub(t, chatSpec("chatHub"))
	_, stop := startBridgeWith(t, Options{Brokers: pc.addrs, Group: groupName(t), Outbox: st, PublishTimeout: time.Minute}, hubs)
	say(t, st, "r1", "first")
	newCollector(t, pc.addrs).waitDistinct(t, 1)
	waitOutboxEmpty(t, st)

	thaw := make(chan struct{})
	c := pc.cluster()
	c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		<-thaw
		return nil, nil, false
	})
	defer close(thaw)
	for range 20 {
		say(t, st, "r1", "frozen")
	}
	time.Sleep(300 * time.Millisecond) // the publisher is waiting on the frozen broker
	start := time.Now()
	stop()
	require.Less(t, time.Since(start), 3*time.Second, "shutdown does not wait for the broker")
	stats, err := st.OutboxStats(context.Background())
	require.NoError(t, err)
	require.EqualValues(t, 20, stats.Depth, "the unacknowledged events stay in the outbox")
}
