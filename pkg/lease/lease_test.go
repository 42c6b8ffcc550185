package lease_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"
	"github.com/hubd/hubd/pkg/lease"
	"github.com/hubd/hubd/pkg/lease/leasetest"
)

func TestLocal(t *testing.T) {
	leasetest.Run(t, func(t *testing.T) leasetest.Pair {
		clk := leasetest.NewFakeClock(time.Unix(1_700_000_000, 0))
		a := lease.NewLocalClock(clk.Now)
		return leasetest.Pair{A: a, B: a.Peer(), TTL: 6 * time.Second, Advance: clk.Advance}
	})
}

func TestLocalWallClock(t *testing.T) {
	a := lease.NewLocal()
	b := a.Peer()
	require.NotEqual(t, a.Node(), b.Node())
	ctx := context.Background()
	ok, err := a.Acquire(ctx, "k", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, a.Node(), b.Holder("k"), "peers see one set of leases")
	require.Equal(t, 1, b.Len())
	require.WithinDuration(t, time.Now(), lease.Now(a), time.Minute)
	require.NoError(t, a.Release(ctx, "k"))
	require.Zero(t, a.Len())
	require.Empty(t, a.Holder("k"))
}

func redisClient(t *testing.T) rueidis.Client {
	t.Helper()
	return testenv.Redis(t, rueidis.ClientOption{DisableCache: true})
}

func testPrefix(t *testing.T, c rueidis.Client) string {
	prefix := fmt.Sprintf("hubd-test-%d:lease:", time.Now().UnixNano())
	t.Cleanup(func() {
		ctx := context.Background()
		keys, err := c.Do(ctx, c.B().Keys().Pattern(prefix+"*").Build()).AsStrSlice()
		if err == nil && len(keys) > 0 {
			_ = c.Do(ctx, c.B().Del().Key(keys...).Build()).Error()
		}
	})
	return prefix
}

func TestRedis(t *testing.T) {
	c1, c2 := redisClient(t), redisClient(t)
	leasetest.Run(t, func(t *testing.T) leasetest.Pair {
		prefix := testPrefix(t, c1)
		// Redis expires keys by its own clock: advancing it means waiting.
		// The ttl leaves a loaded machine 0.5 s of slack between the steps
		// of a check.
		return leasetest.Pair{
			A: lease.NewRedis(c1, prefix, "node-a"), B: lease.NewRedis(c2, prefix, "node-b"),
			TTL: 1500 * time.Millisecond, Advance: time.Sleep,
		}
	})
}

func TestRedisKeys(t *testing.T) {
	c := redisClient(t)
	prefix := testPrefix(t, c)
	l := lease.NewRedis(c, prefix, "node-a")
	ctx := context.Background()
	ok, err := l.Acquire(ctx, "sched:chat:r1", time.Minute)
	require.NoError(t, err)
	require.True(t, ok)
	v, err := c.Do(ctx, c.B().Get().Key(prefix+"sched:chat:r1").Build()).ToString()
	require.NoError(t, err)
	require.Equal(t, "node-a", v, "the key holds the node id")
	pttl, err := c.Do(ctx, c.B().Pttl().Key(prefix+"sched:chat:r1").Build()).AsInt64()
	require.NoError(t, err)
	require.InDelta(t, time.Minute.Milliseconds(), pttl, 5000, "the key expires with the lease")
	require.NoError(t, l.Release(ctx, "sched:chat:r1"))
	n, err := c.Do(ctx, c.B().Exists().Key(prefix+"sched:chat:r1").Build()).AsInt64()
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestRedisDownIsAnError(t *testing.T) {
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{testenv.RedisAddr(t)}, DisableCache: true})
	require.NoError(t, err)
	l := lease.NewRedis(c, "hubd-test-closed:", "node-a")
	c.Close()
	_, err = l.Acquire(context.Background(), "k", time.Second)
	require.ErrorContains(t, err, "lease: redis:")
	require.ErrorContains(t, l.Release(context.Background(), "k"), "lease: redis:")
}
