package sio

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/zap"
)

// RedisAdapterOptions configures a RedisAdapter.
type RedisAdapterOptions struct {
	// Client is the Redis connection; the adapter does not close it.
	Client rueidis.Client
	// Prefix starts every channel name; the channel of a namespace is
	// Prefix + namespace name. Default "hubd:sio:".
	Prefix string
	// NodeID identifies this node. Default: random.
	NodeID string
	// PublishQueue is how many broadcasts may wait for Redis. When full, a
	// broadcast is not published (counted in PublishDropped). Default 8192.
	PublishQueue int
	// DeliveryQueue is how many received broadcasts may wait for local
	// delivery. When full, one is dropped (counted in DeliveryDropped)
	// rather than stall the Redis connection. Default 8192.
	DeliveryQueue int
	// PublishBatch is the most PUBLISH commands sent in one pipeline.
	// Default 256.
	PublishBatch int
	// Logger defaults to a no-op logger.
	Logger *zap.Logger
	// EmitterKey, when set, makes the adapter deliver the publications of
	// @socket.io/redis-emitter with that key (its default is "socket.io"),
	// see adapter_redis_emitter.go.
	EmitterKey string
	// EmitterRoom maps a room named in an emitter publication to the
	// Socket.IO room of this server's sockets; nil keeps the name.
	EmitterRoom func(room string) string
	// EmitterMaxBytes bounds one emitter publication; larger ones are
	// dropped. Default DefaultEmitterMaxBytes.
	EmitterMaxBytes int
	// OnResubscribe is called (on its own goroutine) when the subscriptions
	// are confirmed again after the subscription connection broke: what
	// the other nodes published meanwhile did not arrive.
	OnResubscribe func()
}

// Defaults of RedisAdapterOptions.
const (
	DefaultRedisPrefix        = "hubd:sio:"
	DefaultRedisPublishQueue  = 8192
	DefaultRedisDeliveryQueue = 8192
	DefaultRedisPublishBatch  = 256
)

// AdapterStats are the counters of a RedisAdapter, for the daemon's metrics.
type AdapterStats struct {
	Published       uint64 // broadcasts published to Redis
	PublishErrors   uint64 // PUBLISH commands that failed (Redis down, ...)
	PublishDropped  uint64 // broadcasts not published: the publish queue was full
	Received        uint64 // broadcasts received from other nodes
	DeliveryDropped uint64 // received broadcasts dropped: the delivery queue was full
	DecodeErrors    uint64 // received messages that could not be decoded
	Reconnects      uint64 // subscription connections re-established
}

// RedisAdapter shares broadcasts between nodes through Redis pub/sub, on one
// channel per namespace. Publishing is asynchronous: Publish encodes the
// message and queues it; one goroutine sends the queued messages as a
// pipeline, so a slow or unreachable Redis never blocks a broadcaster.
// Subscriptions live on one dedicated connection, re-established with
// backoff when it breaks. Delivery is at most once: what is published while
// a node is disconnected from Redis does not reach it.
type RedisAdapter struct {
	opts   RedisAdapterOptions
	log    *zap.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	pubq    chan pubItem
	deliver chan rueidis.PubSubMessage
	changed chan struct{}

	mu     sync.Mutex
	subs   map[string]map[*redisSub]struct{} // by channel
	active map[string]bool                   // channels confirmed by Redis

	published, publishErrors, publishDropped atomic.Uint64
	received, deliveryDropped, decodeErrors  atomic.Uint64
	reconnects                               atomic.Uint64
	subscribedOnce                           atomic.Bool
	dropLog, deliverLog, errLog              atomic.Int64 // last warning, unix ns
}

type redisSub struct{ fn func(*BroadcastMessage) }

// pubItem is one encoded broadcast waiting to be published.
type pubItem struct {
	channel string
	payload []byte
}

var _ Adapter = (*RedisAdapter)(nil)

// NewRedisAdapter starts the adapter's publish, subscribe and delivery
// goroutines; Close stops them.
func NewRedisAdapter(opts RedisAdapterOptions) (*RedisAdapter, error) {
	if opts.Client == nil {
		return nil, errors.New("sio: redis adapter: no client")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultRedisPrefix
	}
	if opts.NodeID == "" {
		opts.NodeID = newID()
	}
	if opts.PublishQueue <= 0 {
		opts.PublishQueue = DefaultRedisPublishQueue
	}
	if opts.DeliveryQueue <= 0 {
		opts.DeliveryQueue = DefaultRedisDeliveryQueue
	}
	if opts.PublishBatch <= 0 {
		opts.PublishBatch = DefaultRedisPublishBatch
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.EmitterMaxBytes <= 0 {
		opts.EmitterMaxBytes = DefaultEmitterMaxBytes
	}
	ctx, cancel := context.WithCancel(context.Background())
	a := &RedisAdapter{
		opts:    opts,
		log:     opts.Logger.Named("sio.redis").With(zap.String("node", opts.NodeID)),
		ctx:     ctx,
		cancel:  cancel,
		pubq:    make(chan pubItem, opts.PublishQueue),
		deliver: make(chan rueidis.PubSubMessage, opts.DeliveryQueue),
		changed: make(chan struct{}, 1),
		subs:    make(map[string]map[*redisSub]struct{}),
		active:  make(map[string]bool),
	}
	a.wg.Add(3)
	go func() { defer a.wg.Done(); a.publishLoop() }()
	go func() { defer a.wg.Done(); a.subscribeLoop() }()
	go func() { defer a.wg.Done(); a.deliveryLoop() }()
	return a, nil
}

// Close stops the adapter. Queued broadcasts not yet sent are dropped.
func (a *RedisAdapter) Close() error {
	a.cancel()
	a.wg.Wait()
	return nil
}

// NodeID implements Adapter.
func (a *RedisAdapter) NodeID() string { return a.opts.NodeID }

// Stats returns a snapshot of the counters.
func (a *RedisAdapter) Stats() AdapterStats {
	return AdapterStats{
		Published:       a.published.Load(),
		PublishErrors:   a.publishErrors.Load(),
		PublishDropped:  a.publishDropped.Load(),
		Received:        a.received.Load(),
		DeliveryDropped: a.deliveryDropped.Load(),
		DecodeErrors:    a.decodeErrors.Load(),
		Reconnects:      a.reconnects.Load(),
	}
}

func (a *RedisAdapter) channel(namespace string) string { return a.opts.Prefix + namespace }

// ErrPublishQueueFull is returned by Publish when Redis cannot keep up.
var ErrPublishQueueFull = errors.New("sio: redis adapter: publish queue full")

// Publish implements Adapter: it encodes m and queues it without waiting.
func (a *RedisAdapter) Publish(m *BroadcastMessage) error {
	cp := *m
	cp.Node = a.opts.NodeID
	b, err := cp.MarshalBinary()
	if err != nil {
		return fmt.Errorf("sio: redis adapter: %w", err)
	}
	select {
	case a.pubq <- pubItem{channel: a.channel(m.Namespace), payload: b}:
		return nil
	default:
		a.publishDropped.Add(1)
		a.logEvery(&a.dropLog, "publish queue full: broadcasts not published", zap.Uint64("dropped_total", a.publishDropped.Load()))
		return ErrPublishQueueFull
	}
}

// logEvery logs a warning at most every 5 s per slot.
func (a *RedisAdapter) logEvery(last *atomic.Int64, msg string, fields ...zap.Field) {
	now := time.Now().UnixNano()
	prev := last.Load()
	if now-prev < int64(5*time.Second) || !last.CompareAndSwap(prev, now) {
		return
	}
	a.log.Warn(msg, fields...)
}

func (a *RedisAdapter) publishLoop() {
	client := a.opts.Client
	batch := make([]pubItem, 0, a.opts.PublishBatch)
	cmds := make(rueidis.Commands, 0, a.opts.PublishBatch)
	for {
		select {
		case it := <-a.pubq:
			batch = append(batch[:0], it)
		case <-a.ctx.Done():
			return
		}
	fill:
		for len(batch) < a.opts.PublishBatch {
			select {
			case it := <-a.pubq:
				batch = append(batch, it)
			default:
				break fill
			}
		}
		cmds = cmds[:0]
		for _, it := range batch {
			cmds = append(cmds, client.B().Publish().Channel(it.channel).Message(rueidis.BinaryString(it.payload)).Build())
		}
		failed := 0
		var firstErr error
		for _, r := range client.DoMulti(a.ctx, cmds...) {
			if err := r.Error(); err != nil {
				failed++
				if firstErr == nil {
					firstErr = err
				}
			}
		}
		a.published.Add(uint64(len(cmds) - failed))
		if failed > 0 {
			a.publishErrors.Add(uint64(failed))
			if a.ctx.Err() != nil {
				return
			}
			a.logEvery(&a.errLog, "publish broadcasts", zap.Int("failed", failed), zap.Error(firstErr))
		}
	}
}

// Subscribe implements Adapter. The SUBSCRIBE itself is sent by the
// subscription goroutine; Subscribed reports when Redis confirmed it.
func (a *RedisAdapter) Subscribe(namespace string, fn func(*BroadcastMessage)) (func(), error) {
	ch := a.channel(namespace)
	s := &redisSub{fn: fn}
	a.mu.Lock()
	m := a.subs[ch]
	if m == nil {
		m = make(map[*redisSub]struct{})
		a.subs[ch] = m
	}
	m[s] = struct{}{}
	a.mu.Unlock()
	a.signal()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.mu.Lock()
			delete(a.subs[ch], s)
			if len(a.subs[ch]) == 0 {
				delete(a.subs, ch)
			}
			a.mu.Unlock()
			a.signal()
		})
	}, nil
}

// Subscribed reports whether Redis confirmed the subscription for namespace.
func (a *RedisAdapter) Subscribed(namespace string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.active[a.channel(namespace)]
}

func (a *RedisAdapter) signal() {
	select {
	case a.changed <- struct{}{}:
	default:
	}
}

func (a *RedisAdapter) subscribeLoop() {
	const minBackoff, maxBackoff = 50 * time.Millisecond, 2 * time.Second
	backoff := minBackoff
	for first := true; a.ctx.Err() == nil; first = false {
		if !first {
			a.reconnects.Add(1)
		}
		start := time.Now()
		err := a.session()
		if a.ctx.Err() != nil {
			return
		}
		a.log.Warn("redis subscription lost", zap.Error(err), zap.Duration("retry_in", backoff))
		if time.Since(start) > 10*time.Second {
			backoff = minBackoff
		}
		t := time.NewTimer(backoff)
		select {
		case <-t.C:
		case <-a.ctx.Done():
			t.Stop()
			return
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// session holds one subscription connection until it breaks.
func (a *RedisAdapter) session() error {
	dc, release := a.opts.Client.Dedicate()
	defer release()
	wait := dc.SetPubSubHooks(rueidis.PubSubHooks{
		OnMessage: func(m rueidis.PubSubMessage) {
			if fromNode(m.Message, a.opts.NodeID) {
				return // our own broadcast, already delivered locally
			}
			select {
			case a.deliver <- m:
			default:
				a.deliveryDropped.Add(1)
				a.logEvery(&a.deliverLog, "delivery queue full: remote broadcasts dropped", zap.Uint64("dropped_total", a.deliveryDropped.Load()))
			}
		},
		OnSubscription: func(s rueidis.PubSubSubscription) {
			a.mu.Lock()
			switch s.Kind {
			case "subscribe":
				a.active[s.Channel] = true
			case "unsubscribe":
				delete(a.active, s.Channel)
			}
			a.mu.Unlock()
		},
	})
	defer func() {
		a.mu.Lock()
		clear(a.active)
		a.mu.Unlock()
	}()
	subscribed := make(map[string]bool)
	sync := func() error {
		a.mu.Lock()
		var add, drop []string
		for ch := range a.subs {
			if !subscribed[ch] {
				add = append(add, ch)
			}
		}
		for ch := range subscribed {
			if _, ok := a.subs[ch]; !ok {
				drop = append(drop, ch)
			}
		}
		a.mu.Unlock()
		if len(add) > 0 {
			if err := dc.Do(a.ctx, dc.B().Subscribe().Channel(add...).Build()).Error(); err != nil {
				return fmt.Errorf("subscribe: %w", err)
			}
			for _, ch := range add {
				subscribed[ch] = true
			}
		}
		if len(drop) > 0 {
			if err := dc.Do(a.ctx, dc.B().Unsubscribe().Channel(drop...).Build()).Error(); err != nil {
				return fmt.Errorf("unsubscribe: %w", err)
			}
			for _, ch := range drop {
				delete(subscribed, ch)
			}
		}
		return nil
	}
	if err := sync(); err != nil {
		return err
	}
	if a.opts.EmitterKey != "" {
		if err := dc.Do(a.ctx, dc.B().Psubscribe().Pattern(a.emitterPattern()).Build()).Error(); err != nil {
			return fmt.Errorf("psubscribe %s: %w", a.emitterPattern(), err)
		}
	}
	if a.subscribedOnce.Swap(true) && a.opts.OnResubscribe != nil {
		a.log.Info("redis subscription restored")
		go a.opts.OnResubscribe()
	}
	for {
		select {
		case err, ok := <-wait:
			if !ok || err == nil {
				err = errors.New("connection closed")
			}
			return err
		case <-a.changed:
			if err := sync(); err != nil {
				return err
			}
		case <-a.ctx.Done():
			return a.ctx.Err()
		}
	}
}

// fromNode reports, without decoding the whole message, whether an encoded
// BroadcastMessage was published by node.
func fromNode(msg, node string) bool {
	if len(msg) < 2 || (msg[0] != broadcastVersion && msg[0] != broadcastVersionV1) {
		return false
	}
	n, k := binary.Uvarint([]byte(msg[1:min(len(msg), 11)]))
	if k <= 0 || n != uint64(len(node)) || 1+k+len(node) > len(msg) {
		return false
	}
	return msg[1+k:1+k+len(node)] == node
}

func (a *RedisAdapter) deliveryLoop() {
	var m BroadcastMessage
	for {
		var pm rueidis.PubSubMessage
		select {
		case pm = <-a.deliver:
		case <-a.ctx.Done():
			return
		}
		if pm.Pattern != "" {
			a.deliverEmitter(pm.Channel, []byte(pm.Message))
			continue
		}
		if err := m.UnmarshalBinary([]byte(pm.Message)); err != nil {
			a.decodeErrors.Add(1)
			continue
		}
		if m.Node == a.opts.NodeID {
			continue
		}
		a.received.Add(1)
		a.mu.Lock()
		subs := a.subs[pm.Channel]
		fns := make([]func(*BroadcastMessage), 0, len(subs))
		for s := range subs {
			fns = append(fns, s.fn)
		}
		a.mu.Unlock()
		for _, fn := range fns {
			fn(&m)
		}
	}
}
