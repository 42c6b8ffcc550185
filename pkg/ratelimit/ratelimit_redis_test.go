package ratelimit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"
)

func redisClient(t *testing.T) rueidis.Client {
	t.Helper()
	return testenv.Redis(t, rueidis.ClientOption{DisableCache: true})
}

func TestRedis(t *testing.T) {
	c := redisClient(t)
	prefix := fmt.Sprintf("hubd-test-%d:", time.Now().UnixNano())
	l := NewRedis(c, prefix)
	// Redis' own clock drives the limiter: advancing means waiting. Keep
	// the waits short (and far above scheduling noise) by halving windows.
	runConformance(t, scaled{l, 2}, func(d time.Duration) { time.Sleep(d / 2) }, time.Second)
}

// scaled shrinks every window by factor, so that the shared rules (written
// with minutes and seconds) run against a real clock in milliseconds.
type scaled struct {
	l      Limiter
	factor time.Duration
}

func (s scaled) Allow(ctx context.Context, key string, limit int, window time.Duration) (Result, error) {
	r, err := s.l.Allow(ctx, key, limit, window/s.factor)
	r.RetryAfter *= s.factor
	return r, err
}

func TestRedisSharedAcrossClients(t *testing.T) {
	c1, c2 := redisClient(t), redisClient(t)
	prefix := fmt.Sprintf("hubd-test-%d:", time.Now().UnixNano())
	a, b := NewRedis(c1, prefix), NewRedis(c2, prefix)
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		r, err := a.Allow(ctx, "user", 6, time.Minute)
		require.NoError(t, err)
		require.True(t, r.Allowed)
		r, err = b.Allow(ctx, "user", 6, time.Minute)
		require.NoError(t, err)
		require.True(t, r.Allowed)
	}
	r, err := b.Allow(ctx, "user", 6, time.Minute)
	require.NoError(t, err)
	require.False(t, r.Allowed, "the limit holds across nodes")
	require.Greater(t, r.RetryAfter, time.Duration(0))
}

func TestRedisDownIsAnError(t *testing.T) {
	c := redisClient(t)
	l := NewRedis(c, "x:")
	c.Close()
	_, err := l.Allow(context.Background(), "k", 1, time.Second)
	require.Error(t, err)
}
