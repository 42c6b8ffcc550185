package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// runConformance checks the rules every Limiter must follow. clock moves
// the limiter's notion of now forward.
// tol is how far RetryAfter may be from the exact figure (real clocks
// move between calls).
func runConformance(t *testing.T, l Limiter, advance func(time.Duration), tol time.Duration) {
	ctx := context.Background()
	t.Run("burst of limit then reject", func(t *testing.T) {
		for i := 0; i < 5; i++ {
			r, err := l.Allow(ctx, "burst", 5, time.Minute)
			require.NoError(t, err)
			require.True(t, r.Allowed, "call %d", i+1)
		}
		r, err := l.Allow(ctx, "burst", 5, time.Minute)
		require.NoError(t, err)
		require.False(t, r.Allowed)
		require.InDelta(t, float64(12*time.Second), float64(r.RetryAfter), float64(tol))
	})
	t.Run("keys are independent", func(t *testing.T) {
		for i := 0; i < 3; i++ {
			r, _ := l.Allow(ctx, "a", 3, time.Minute)
			require.True(t, r.Allowed)
		}
		r, _ := l.Allow(ctx, "a", 3, time.Minute)
		require.False(t, r.Allowed)
		r, _ = l.Allow(ctx, "b", 3, time.Minute)
		require.True(t, r.Allowed)
	})
	t.Run("steady rate after the burst", func(t *testing.T) {
		key := "steady"
		for i := 0; i < 2; i++ {
			r, _ := l.Allow(ctx, key, 2, time.Second)
			require.True(t, r.Allowed)
		}
		r, _ := l.Allow(ctx, key, 2, time.Second)
		require.False(t, r.Allowed)
		advance(500 * time.Millisecond)
		r, _ = l.Allow(ctx, key, 2, time.Second)
		require.True(t, r.Allowed, "one slot frees every window/limit")
		r, _ = l.Allow(ctx, key, 2, time.Second)
		require.False(t, r.Allowed)
	})
	t.Run("rejected calls do not consume", func(t *testing.T) {
		key := "noconsume"
		r, _ := l.Allow(ctx, key, 1, time.Second)
		require.True(t, r.Allowed)
		for i := 0; i < 10; i++ {
			r, _ = l.Allow(ctx, key, 1, time.Second)
			require.False(t, r.Allowed)
		}
		advance(time.Second)
		r, _ = l.Allow(ctx, key, 1, time.Second)
		require.True(t, r.Allowed)
	})
	t.Run("unlimited", func(t *testing.T) {
		for i := 0; i < 100; i++ {
			r, _ := l.Allow(ctx, fmt.Sprint("u", i%3), 0, time.Minute)
			require.True(t, r.Allowed)
		}
	})
}

func TestLocal(t *testing.T) {
	l := NewLocal()
	now := time.Unix(1_800_000_000, 0)
	l.now = func() time.Time { return now }
	runConformance(t, l, func(d time.Duration) { now = now.Add(d) }, time.Millisecond)
	// Idle keys are forgotten once their window has passed.
	require.Equal(t, 5, l.Len())
	now = now.Add(2 * time.Minute)
	_, _ = l.Allow(context.Background(), "fresh", 1, time.Minute)
	for i := range l.shards {
		l.shards[i].mu.Lock()
		l.shards[i].sweep(now)
		l.shards[i].mu.Unlock()
	}
	require.Equal(t, 1, l.Len(), "only the key still inside its window is kept")
}

func BenchmarkLocalAllow(b *testing.B) {
	l := NewLocal()
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			_, _ = l.Allow(ctx, fmt.Sprint("user", i%1000), 60, time.Minute)
			i++
		}
	})
}
