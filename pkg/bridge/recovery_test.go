package bridge

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hubd/hubd/pkg/hub"
)

const joinedTopic = "svc-dbevent-chatMember-created"

// memberHub is a hub consuming only membership created events.
func memberHub(t testing.TB) *fakeHub {
	s := chatSpec("chatHub")
	s.EventSettings.KafkaEvents = nil
	return newFakeHub(t, s)
}

// joined lists the users announced by hub:memberJoined, in order,
// duplicates included.
func joined(h *fakeHub) []string {
	var out []string
	for _, c := range h.snapshot() {
		if c.Op == "emit" && c.Event == EventMemberJoined {
			out = append(out, c.Payload["userId"].(string))
		}
	}
	return out
}

// produceJoins produces n membership created events for users from..from+n-1
// with a new client (the producing service is not the one under test).
func produceJoins(t testing.TB, addrs []string, from, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.AllowAutoTopicCreation())
	require.NoError(t, err)
	defer cl.Close()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		u := from + i
		recs[i] = &kgo.Record{Topic: joinedTopic, Key: fmt.Appendf(nil, "m%d", u), Value: fmt.Appendf(nil, `{"id":"m%d","chatId":"r1","userId":"u%d"}`, u, u)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, cl.ProduceSync(ctx, recs...).FirstErr())
}

// waitJoined waits until users u0..u(n-1) joined, each exactly once.
func waitJoined(t testing.TB, h *fakeHub, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return len(joined(h)) >= n }, 3*waitFor, tick, "joined %d of %d", len(joined(h)), n)
	got := joined(h)
	want := make([]string, n)
	for i := range want {
		want[i] = fmt.Sprint("u", i)
	}
	require.Equal(t, want, got, "every event applied once, in order")
}

func TestConsumeAcrossBrokerLosingItsData(t *testing.T) {
	pc := newPortCluster(t, joinedTopic)
	h := memberHub(t)
	core, logs := observer.New(zap.InfoLevel)
	b, _ := startBridgeWith(t, Options{Brokers: pc.addrs, Group: groupName(t), Logger: zap.New(core), LogEvery: time.Hour}, h)
	produceJoins(t, pc.addrs, 0, 20)
	waitJoined(t, h, 20)

	pc.kill()
	require.Eventually(t, func() bool { return testutil.ToFloat64(b.health.up) == 0 }, waitFor, tick)
	// The consumer may notice first; the metadata check follows within its interval.
	require.Eventually(t, func() bool { return slices.Contains(b.Degraded(), "broker: connection") }, waitFor, tick)
	time.Sleep(time.Second) // an outage long enough for many failed fetches and checks
	pc.start(joinedTopic)   // empty: no records, no group offsets
	produceJoins(t, pc.addrs, 20, 30)
	waitJoined(t, h, 50)
	require.Eventually(t, func() bool { return testutil.ToFloat64(b.health.up) == 1 }, waitFor, tick)
	// Logs about one failure are limited: the first line, then counts.
	for _, msg := range []string{"broker metadata request failed", "fetch failed"} {
		perReason := map[any]int{}
		for _, l := range logs.FilterMessage(msg).All() {
			perReason[l.ContextMap()["reason"]]++
		}
		for reason, n := range perReason {
			require.Equal(t, 1, n, "%q lines with reason %v", msg, reason)
		}
	}
	require.Equal(t, 1, logs.FilterMessage("bridge degraded").FilterField(zap.String("part", PartBroker)).Len())
	require.Zero(t, testutil.ToFloat64(b.health.lag.WithLabelValues(joinedTopic)), "caught up")
}

// consuming starts a cluster on a fixed port and a bridge consuming it
// that applied n membership events.
func consuming(t *testing.T, n int) (*portCluster, *fakeHub, *Bridge) {
	t.Helper()
	pc := newPortCluster(t, joinedTopic)
	h := memberHub(t)
	b, _ := startBridgeWith(t, Options{Brokers: pc.addrs, Group: groupName(t)}, h)
	produceJoins(t, pc.addrs, 0, n)
	waitJoined(t, h, n)
	return pc, h, b
}

// waitChecked waits until the metadata check has run twice more: it knows
// the ids of the topics in use now.
func waitChecked(t *testing.T, b *Bridge) {
	t.Helper()
	n := b.checks.Load()
	require.Eventually(t, func() bool { return b.checks.Load() >= n+2 }, waitFor, tick)
}

func TestConsumeRecreatedTopic(t *testing.T) {
	pc, h, b := consuming(t, 20)
	waitChecked(t, b)

	adm, err := kgo.NewClient(kgo.SeedBrokers(pc.addrs...))
	require.NoError(t, err)
	defer adm.Close()
	ctx := context.Background()
	_, err = kadm.NewClient(adm).DeleteTopic(ctx, joinedTopic)
	require.NoError(t, err)
	// The recreated topic gets fewer records than the group had committed
	// (20), then more: both must be read.
	cr, err := kadm.NewClient(adm).CreateTopic(ctx, 1, 1, nil, joinedTopic)
	require.NoError(t, err)
	require.NoError(t, cr.Err)
	produceJoins(t, pc.addrs, 20, 5)
	waitJoined(t, h, 25)
	produceJoins(t, pc.addrs, 25, 25)
	waitJoined(t, h, 50)
	// Healed by a new consumer client once the metadata check saw the new
	// topic id, which was then read from its start.
	require.Positive(t, testutil.ToFloat64(b.health.rebuilds.WithLabelValues(PartConsumer, ReasonRecreated)))
	require.Empty(t, b.recreatedTopics(), "the recreated topic's partition was reset")
}

func TestConsumeFrozenBroker(t *testing.T) {
	pc, h, b := consuming(t, 10)

	// Every request waits until thawed.
	thaw := make(chan struct{})
	c := pc.cluster()
	c.Control(func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		<-thaw
		return nil, nil, false
	})
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		produceJoins(t, pc.addrs, 10, 20) // waits for the thaw
	}()
	require.Eventually(t, func() bool { return testutil.ToFloat64(b.health.up) == 0 }, waitFor, tick, "degraded while frozen")
	require.Eventually(t, func() bool { return slices.Contains(b.Degraded(), "broker: timeout") }, waitFor, tick)
	time.Sleep(2 * time.Second) // frozen for longer than the fetch wait and the checks
	close(thaw)
	<-produced
	waitJoined(t, h, 30)
	require.Eventually(t, func() bool { return testutil.ToFloat64(b.health.up) == 1 }, waitFor, tick)
}

func TestDuplicateInboundAppliedOnce(t *testing.T) {
	e := newEnv(t)
	h := memberHub(t)
	dedup := NewMemoryDedup(time.Hour)
	_, stop := startBridgeWith(t, Options{Brokers: e.addrs, Group: groupName(t), Dedup: dedup}, h)
	value := `{"id":"m1","chatId":"r1","userId":"u0"}`
	e.produce(t, joinedTopic, value)
	e.produce(t, joinedTopic, value) // the same payload again
	withID := func(id, user string) {
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		require.NoError(t, e.prod.ProduceSync(ctx, &kgo.Record{Topic: joinedTopic, Headers: []kgo.RecordHeader{{Key: HeaderEventID, Value: []byte(id)}},
			Value: fmt.Appendf(nil, `{"id":"m2","chatId":"r1","userId":%q}`, user)}).FirstErr())
	}
	withID("ev-1", "u1")
	withID("ev-1", "u1") // the same event id: a producer's retry
	withID("ev-2", "u2")
	waitJoined(t, h, 3)

	// A new consumer of the group reading everything again (a lost
	// commit, a rebalance, a restart) applies nothing twice.
	stop()
	_, stop2 := startBridgeWith(t, Options{Brokers: e.addrs, Group: groupName(t) + "-again", Dedup: dedup}, h)
	e.produce(t, joinedTopic, `{"id":"m3","chatId":"r1","userId":"u3"}`)
	waitJoined(t, h, 4)
	stop2()
}

// blockingHub holds every hub:memberJoined until released.
type blockingHub struct {
	*fakeHub
	release chan struct{}
	waiting atomic.Int64
}

func (h *blockingHub) BridgeEvent(roomID string, e hub.Event) {
	h.waiting.Add(1)
	<-h.release
	h.waiting.Add(-1)
	h.fakeHub.BridgeEvent(roomID, e)
}

func TestConsumerLag(t *testing.T) {
	e := newEnv(t)
	for i := range 50 { // one batch each: a fetch of one batch leaves the rest behind
		produceJoins(t, e.addrs, i, 1)
	}
	h := &blockingHub{fakeHub: memberHub(t), release: make(chan struct{})}
	b, _ := startBridgeWith(t, Options{Brokers: e.addrs, Group: groupName(t), ClientOptions: []kgo.Opt{
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.FetchMaxBytes(1), kgo.FetchMaxPartitionBytes(1),
	}}, h)
	lag := func() float64 { return testutil.ToFloat64(b.health.lag.WithLabelValues(joinedTopic)) }
	require.Eventually(t, func() bool { return h.waiting.Load() == 1 }, waitFor, tick)
	h.release <- struct{}{}
	// The first fetch is handled; the second waits on its first record.
	require.Eventually(t, func() bool { return h.waiting.Load() == 1 && lag() == 49 }, waitFor, tick, "lag %v", lag())
	close(h.release)
	require.Eventually(t, func() bool { return len(joined(h.fakeHub)) == 50 && lag() == 0 }, waitFor, tick, "lag %v", lag())
}

func TestLeaderChanges(t *testing.T) {
	const msgTopic = "svc-dbevent-chatMessage-created"
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.AllowAutoTopicCreation(), kfake.SeedTopics(1, joinedTopic, msgTopic))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	addrs := c.ListenAddrs()
	st := openOutboxStore(t, filepath.Join(t.TempDir(), "messages.db"))
	h := memberHub(t)
	startBridgeWith(t, Options{Brokers: addrs, Group: groupName(t), Outbox: st, PublishTimeout: time.Minute}, h)
	for round := range 5 {
		produceJoins(t, addrs, round*10, 10)
		for i := range 10 {
			say(t, st, "r1", fmt.Sprint(round, i))
		}
		// Both partitions move to another broker while records flow.
		require.NoError(t, c.MoveTopicPartition(joinedTopic, 0, int32((round+1)%3)))
		require.NoError(t, c.MoveTopicPartition(msgTopic, 0, int32((round+2)%3)))
	}
	waitJoined(t, h, 50)
	evs := newCollector(t, addrs).waitDistinct(t, 50)
	require.Len(t, evs, 50, "each event published once")
	requireRoomOrder(t, evs, true)
}
