package bridge

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/msgstore"
)

// benchHub is a Target that only counts (the fake of the tests records
// every payload, which would dominate).
type benchHub struct {
	*fakeHub
	n int
}

func (h *benchHub) BridgeEvent(string, hub.Event) { h.n++ }
func (h *benchHub) SystemMessage(context.Context, string, string, hub.SystemData) (*msgstore.Message, error) {
	return nil, nil
}

// BenchmarkHandle measures handling one consumed record (decode, scripts,
// emit) without the broker.
func BenchmarkHandle(b *testing.B) {
	cases := []struct {
		name, topic, value string
	}{
		{"roomUpdated", "svc-dbevent-chat-updated", `{"old_chat":{"id":"r1","title":"a","chatEnabled":true},"chat":{"id":"r1","title":"b","chatEnabled":true}}`},
		{"memberJoined", "svc-dbevent-chatMember-created", `{"id":"m1","chatId":"r1","userId":"u1","status":"active"}`},
		{"kafkaEvent", "calls-events", `{"type":"participant.added","chatId":"r1","who":"u2"}`},
	}
	h := &benchHub{fakeHub: newFakeHub(b, chatSpec("chatHub"))}
	br, err := New(Options{Brokers: []string{"127.0.0.1:1"}, Service: "svc", Hubs: func() []Target { return []Target{h} }, Logger: zap.NewNop()})
	require.NoError(b, err)
	defer br.Close()
	r := br.current()
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			rec := &kgo.Record{Topic: tc.topic, Value: []byte(tc.value)}
			before := h.n
			for b.Loop() {
				br.apply(context.Background(), r, rec)
			}
			require.Positive(b, h.n-before)
		})
	}
}

// countingHub counts emits across goroutines.
type countingHub struct {
	*fakeHub
	n atomic.Int64
}

func (h *countingHub) BridgeEvent(string, hub.Event) { h.n.Add(1) }

// BenchmarkConsume measures records per second through an in-process
// broker: b.N memberJoined records are produced first, then one bridge
// consumes them all (group join included), with the dedup state in memory
// and in an embedded store (fsync on, as the daemon runs without Redis).
func BenchmarkConsume(b *testing.B) {
	dedups := []struct {
		name string
		open func(b *testing.B) Dedup
	}{
		{"memory", func(*testing.B) Dedup { return NewMemoryDedup(time.Hour) }},
		{"embedded", func(b *testing.B) Dedup {
			st, err := msgstore.OpenEmbedded(filepath.Join(b.TempDir(), "messages.db"), msgstore.EmbeddedOptions{})
			require.NoError(b, err)
			b.Cleanup(func() { _ = st.Close() })
			return NewStoreDedup(st, time.Hour)
		}},
	}
	for _, d := range dedups {
		b.Run(d.name, func(b *testing.B) { benchConsume(b, d.open(b)) })
	}
}

func benchConsume(b *testing.B, dedup Dedup) {
	e := newEnv(b)
	s := chatSpec("chatHub")
	s.EventSettings.KafkaEvents = nil
	h := &countingHub{fakeHub: newFakeHub(b, s)}
	recs := make([]*kgo.Record, b.N)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: "svc-dbevent-chatMember-created", Value: fmt.Appendf(nil, `{"id":"m%d","chatId":"r1","userId":"u%d"}`, i, i)}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(b, e.prod.ProduceSync(ctx, recs...).FirstErr())
	b.ResetTimer()
	start := time.Now()
	_, stop := startBridgeWith(b, Options{Brokers: e.addrs, Group: fmt.Sprintf("bench-%d", time.Now().UnixNano()), Dedup: dedup}, h)
	require.Eventually(b, func() bool { return h.n.Load() == int64(b.N) }, 5*time.Minute, time.Millisecond)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	b.StopTimer()
	stop()
}

// BenchmarkPublish measures the outbox publisher: b.N messages are
// committed to an embedded store with an outbox in ten rooms, then one
// bridge publishes them all to an in-process broker (until the outbox is
// empty).
func BenchmarkPublish(b *testing.B) {
	e := newEnv(b)
	st := openOutboxStore(b, filepath.Join(b.TempDir(), "messages.db"))
	for i := range b.N {
		say(b, st, fmt.Sprint("r", i%10), "hello there")
	}
	b.ResetTimer()
	start := time.Now()
	startBridgeWith(b, Options{Brokers: e.addrs, Group: fmt.Sprintf("bench-%d", time.Now().UnixNano()), Outbox: st, PublishTimeout: time.Minute},
		newFakeHub(b, chatSpec("chatHub")))
	require.Eventually(b, func() bool {
		s, err := st.OutboxStats(context.Background())
		return err == nil && s.Depth == 0
	}, time.Minute, 5*time.Millisecond)
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
	b.StopTimer()
}
