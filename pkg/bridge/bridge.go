// Package bridge connects hubs to Kafka: it consumes the data events of the
// hubs' room and membership DataObjects (autoBridgeDataEvents) and the
// topics of their kafkaEvents, and publishes the data events of the hubs'
// own message DataObjects.
package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/spec"
)

// Target is a running hub the bridge delivers to; *hub.Hub implements it.
type Target interface {
	Name() string
	Spec() *spec.Hub
	// Definition gives the scripting engine that evaluates the bridge's
	// expressions (filterExpression, targetRoomExpression, roomEligibility).
	Definition() *hub.Definition
	BridgeEvent(roomID, event string, payload any)
	SystemMessage(ctx context.Context, roomID, action string, data any) (*msgstore.Message, error)
	CloseRoom(roomID string, payload any)
	// Reauthorize removes the user when no longer authorized; announce asks
	// another node that removes them to tell the room when this one could
	// not (hub.Hub.Reauthorize).
	Reauthorize(ctx context.Context, roomID, userID, event string, payload any, announce bool) bool
}

var _ Target = (*hub.Hub)(nil)

// Observer is told about every consumed record and every produced one, for
// metrics. direction is "in" or "out"; kind is one of the Kind constants;
// result is one of the Result constants. All three are bounded sets.
type Observer func(direction, kind, result string)

// Record kinds.
const (
	KindRoom       = "room"
	KindMembership = "membership"
	KindKafkaEvent = "kafkaEvent"
	KindMessage    = "message"
)

// Results.
const (
	ResultHandled   = "handled"   // delivered to at least one hub
	ResultSkipped   = "skipped"   // nothing to do (filter false, no room)
	ResultMalformed = "malformed" // the payload could not be used
	ResultError     = "error"     // a hub or broker operation failed
	ResultOK        = "ok"        // produced
)

// DefaultTopicPattern is the Mindbricks data event topic convention.
const DefaultTopicPattern = "{service}-dbevent-{object}-{op}"

// Defaults.
const (
	DefaultOpTimeout          = 5 * time.Second
	DefaultMaxBufferedRecords = 10000
)

// Options configure a Bridge.
type Options struct {
	// Brokers are the Kafka seed brokers (host:port). Required.
	Brokers []string
	// Service is the <service> part of data event topic names. Required.
	Service string
	// TopicPattern builds data event topic names from {service}, {object}
	// (the DataObject name as written), {objectLower} and {op} (created,
	// updated, deleted). Default DefaultTopicPattern.
	TopicPattern string
	// Group is the consumer group. Default "hubd-bridge-<service>".
	Group string
	// Hubs returns the running hubs; Update reads it again after a reload.
	Hubs func() []Target
	// OpTimeout bounds each hub operation a record causes (system message,
	// reauthorization, scripts). Default DefaultOpTimeout.
	OpTimeout time.Duration
	// MaxBufferedRecords bounds the produced records waiting for the
	// broker; message events beyond it are dropped and counted. Default
	// DefaultMaxBufferedRecords.
	MaxBufferedRecords int
	// ClientOptions are added to both Kafka clients (TLS, SASL, tests).
	ClientOptions []kgo.Opt
	Observer      Observer
	Logger        *zap.Logger
}

// ConfigError is returned by New for incomplete options.
type ConfigError struct{ Field, Reason string }

func (e *ConfigError) Error() string { return fmt.Sprintf("bridge: %s: %s", e.Field, e.Reason) }

// Bridge consumes data events into hubs and produces message data events.
// Run consumes; MessageEvent (hub.DataEvents) produces.
type Bridge struct {
	opts     Options
	log      *zap.Logger
	producer *kgo.Client
	// produceFailures counts failed message events; lastProduceLog
	// (unix ns) rate-limits their logs.
	produceFailures atomic.Int64
	lastProduceLog  atomic.Int64

	mu      sync.Mutex
	routes  *routes
	changed chan struct{} // closed and replaced when the topic set changes
	closed  bool
}

var _ hub.DataEvents = (*Bridge)(nil)

// New validates opts and starts the producer client. Consumption starts
// with Run.
func New(opts Options) (*Bridge, error) {
	if len(opts.Brokers) == 0 {
		return nil, &ConfigError{Field: "brokers", Reason: "at least one broker is required"}
	}
	if opts.Service == "" {
		return nil, &ConfigError{Field: "service", Reason: "required"}
	}
	if opts.TopicPattern == "" {
		opts.TopicPattern = DefaultTopicPattern
	}
	if err := checkPattern(opts.TopicPattern); err != nil {
		return nil, err
	}
	if opts.Group == "" {
		opts.Group = "hubd-bridge-" + opts.Service
	}
	if opts.Hubs == nil {
		opts.Hubs = func() []Target { return nil }
	}
	if opts.OpTimeout <= 0 {
		opts.OpTimeout = DefaultOpTimeout
	}
	if opts.MaxBufferedRecords <= 0 {
		opts.MaxBufferedRecords = DefaultMaxBufferedRecords
	}
	if opts.Observer == nil {
		opts.Observer = func(string, string, string) {}
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	log := opts.Logger.Named("bridge")
	pOpts := append([]kgo.Opt{
		kgo.SeedBrokers(opts.Brokers...),
		kgo.AllowAutoTopicCreation(),
		kgo.MaxBufferedRecords(opts.MaxBufferedRecords),
		kgo.RecordDeliveryTimeout(30 * time.Second),
		kgo.ProducerLinger(5 * time.Millisecond),
	}, opts.ClientOptions...)
	producer, err := kgo.NewClient(pOpts...)
	if err != nil {
		return nil, fmt.Errorf("bridge: producer: %w", err)
	}
	b := &Bridge{opts: opts, log: log, producer: producer, changed: make(chan struct{})}
	b.routes = buildRoutes(opts.Hubs(), opts.Service, opts.TopicPattern, log)
	return b, nil
}

// Update recomputes the subscriptions from Options.Hubs; call it after a
// reload. The hubs of a record are looked up when it is handled, so a
// changed hub is used at once; when the set of topics changes the consumer
// rejoins its group with the new topics.
func (b *Bridge) Update() {
	r := buildRoutes(b.opts.Hubs(), b.opts.Service, b.opts.TopicPattern, b.log)
	b.mu.Lock()
	defer b.mu.Unlock()
	old := b.routes
	b.routes = r
	if !slices.Equal(old.topicList(), r.topicList()) {
		close(b.changed)
		b.changed = make(chan struct{})
	}
}

// Topics lists the topics the bridge consumes now, sorted.
func (b *Bridge) Topics() []string {
	return b.current().topicList()
}

func (b *Bridge) current() *routes {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.routes
}

func (b *Bridge) watch() (*routes, <-chan struct{}) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.routes, b.changed
}

// Run consumes until ctx is done. Records are handled in order per
// partition and their offsets committed after handling (at-least-once);
// rebalances wait until the polled records are handled and committed.
func (b *Bridge) Run(ctx context.Context) error {
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
		if err := b.consume(ctx, topics, changed); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}

// consume runs one consumer client for topics until ctx is done or the
// topic set changes.
func (b *Bridge) consume(ctx context.Context, topics []string, changed <-chan struct{}) error {
	cOpts := append([]kgo.Opt{
		kgo.SeedBrokers(b.opts.Brokers...),
		kgo.ConsumerGroup(b.opts.Group),
		kgo.ConsumeTopics(topics...),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		// A new group starts at the end: older data events concern
		// sessions that no longer exist.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtEnd()),
		// An idle fetch holds Close (reload, shutdown) for up to this long.
		kgo.FetchMaxWait(time.Second),
	}, b.opts.ClientOptions...)
	cl, err := kgo.NewClient(cOpts...)
	if err != nil {
		return fmt.Errorf("bridge: consumer: %w", err)
	}
	defer cl.Close()
	b.log.Info("consuming", zap.Strings("topics", topics), zap.String("group", b.opts.Group))

	pollCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-changed:
			cancel()
		case <-pollCtx.Done():
		}
	}()
	for {
		fetches := cl.PollFetches(pollCtx)
		if pollCtx.Err() != nil {
			cl.AllowRebalance()
			return nil
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			b.log.Warn("fetch failed", zap.String("topic", topic), zap.Int32("partition", partition), zap.Error(err))
		})
		if fetches.IsClientClosed() {
			return errors.New("bridge: consumer closed")
		}
		routes := b.current()
		fetches.EachRecord(func(rec *kgo.Record) {
			b.handle(ctx, routes, rec)
		})
		if fetches.NumRecords() > 0 {
			cctx, ccancel := context.WithTimeout(context.Background(), b.opts.OpTimeout)
			if err := cl.CommitUncommittedOffsets(cctx); err != nil {
				// The records are delivered again after the rebalance.
				b.log.Warn("commit failed", zap.Error(err))
				b.opts.Observer("in", "commit", ResultError)
			}
			ccancel()
		}
		cl.AllowRebalance()
	}
}

// Close flushes produced records (bounded by OpTimeout) and closes the
// producer. Run stops with its context. Close is idempotent.
func (b *Bridge) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), b.opts.OpTimeout)
	defer cancel()
	if err := b.producer.Flush(ctx); err != nil {
		b.log.Warn("flush on close", zap.Error(err))
	}
	b.producer.Close()
}
