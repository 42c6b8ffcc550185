package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/spec"
)

// Headers of a published message event.
const (
	HeaderHub     = "hub"
	HeaderEventID = "eventId" // stable: a republished event keeps it
	HeaderSeq     = "seq"     // the message's seq in its room
	HeaderOp      = "op"      // created, updated, deleted
)

// MessageEvent tells the publisher that a hub committed a message change:
// the store recorded its event in the outbox with the write, the publisher
// reads it from there. It never blocks.
func (b *Bridge) MessageEvent(context.Context, *spec.Hub, string, *msgstore.Message) {
	select {
	case b.nudge <- struct{}{}:
	default:
	}
}

// publishLoop publishes the outbox until ctx is done: a batch at a time,
// at once when a hub signals a change or the last batch was full, else
// every PollInterval; after a failure, after a backoff, with a new
// producer client.
func (b *Bridge) publishLoop(ctx context.Context) error {
	if b.opts.Outbox == nil {
		<-ctx.Done()
		return nil
	}
	defer b.dropProducer()
	bo := newBackoff(b.opts.RetryMin, b.opts.RetryMax)
	tick := time.NewTicker(b.opts.PollInterval)
	defer tick.Stop()
	var lastStats time.Time
	for {
		n, err := b.publishBatch(ctx)
		if time.Since(lastStats) >= time.Second || n == 0 {
			b.outboxStats(ctx)
			lastStats = time.Now()
		}
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			reason := reasonOf(err)
			b.health.fail(PartProducer, reason, err)
			b.logs.warn("publish/"+reason, "message events not published; they stay in the outbox",
				zap.String("reason", reason), zap.Error(err))
			if !bo.wait(ctx) {
				return nil
			}
			continue
		}
		bo.reset()
		if n >= b.opts.PublishBatch {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-b.nudge:
		case <-tick.C:
		}
	}
}

// publishBatch publishes the oldest outbox events once and marks the
// acknowledged ones done. It returns how many it read.
func (b *Bridge) publishBatch(ctx context.Context) (int, error) {
	cl, err := b.producerClient()
	if err != nil {
		return 0, err
	}
	specs := b.messageObjects()
	n := 0
	var perr error
	_, err = b.opts.Outbox.ClaimOutbox(ctx, b.opts.PublishBatch, func(cctx context.Context, evs []*msgstore.OutboxEvent) []int64 {
		n = len(evs)
		var done []int64
		done, perr = b.produceEvents(cctx, cl, specs, evs)
		return done
	})
	if err == nil {
		err = perr
	}
	if perr != nil {
		// Records may still sit in this client for a broker that does not
		// answer; a new client starts clean (and with fresh metadata).
		b.producerStale.Store(true)
	}
	if err == nil {
		b.logs.recovered("publish/", "message events published again")
		b.health.ok(PartProducer)
	}
	return n, err
}

// messageObjects maps each running hub to its message DataObject.
func (b *Bridge) messageObjects() map[string]string {
	out := map[string]string{}
	for _, t := range b.opts.Hubs() {
		out[t.Name()] = t.Spec().MessageSettings.DataObjectName
	}
	return out
}

// produceEvents produces evs and waits (PublishTimeout) for the broker.
// It returns the events done: acknowledged, and not after an event of the
// same room that failed (that one is retried first, so a room's events are
// never published out of order); events of a hub without a message
// DataObject are done without a record. The error is the first failure.
func (b *Bridge) produceEvents(ctx context.Context, cl *kgo.Client, objects map[string]string, evs []*msgstore.OutboxEvent) ([]int64, error) {
	select { // a signal from before this batch concerns the previous client
	case <-b.staleSignal:
	default:
	}
	pctx, cancel := context.WithTimeout(ctx, b.opts.PublishTimeout)
	defer cancel()
	var (
		mu      sync.Mutex
		results = make([]error, len(evs))
		settled = make([]bool, len(evs))
		wg      sync.WaitGroup
	)
	for i, ev := range evs {
		rec, err := b.eventRecord(objects, ev)
		if rec == nil || err != nil {
			settled[i], results[i] = true, err
			continue
		}
		b.noteProduced(rec.Topic)
		wg.Add(1)
		cl.Produce(pctx, rec, func(_ *kgo.Record, err error) {
			mu.Lock()
			settled[i], results[i] = true, err
			mu.Unlock()
			wg.Done()
		})
	}
	waited := make(chan struct{})
	go func() { wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-pctx.Done():
	case <-b.staleSignal:
		// The metadata check saw a topic recreated: records waiting on
		// its old id never complete; the batch goes again with a new
		// client.
		cancel()
		pctx = &staleCtx{Context: pctx, err: errRecreatedInFlight}
	}
	mu.Lock()
	defer mu.Unlock()
	var first error
	failedRooms := map[string]bool{}
	var done []int64
	for i, ev := range evs {
		room := ev.Message.HubName + "/" + ev.Message.RoomID
		err := results[i]
		if !settled[i] {
			err = pctx.Err()
		}
		switch {
		case err != nil:
			failedRooms[room] = true
			b.health.produceFailures.WithLabelValues(reasonOf(err)).Inc()
			b.opts.Observer("out", KindMessage, ResultError)
			if first == nil {
				first = err
			}
		case failedRooms[room]:
			// Acknowledged after a failure in its room: published again
			// after the failed one, with the same event id.
		default:
			done = append(done, ev.Pos)
			b.opts.Observer("out", KindMessage, ResultOK)
		}
	}
	return done, first
}

// eventRecord builds the record of ev: nil when its hub has no message
// DataObject (or is no longer running).
func (b *Bridge) eventRecord(objects map[string]string, ev *msgstore.OutboxEvent) (*kgo.Record, error) {
	m := ev.Message
	obj := objects[m.HubName]
	if obj == "" {
		b.opts.Observer("out", KindMessage, ResultSkipped)
		return nil, nil
	}
	value, err := messageValue(m)
	if err != nil {
		b.log.Error("message event not encoded; dropped", zap.String("hub", m.HubName), zap.String("eventId", ev.ID), zap.Error(err))
		b.opts.Observer("out", KindMessage, ResultMalformed)
		return nil, nil
	}
	return &kgo.Record{
		Topic: TopicName(b.opts.TopicPattern, b.opts.Service, obj, ev.Op),
		Key:   RoomKey(m.HubName, m.RoomID),
		Value: value,
		Headers: []kgo.RecordHeader{
			{Key: HeaderHub, Value: []byte(m.HubName)},
			{Key: HeaderEventID, Value: []byte(ev.ID)},
			{Key: HeaderSeq, Value: strconv.AppendInt(nil, m.Seq, 10)},
			{Key: HeaderOp, Value: []byte(ev.Op)},
		},
	}, nil
}

// RoomKey is the record key of a room's message events, "<hub>/<roomId>":
// every event of a room goes to one partition.
func RoomKey(hub, roomID string) []byte { return []byte(hub + "/" + roomID) }

func messageValue(m *msgstore.Message) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if m.Status == msgstore.StatusDeleted {
		return append(b[:len(b)-1], `,"isActive":false}`...), nil
	}
	return append(b[:len(b)-1], `,"isActive":true}`...), nil
}

// producerClient returns the producer, creating it (again) when needed.
func (b *Bridge) producerClient() (*kgo.Client, error) {
	if b.producer != nil && !b.producerStale.Load() {
		return b.producer, nil
	}
	if b.producer != nil {
		b.health.rebuilds.WithLabelValues(PartProducer, "failure").Inc()
		b.dropProducer()
	}
	b.producerStale.Store(false)
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(b.opts.Brokers...),
		kgo.AllowAutoTopicCreation(),
		kgo.MaxBufferedRecords(b.opts.MaxBufferedRecords),
		kgo.RecordDeliveryTimeout(b.opts.PublishTimeout),
		kgo.ProducerLinger(5 * time.Millisecond),
		kgo.RetryBackoffFn(func(n int) time.Duration { return min(b.opts.RetryMin<<min(n, 16), b.opts.RetryMax) }),
	}, b.opts.ClientOptions...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, err
	}
	b.producer = cl
	return cl, nil
}

// dropProducer closes the producer without waiting more than a moment: a
// client stuck on a frozen broker finishes closing on its own.
func (b *Bridge) dropProducer() {
	cl := b.producer
	b.producer = nil
	if cl == nil {
		return
	}
	closed := make(chan struct{})
	go func() {
		cl.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(2 * time.Second):
		b.log.Warn("producer client still closing; left to finish")
	}
}

// outboxStats sets the outbox gauges.
func (b *Bridge) outboxStats(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, b.opts.OpTimeout)
	defer cancel()
	st, err := b.opts.Outbox.OutboxStats(sctx)
	if err != nil {
		if ctx.Err() == nil {
			b.logs.warn("outbox-stats", "outbox stats failed", zap.Error(err))
		}
		return
	}
	b.health.outboxDepth.Set(float64(st.Depth))
	age := 0.0
	if !st.Oldest.IsZero() {
		age = max(time.Since(st.Oldest).Seconds(), 0)
	}
	b.health.outboxAge.Set(age)
}

// errRecreatedInFlight fails the records of a batch waiting on a topic
// that was recreated meanwhile.
var errRecreatedInFlight = errors.New("bridge: topic recreated while its records were in flight")

// staleCtx reports err as the reason unfinished records failed.
type staleCtx struct {
	context.Context
	err error
}

func (c *staleCtx) Err() error { return c.err }

// noteProduced adds topic to the topics the metadata check watches (a
// bounded set: hubs times three operations).
func (b *Bridge) noteProduced(topic string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.produced[topic] = true
}
