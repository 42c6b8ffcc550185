// Package redisguard bounds how long hubd waits for Redis. A Guard wraps
// the shared rueidis client: every command gets a deadline (Timeout), and
// after consecutive transport failures the node is degraded: commands fail
// at once with ErrDegraded, so presence, rate limits, leases and the auth
// cache fall back to the node's own view without waiting, until a probe
// (PING every ProbeInterval) finds Redis again. Then the recovery hooks run
// (presence records rewritten, rooms caught up with the message store).
package redisguard

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/zap"
)

// ErrDegraded is returned, without asking Redis, while the node is
// degraded.
var ErrDegraded = errors.New("redis unavailable: node degraded")

// Options configures a Guard.
type Options struct {
	// Client is the connection to guard; the Guard closes it.
	Client rueidis.Client
	// Timeout bounds one command (or pipeline). Default 500ms.
	Timeout time.Duration
	// Failures is how many consecutive transport failures degrade the
	// node. Default 1: a node that waited Timeout once stops waiting until
	// a probe answers (ProbeInterval later when Redis is fine).
	Failures int
	// ProbeInterval is how often a degraded node pings Redis. Default 250ms.
	ProbeInterval time.Duration
	// OnChange is called when the node becomes degraded (true) or Redis
	// answers again (false), on the goroutine that noticed.
	OnChange func(degraded bool)
	Logger   *zap.Logger
}

// Defaults of Options.
const (
	DefaultTimeout       = 500 * time.Millisecond
	DefaultFailures      = 1
	DefaultProbeInterval = 250 * time.Millisecond
)

// Guard is a rueidis.Client with bounded waits; see the package comment.
// Commands on dedicated connections (pub/sub) pass through unguarded.
type Guard struct {
	rueidis.Client
	opts     Options
	log      *zap.Logger
	degraded atomic.Bool
	failures atomic.Int32

	mu      sync.Mutex
	hooks   []func()
	probing bool
	closed  chan struct{}
	wg      sync.WaitGroup
}

var _ rueidis.Client = (*Guard)(nil)

// New wraps opts.Client.
func New(opts Options) *Guard {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Failures <= 0 {
		opts.Failures = DefaultFailures
	}
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = DefaultProbeInterval
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	return &Guard{Client: opts.Client, opts: opts, log: opts.Logger.Named("redis"), closed: make(chan struct{})}
}

// Degraded reports whether the node currently gives up on Redis at once.
func (g *Guard) Degraded() bool { return g.degraded.Load() }

// OnRecover adds a hook run (each on its own goroutine) when Redis answers
// again after the node was degraded.
func (g *Guard) OnRecover(fn func()) {
	g.mu.Lock()
	g.hooks = append(g.hooks, fn)
	g.mu.Unlock()
}

// Do implements rueidis.Client.
func (g *Guard) Do(ctx context.Context, cmd rueidis.Completed) rueidis.RedisResult {
	return g.one(ctx, func(c context.Context) rueidis.RedisResult { return g.Client.Do(c, cmd) })
}

// DoMulti implements rueidis.Client.
func (g *Guard) DoMulti(ctx context.Context, cmds ...rueidis.Completed) []rueidis.RedisResult {
	return g.many(ctx, len(cmds), func(c context.Context) []rueidis.RedisResult { return g.Client.DoMulti(c, cmds...) })
}

// DoCache implements rueidis.Client.
func (g *Guard) DoCache(ctx context.Context, cmd rueidis.Cacheable, ttl time.Duration) rueidis.RedisResult {
	return g.one(ctx, func(c context.Context) rueidis.RedisResult { return g.Client.DoCache(c, cmd, ttl) })
}

// DoMultiCache implements rueidis.Client.
func (g *Guard) DoMultiCache(ctx context.Context, multi ...rueidis.CacheableTTL) []rueidis.RedisResult {
	return g.many(ctx, len(multi), func(c context.Context) []rueidis.RedisResult { return g.Client.DoMultiCache(c, multi...) })
}

// one runs a single-result call under the guard: refused at once while
// degraded, bounded by the guard's timeout, its transport failure counted.
func (g *Guard) one(ctx context.Context, call func(context.Context) rueidis.RedisResult) rueidis.RedisResult {
	if g.degraded.Load() {
		return rueidis.NewResult(rueidis.RedisMessage{}, ErrDegraded)
	}
	cctx, cancel, mine := g.bound(ctx)
	defer cancel()
	r := call(cctx)
	g.observe(ctx, mine, r.Error())
	return r
}

// many is one for a call of n results.
func (g *Guard) many(ctx context.Context, n int, call func(context.Context) []rueidis.RedisResult) []rueidis.RedisResult {
	if g.degraded.Load() {
		return failAll(n)
	}
	cctx, cancel, mine := g.bound(ctx)
	defer cancel()
	rs := call(cctx)
	g.observeAll(ctx, mine, rs)
	return rs
}

// Close stops the probe and closes the client.
func (g *Guard) Close() {
	g.mu.Lock()
	select {
	case <-g.closed:
	default:
		close(g.closed)
	}
	g.mu.Unlock()
	g.wg.Wait()
	g.Client.Close()
}

func failAll(n int) []rueidis.RedisResult {
	out := make([]rueidis.RedisResult, n)
	for i := range out {
		out[i] = rueidis.NewResult(rueidis.RedisMessage{}, ErrDegraded)
	}
	return out
}

// bound gives a call the guard's timeout; mine reports whether that
// deadline, not an earlier one of the caller, is the one that holds.
func (g *Guard) bound(ctx context.Context) (context.Context, context.CancelFunc, bool) {
	d := time.Now().Add(g.opts.Timeout)
	if cd, ok := ctx.Deadline(); ok && cd.Before(d) {
		ctx, cancel := context.WithCancel(ctx)
		return ctx, cancel, false
	}
	ctx, cancel := context.WithDeadline(ctx, d)
	return ctx, cancel, true
}

func (g *Guard) observeAll(ctx context.Context, mine bool, rs []rueidis.RedisResult) {
	var err error
	for _, r := range rs {
		if e := r.Error(); transport(e) {
			err = e
			break
		}
	}
	g.observe(ctx, mine, err)
}

// observe counts a transport failure (not one the caller's own context
// caused) or resets the count.
func (g *Guard) observe(ctx context.Context, mine bool, err error) {
	if !transport(err) {
		g.failures.Store(0)
		return
	}
	if ctx.Err() != nil || (!mine && errors.Is(err, context.DeadlineExceeded)) {
		return // the caller gave up, not Redis
	}
	if int(g.failures.Add(1)) >= g.opts.Failures {
		g.degrade(err)
	}
}

// transport reports whether err means Redis did not answer (rather than a
// nil reply or an error reply).
func transport(err error) bool {
	if err == nil || rueidis.IsRedisNil(err) {
		return false
	}
	var re *rueidis.RedisError
	return !errors.As(err, &re)
}

func (g *Guard) degrade(err error) {
	if g.degraded.Swap(true) {
		return
	}
	g.log.Warn("redis degraded: falling back to this node's view until it answers again",
		zap.Duration("timeout", g.opts.Timeout), zap.Error(err))
	if g.opts.OnChange != nil {
		g.opts.OnChange(true)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.closed:
		return
	default:
	}
	if !g.probing {
		g.probing = true
		g.wg.Add(1)
		go g.probe()
	}
}

// probe pings Redis until it answers, then ends the degraded state.
func (g *Guard) probe() {
	defer g.wg.Done()
	t := time.NewTicker(g.opts.ProbeInterval)
	defer t.Stop()
	since := time.Now()
	for {
		select {
		case <-g.closed:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), g.opts.Timeout)
		err := g.Client.Do(ctx, g.Client.B().Ping().Build()).Error()
		cancel()
		if err != nil {
			continue
		}
		g.mu.Lock()
		g.probing = false
		hooks := append([]func(){}, g.hooks...)
		g.mu.Unlock()
		g.failures.Store(0)
		g.degraded.Store(false)
		g.log.Info("redis available again: resynchronizing", zap.Duration("degraded_for", time.Since(since).Round(time.Millisecond)))
		if g.opts.OnChange != nil {
			g.opts.OnChange(false)
		}
		for _, fn := range hooks {
			go fn()
		}
		return
	}
}
