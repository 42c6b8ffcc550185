// Package leasetest is the conformance suite every lease.Leaser passes:
// Local in the unit tests, Redis against a real server in the integration
// run.
package leasetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/lease"
)

// Pair is two nodes sharing leases.
type Pair struct {
	A, B lease.Leaser
	// TTL is the lease ttl the suite uses; expiry tests wait for it.
	TTL time.Duration
	// Advance moves the leasers' clock by d: a fake clock jumps, the wall
	// clock is waited for.
	Advance func(d time.Duration)
}

// NewPair returns two fresh nodes on a fresh set of leases.
type NewPair func(t *testing.T) Pair

// Run checks the Leaser contract on pairs from newPair.
func Run(t *testing.T, newPair NewPair) {
	ctx := context.Background()
	acquire := func(t *testing.T, l lease.Leaser, key string, ttl time.Duration) bool {
		t.Helper()
		ok, err := l.Acquire(ctx, key, ttl)
		require.NoError(t, err)
		return ok
	}

	t.Run("exclusive between nodes", func(t *testing.T) {
		p := newPair(t)
		require.True(t, acquire(t, p.A, "room", p.TTL), "a free lease is granted")
		require.False(t, acquire(t, p.B, "room", p.TTL), "held by the other node")
		require.True(t, acquire(t, p.A, "room", p.TTL), "the holder renews")
		require.True(t, acquire(t, p.B, "other", p.TTL), "keys are independent")
		require.False(t, acquire(t, p.A, "other", p.TTL))
	})

	t.Run("renewal extends the lease", func(t *testing.T) {
		p := newPair(t)
		require.True(t, acquire(t, p.A, "room", p.TTL))
		p.Advance(p.TTL * 2 / 3)
		require.True(t, acquire(t, p.A, "room", p.TTL))
		p.Advance(p.TTL * 2 / 3)
		require.False(t, acquire(t, p.B, "room", p.TTL), "renewed past the first ttl")
	})

	t.Run("release hands over", func(t *testing.T) {
		p := newPair(t)
		require.True(t, acquire(t, p.A, "room", p.TTL))
		require.NoError(t, p.A.Release(ctx, "room"))
		require.True(t, acquire(t, p.B, "room", p.TTL), "released: the other node takes it at once")
		require.False(t, acquire(t, p.A, "room", p.TTL))
	})

	t.Run("release by a non-holder leaves it", func(t *testing.T) {
		p := newPair(t)
		require.True(t, acquire(t, p.A, "room", p.TTL))
		require.NoError(t, p.B.Release(ctx, "room"))
		require.False(t, acquire(t, p.B, "room", p.TTL), "still held by a")
		require.True(t, acquire(t, p.A, "room", p.TTL))
		require.NoError(t, p.B.Release(ctx, "never-taken"), "releasing a free key is no error")
	})

	t.Run("expiry hands over", func(t *testing.T) {
		p := newPair(t)
		require.True(t, acquire(t, p.A, "room", p.TTL))
		p.Advance(p.TTL / 2)
		require.False(t, acquire(t, p.B, "room", p.TTL), "not expired yet")
		require.Eventually(t, func() bool {
			p.Advance(p.TTL / 4)
			return acquire(t, p.B, "room", p.TTL)
		}, 10*p.TTL+5*time.Second, time.Millisecond, "b takes the expired lease")
		require.False(t, acquire(t, p.A, "room", p.TTL), "a lost it")
	})

	t.Run("errors", func(t *testing.T) {
		p := newPair(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := p.A.Acquire(cctx, "room", p.TTL)
		require.ErrorIs(t, err, context.Canceled)
		require.ErrorIs(t, p.A.Release(cctx, "room"), context.Canceled)
		_, err = p.A.Acquire(ctx, "room", 0)
		require.True(t, errors.Is(err, lease.ErrBadTTL), "got %v", err)
		require.True(t, acquire(t, p.B, "room", p.TTL), "failed calls took nothing")
	})
}

// FakeClock is a clock tests move by hand, for NewLocalClock.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a clock standing at start.
func NewFakeClock(start time.Time) *FakeClock { return &FakeClock{now: start} }

// Now returns the clock's time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
