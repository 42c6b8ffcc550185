package redisguard

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"
)

func TestGuardGivesUpQuicklyAndRecovers(t *testing.T) {
	addr := os.Getenv("HUBD_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("HUBD_TEST_REDIS_ADDR is not set (scripts/test.sh starts Redis)")
	}
	p := testenv.NewStallProxy(t, addr)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{p.Addr()}, DisableCache: true})
	require.NoError(t, err)
	var changes []bool
	var mu sync.Mutex
	const timeout = 200 * time.Millisecond
	g := New(Options{Client: c, Timeout: timeout, Failures: 2, ProbeInterval: 50 * time.Millisecond, OnChange: func(d bool) {
		mu.Lock()
		changes = append(changes, d)
		mu.Unlock()
	}})
	defer g.Close()
	var recovered atomic.Int32
	g.OnRecover(func() { recovered.Add(1) })
	ctx := context.Background()
	key := "redisguard:test:" + t.Name()
	require.NoError(t, g.Do(ctx, g.B().Set().Key(key).Value("1").Build()).Error())
	require.False(t, g.Degraded())
	// A nil reply and an error reply are answers, not failures.
	require.True(t, rueidis.IsRedisNil(g.Do(ctx, g.B().Get().Key(key+":none").Build()).Error()))
	require.NoError(t, g.Do(ctx, g.B().Set().Key("redisguard:test:notanumber").Value("x").Build()).Error())
	require.Error(t, g.Do(ctx, g.B().Incr().Key("redisguard:test:notanumber").Build()).Error())
	require.False(t, g.Degraded())

	p.SetStalled(true)
	for i := 0; i < 2; i++ {
		start := time.Now()
		err := g.Do(ctx, g.B().Get().Key(key).Build()).Error()
		require.Error(t, err)
		require.Less(t, time.Since(start), 4*timeout, "a stalled Redis is given up on after the timeout")
	}
	require.True(t, g.Degraded())
	// Degraded: refused without asking Redis, single and pipelined.
	require.ErrorIs(t, g.Do(ctx, g.B().Get().Key(key).Build()).Error(), ErrDegraded)
	for _, r := range g.DoMulti(ctx, g.B().Get().Key(key).Build(), g.B().Get().Key(key).Build()) {
		require.ErrorIs(t, r.Error(), ErrDegraded)
	}
	require.Zero(t, recovered.Load())

	p.SetStalled(false)
	require.Eventually(t, func() bool { return !g.Degraded() && recovered.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, g.Do(ctx, g.B().Get().Key(key).Build()).Error())
	mu.Lock()
	require.Equal(t, []bool{true, false}, changes)
	mu.Unlock()
}

func TestGuardIgnoresTheCallersOwnCancel(t *testing.T) {
	addr := os.Getenv("HUBD_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("HUBD_TEST_REDIS_ADDR is not set (scripts/test.sh starts Redis)")
	}
	p := testenv.NewStallProxy(t, addr)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{p.Addr()}, DisableCache: true})
	require.NoError(t, err)
	g := New(Options{Client: c, Timeout: time.Second, Failures: 1})
	defer g.Close()
	require.NoError(t, g.Do(context.Background(), g.B().Ping().Build()).Error())
	p.SetStalled(true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.Error(t, g.Do(ctx, g.B().Ping().Build()).Error())
	require.False(t, g.Degraded(), "the caller gave up first: Redis is not known to be down")
	p.SetStalled(false)
}
