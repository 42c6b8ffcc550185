package bridge

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// errTopicsRecreated ends a consumer whose topics were recreated: its
// client holds their old ids and would wait on them forever.
var errTopicsRecreated = errors.New("bridge: consumed topics were recreated")

// rebuildError ends a consumer whose fetches kept failing.
type rebuildError struct {
	reason string
	err    error
}

func (e *rebuildError) Error() string {
	return fmt.Sprintf("bridge: fetches failing (%s): %v", e.reason, e.err)
}
func (e *rebuildError) Unwrap() error { return e.err }

// consumeLoop runs consumer clients until ctx is done: a new one when the
// topic set changes, and after a failure, a new one after a backoff.
func (b *Bridge) consumeLoop(ctx context.Context) error {
	bo := newBackoff(b.opts.RetryMin, b.opts.RetryMax)
	for {
		r, changed := b.watch()
		topics := r.topicList()
		if len(topics) == 0 {
			b.log.Info("no topics to consume; waiting for a reload")
			select {
			case <-ctx.Done():
				return nil
			case <-changed:
				continue
			}
		}
		err := b.consume(ctx, topics, changed)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			bo.reset()
			continue
		}
		reason := ReasonRecreated
		var re *rebuildError
		if errors.As(err, &re) {
			reason = re.reason
		}
		b.health.rebuilds.WithLabelValues(PartConsumer, reason).Inc()
		d := bo.delay()
		b.logs.warn("consumer-rebuild", "consumer client closed; a new one starts after a backoff",
			zap.String("reason", reason), zap.Duration("backoff", d), zap.Error(err))
		if !sleep(ctx, d) {
			return nil
		}
	}
}

// consume runs one consumer client for topics until ctx is done or the
// topic set changes (nil), or until it must be rebuilt (an error).
func (b *Bridge) consume(ctx context.Context, topics []string, changed <-chan struct{}) error {
	reset := &resetter{b: b}
	select { // a signal from before this client concerns the previous one
	case <-b.rebuild:
	default:
	}
	cOpts := append([]kgo.Opt{
		kgo.SeedBrokers(b.opts.Brokers...),
		kgo.ConsumerGroup(b.opts.Group),
		kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		// Partitions without a committed offset (a new group, a new topic,
		// a group lost with its cluster) start at the records produced
		// since the daemon started.
		kgo.ConsumeResetOffset(kgo.NewOffset().AfterMilli(b.started.UnixMilli())),
		// An idle fetch holds Close (reload, shutdown) for up to this long.
		kgo.FetchMaxWait(time.Second),
		kgo.OnPartitionsAssigned(reset.assigned),
		kgo.RetryBackoffFn(func(n int) time.Duration { return min(b.opts.RetryMin<<min(n, 16), b.opts.RetryMax) }),
	}, b.opts.ClientOptions...)
	cl, err := kgo.NewClient(cOpts...)
	if err != nil {
		return fmt.Errorf("bridge: consumer: %w", err)
	}
	defer cl.Close()
	b.log.Info("consuming", zap.Strings("topics", topics), zap.String("group", b.opts.Group))
	b.health.lag.Reset()

	pollCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	rebuild := b.rebuildSignal()
	var recreated atomic.Bool
	go func() {
		select {
		case <-changed:
		case <-rebuild:
			recreated.Store(true)
		case <-pollCtx.Done():
		}
		cancel()
	}()
	p := &poller{b: b, cl: cl, lag: map[string]map[int32]int64{}, bo: newBackoff(b.opts.RetryMin, b.opts.RetryMax)}
	for {
		err := p.poll(ctx, pollCtx, reset)
		if pollCtx.Err() != nil {
			if recreated.Load() {
				return errTopicsRecreated
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// poller is the state of one consumer client's poll loop.
type poller struct {
	b      *Bridge
	cl     *kgo.Client
	lag    map[string]map[int32]int64
	bo     *backoff
	streak time.Time // first fetch failure of the current streak
}

// poll polls once, handles and commits the records, and accounts for the
// fetch errors. It returns an error when the client must be rebuilt.
func (p *poller) poll(ctx, pollCtx context.Context, reset *resetter) error {
	b := p.b
	// A bounded poll: an idle consumer still reports that it is healthy.
	tctx, tcancel := context.WithTimeout(pollCtx, 2*time.Second)
	fetches := p.cl.PollFetches(tctx)
	tcancel()
	if pollCtx.Err() != nil {
		p.cl.AllowRebalance()
		return nil
	}
	if fetches.IsClientClosed() {
		return errors.New("bridge: consumer closed")
	}
	var last error
	reason := ""
	fetches.EachError(func(topic string, partition int32, err error) {
		if errors.Is(err, context.DeadlineExceeded) && tctx.Err() != nil || errors.Is(err, context.Canceled) {
			return // the bounded poll ended idle
		}
		last, reason = err, reasonOf(err)
		b.health.fetchFailures.WithLabelValues(reason).Inc()
		b.logs.warn("fetch/"+reason, "fetch failed", zap.String("topic", topic), zap.Int32("partition", partition),
			zap.String("reason", reason), zap.Error(err))
	})
	reset.apply(p.cl)
	routes := b.current()
	var done applied
	// On shutdown the records not yet handled are left uncommitted for
	// the next consumer: taken is what was handled, a prefix of the poll.
	taken := make([]*kgo.Record, 0, fetches.NumRecords())
	stopped := false
	fetches.EachRecord(func(rec *kgo.Record) {
		if stopped || ctx.Err() != nil || !b.handle(ctx, routes, rec, &done) {
			stopped = true
			return
		}
		taken = append(taken, rec)
	})
	b.mark(ctx, &done)
	if len(taken) > 0 {
		if err := p.commit(taken, stopped); err != nil {
			// The records are delivered again after the rebalance.
			b.logs.warn("commit", "commit failed", zap.Error(err))
			b.opts.Observer("in", "commit", ResultError)
		}
	}
	p.updateLag(fetches)
	p.cl.AllowRebalance()
	if last == nil {
		if !p.streak.IsZero() {
			b.logs.recovered("fetch/", "fetches work again")
		}
		p.streak = time.Time{}
		p.bo.reset()
		b.health.ok(PartConsumer)
		return nil
	}
	if p.streak.IsZero() {
		p.streak = time.Now()
	}
	b.health.fail(PartConsumer, reason, last)
	if time.Since(p.streak) >= b.opts.RebuildAfter {
		return &rebuildError{reason: reason, err: last}
	}
	// Failing fetches return at once: wait before the next poll.
	sleep(pollCtx, p.bo.delay())
	return nil
}

// updateLag sets the lag gauge of the topics of fetches: the high
// watermark minus the next offset to handle, summed over the partitions.
func (p *poller) updateLag(fetches kgo.Fetches) {
	touched := map[string]bool{}
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		next := fp.Records[len(fp.Records)-1].Offset + 1
		if p.lag[fp.Topic] == nil {
			p.lag[fp.Topic] = map[int32]int64{}
		}
		p.lag[fp.Topic][fp.Partition] = max(fp.HighWatermark-next, 0)
		touched[fp.Topic] = true
	})
	for topic := range touched {
		var sum int64
		for _, l := range p.lag[topic] {
			sum += l
		}
		p.b.health.lag.WithLabelValues(topic).Set(float64(sum))
	}
}

// resetter moves the partitions of recreated topics to their start when
// they are assigned: the new topic holds only records produced since it
// was created, and a committed offset of the old one means nothing there.
type resetter struct {
	b *Bridge

	mu      sync.Mutex
	pending map[string][]int32
}

func (r *resetter) assigned(_ context.Context, _ *kgo.Client, assigned map[string][]int32) {
	recreated := r.b.recreatedTopics()
	r.mu.Lock()
	defer r.mu.Unlock()
	for topic, parts := range assigned {
		if recreated[topic] {
			if r.pending == nil {
				r.pending = map[string][]int32{}
			}
			r.pending[topic] = append(r.pending[topic], parts...)
		}
	}
}

// apply sets the pending offsets; called from the poll loop before
// AllowRebalance, as kgo asks.
func (r *resetter) apply(cl *kgo.Client) {
	r.mu.Lock()
	pending := r.pending
	r.pending = nil
	r.mu.Unlock()
	if len(pending) == 0 {
		return
	}
	set := map[string]map[int32]kgo.EpochOffset{}
	for topic, parts := range pending {
		set[topic] = map[int32]kgo.EpochOffset{}
		for _, p := range parts {
			set[topic][p] = kgo.EpochOffset{Epoch: -1, Offset: 0}
		}
		r.b.log.Info("recreated topic read from its start", zap.String("topic", topic), zap.Int32s("partitions", parts))
	}
	cl.SetOffsets(set)
	r.b.forgetRecreated(pending)
}

// commit commits the offsets of the records handled: every record polled
// when the poll was handled whole, else only those in taken (a shutdown
// left the others for the next consumer).
func (p *poller) commit(taken []*kgo.Record, partial bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.b.opts.OpTimeout)
	defer cancel()
	if partial {
		return p.cl.CommitRecords(ctx, taken...)
	}
	return p.cl.CommitUncommittedOffsets(ctx)
}
