// Package bridge connects hubs to Kafka: it consumes the data events of the
// hubs' room and membership DataObjects (autoBridgeDataEvents) and the
// topics of their kafkaEvents, and publishes the data events of the hubs'
// own message DataObjects.
package bridge

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

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
	BridgeEvent(roomID string, e hub.Event)
	SystemMessage(ctx context.Context, roomID, action string, data hub.SystemData) (*msgstore.Message, error)
	CloseRoom(roomID string, p hub.RoomClosed)
	// Reauthorize removes the user when no longer authorized; announce asks
	// another node that removes them to tell the room when this one could
	// not (hub.Hub.Reauthorize).
	Reauthorize(ctx context.Context, roomID, userID string, e hub.Event, announce bool) bool
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
	DefaultRetryMin           = 100 * time.Millisecond
	DefaultRetryMax           = 30 * time.Second
	DefaultRebuildAfter       = 10 * time.Second
	DefaultCheckInterval      = 5 * time.Second
	DefaultLogEvery           = 30 * time.Second
	DefaultPublishBatch       = 500
	DefaultPublishTimeout     = 10 * time.Second
	DefaultPollInterval       = time.Second
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
	// Outbox is the message store's outbox: the message events published.
	// Nil: no message events are published.
	Outbox msgstore.Outbox
	// Dedup remembers the ids of applied inbound events (see Dedup). Nil:
	// an in-memory window of this process only.
	Dedup Dedup
	// OpTimeout bounds each hub operation a record causes (system message,
	// reauthorization, scripts). Default DefaultOpTimeout.
	OpTimeout time.Duration
	// MaxBufferedRecords bounds the records the producer holds. Default
	// DefaultMaxBufferedRecords.
	MaxBufferedRecords int
	// PublishBatch is the number of outbox events published at a time.
	// Default DefaultPublishBatch.
	PublishBatch int
	// PublishTimeout bounds the wait for the broker's acknowledgement of
	// a batch; the unacknowledged events stay in the outbox. Default
	// DefaultPublishTimeout.
	PublishTimeout time.Duration
	// PollInterval is how often the outbox is read when no hub signalled
	// a change (events of another node, of a previous run). Default
	// DefaultPollInterval.
	PollInterval time.Duration
	// RetryMin and RetryMax bound the exponential backoff between retries
	// after a failure. Defaults DefaultRetryMin, DefaultRetryMax.
	RetryMin, RetryMax time.Duration
	// RebuildAfter is how long fetches may fail before the consumer client
	// is closed and a new one created. Default DefaultRebuildAfter.
	RebuildAfter time.Duration
	// CheckInterval is the period of the metadata check that finds
	// recreated topics and an unreachable cluster. Default
	// DefaultCheckInterval.
	CheckInterval time.Duration
	// LogEvery spaces the log lines about one failure: the first is
	// written, then one line with the count every LogEvery. Default
	// DefaultLogEvery.
	LogEvery time.Duration
	// ClientOptions are added to every Kafka client (TLS, SASL, tests).
	ClientOptions []kgo.Opt
	// Registerer receives the bridge's collectors (nil: none).
	Registerer prometheus.Registerer
	Observer   Observer
	Logger     *zap.Logger
}

// ConfigError is returned by New for incomplete options.
type ConfigError struct{ Field, Reason string }

func (e *ConfigError) Error() string { return fmt.Sprintf("bridge: %s: %s", e.Field, e.Reason) }

// Bridge consumes data events into hubs and publishes the message events
// of the store's outbox. Run does both.
type Bridge struct {
	opts    Options
	log     *zap.Logger
	logs    *logLimiter
	health  *health
	dedup   Dedup
	started time.Time

	// producer is used by the publisher only; producerStale asks it to
	// build a new one before its next batch.
	producer      *kgo.Client
	producerStale atomic.Bool
	staleSignal   chan struct{} // wakes a batch waiting on a recreated topic
	nudge         chan struct{} // a hub committed a message change

	mu        sync.Mutex
	routes    *routes
	changed   chan struct{} // closed and replaced when the topic set changes
	rebuild   chan struct{} // a consumed topic was recreated
	recreated map[string]bool
	produced  map[string]bool // topics the publisher produced to
	checks    atomic.Int64    // metadata checks answered
	closed    bool
}

var _ hub.DataEvents = (*Bridge)(nil)

// New validates opts. Nothing connects before Run.
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
	opts = withDefaults(opts)
	log := opts.Logger.Named("bridge")
	b := &Bridge{
		opts: opts, log: log, logs: newLogLimiter(log, opts.LogEvery), health: newHealth(opts.Registerer, log),
		dedup: opts.Dedup, started: time.Now(), nudge: make(chan struct{}, 1),
		changed: make(chan struct{}), rebuild: make(chan struct{}, 1), recreated: map[string]bool{},
		staleSignal: make(chan struct{}, 1), produced: map[string]bool{},
	}
	if b.dedup == nil {
		b.dedup = NewMemoryDedup(DefaultDedupWindow)
	}
	b.routes = buildRoutes(opts.Hubs(), opts.Service, opts.TopicPattern, log)
	return b, nil
}

// withDefaults fills the zero fields of opts.
func withDefaults(opts Options) Options {
	if opts.Group == "" {
		opts.Group = "hubd-bridge-" + opts.Service
	}
	if opts.Hubs == nil {
		opts.Hubs = func() []Target { return nil }
	}
	if opts.Observer == nil {
		opts.Observer = func(string, string, string) {}
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	durations := []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&opts.OpTimeout, DefaultOpTimeout}, {&opts.PublishTimeout, DefaultPublishTimeout},
		{&opts.PollInterval, DefaultPollInterval}, {&opts.RetryMin, DefaultRetryMin},
		{&opts.RetryMax, DefaultRetryMax}, {&opts.RebuildAfter, DefaultRebuildAfter},
		{&opts.CheckInterval, DefaultCheckInterval}, {&opts.LogEvery, DefaultLogEvery},
	}
	for _, d := range durations {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if opts.MaxBufferedRecords <= 0 {
		opts.MaxBufferedRecords = DefaultMaxBufferedRecords
	}
	if opts.PublishBatch <= 0 {
		opts.PublishBatch = DefaultPublishBatch
	}
	return opts
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

// Run consumes data events into the hubs, publishes the outbox and
// checks the brokers' metadata until ctx is done. Every part recovers from
// broker failures on its own (new clients after a backoff); Run returns
// an error only for a bug-level failure.
func (b *Bridge) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return b.consumeLoop(gctx) })
	g.Go(func() error { return b.checkTopics(gctx) })
	g.Go(func() error { return b.publishLoop(gctx) })
	return g.Wait()
}

// Close releases what Run left: nothing waits for the broker, the
// unpublished events stay in the outbox. Close is idempotent.
func (b *Bridge) Close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
}
