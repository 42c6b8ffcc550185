package authz

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"

	"github.com/hubd/hubd/pkg/records"
)

// runCacheSuite is the conformance suite of Cache implementations.
func runCacheSuite(t *testing.T, newCache func(t *testing.T) Cache) {
	ctx := context.Background()
	decision := func() *CachedDecision {
		return &CachedDecision{
			HubRole:     "host",
			Permissions: Permissions{CanRead: true, CanSend: true, AllowedMessageTypes: []string{"text", "image"}, CanModerate: true},
			Layer:       LayerAuthSource,
			Source:      "members",
			RoomHash:    RecordFingerprint(records.Record{"id": "r1", "capacity": int64(9007199254740993)}),
		}
	}

	t.Run("miss", func(t *testing.T) {
		c := newCache(t)
		d, ok, err := c.Get(ctx, "chat", "r1", "u1")
		require.NoError(t, err)
		require.False(t, ok)
		require.Nil(t, d)
	})

	t.Run("round trip", func(t *testing.T) {
		c := newCache(t)
		require.NoError(t, c.Set(ctx, "chat", "r1", "u1", decision(), time.Minute))
		d, ok, err := c.Get(ctx, "chat", "r1", "u1")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, decision(), d)

		open := &CachedDecision{Layer: LayerAuthScript, Permissions: DefaultPermissions()}
		require.NoError(t, c.Set(ctx, "chat", "r2", "u1", open, time.Minute))
		d, ok, err = c.Get(ctx, "chat", "r2", "u1")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, open, d)
	})

	t.Run("zero ttl disables", func(t *testing.T) {
		c := newCache(t)
		require.NoError(t, c.Set(ctx, "chat", "r1", "u1", decision(), 0))
		_, ok, err := c.Get(ctx, "chat", "r1", "u1")
		require.NoError(t, err)
		require.False(t, ok)
	})

	t.Run("keys are distinct", func(t *testing.T) {
		c := newCache(t)
		keys := [][3]string{
			{"chat", "r1", "u1"}, {"chat", "r1", "u2"}, {"chat", "r2", "u1"}, {"lobby", "r1", "u1"},
			{"a:b", "c", "d"}, {"a", "b:c", "d"}, {"a", "b", "c:d"}, {"a:b:c", "", "d"}, {"", "", ""},
		}
		for i, k := range keys {
			d := decision()
			d.Source = fmt.Sprint(i)
			require.NoError(t, c.Set(ctx, k[0], k[1], k[2], d, time.Minute))
		}
		for i, k := range keys {
			d, ok, err := c.Get(ctx, k[0], k[1], k[2])
			require.NoError(t, err)
			require.True(t, ok, "%v", k)
			require.Equal(t, fmt.Sprint(i), d.Source, "%v", k)
		}
	})

	t.Run("overwrite", func(t *testing.T) {
		c := newCache(t)
		require.NoError(t, c.Set(ctx, "chat", "r1", "u1", decision(), time.Minute))
		d := decision()
		d.HubRole = "guest"
		require.NoError(t, c.Set(ctx, "chat", "r1", "u1", d, time.Minute))
		got, ok, err := c.Get(ctx, "chat", "r1", "u1")
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, "guest", got.HubRole)
	})

	t.Run("expiry", func(t *testing.T) {
		c := newCache(t)
		require.NoError(t, c.Set(ctx, "chat", "r1", "u1", decision(), 40*time.Millisecond))
		require.NoError(t, c.Set(ctx, "chat", "r1", "u2", decision(), time.Minute))
		require.Eventually(t, func() bool {
			_, ok, err := c.Get(ctx, "chat", "r1", "u1")
			return err == nil && !ok
		}, 5*time.Second, 10*time.Millisecond)
		_, ok, err := c.Get(ctx, "chat", "r1", "u2")
		require.NoError(t, err)
		require.True(t, ok, "a longer TTL is kept")
	})

	t.Run("invalidate hub", func(t *testing.T) {
		c := newCache(t)
		require.NoError(t, c.Set(ctx, "chat", "r1", "u1", decision(), time.Minute))
		require.NoError(t, c.Set(ctx, "chat", "r2", "u2", decision(), time.Minute))
		require.NoError(t, c.Set(ctx, "chat:x", "r1", "u1", decision(), time.Minute))
		require.NoError(t, c.Set(ctx, "lobby", "r1", "u1", decision(), time.Minute))
		require.NoError(t, c.InvalidateHub(ctx, "chat"))
		for _, k := range [][3]string{{"chat", "r1", "u1"}, {"chat", "r2", "u2"}} {
			_, ok, err := c.Get(ctx, k[0], k[1], k[2])
			require.NoError(t, err)
			require.False(t, ok, "%v survived", k)
		}
		for _, hub := range []string{"chat:x", "lobby"} {
			_, ok, err := c.Get(ctx, hub, "r1", "u1")
			require.NoError(t, err)
			require.True(t, ok, "other hub %s dropped", hub)
		}
		// The hub caches again afterwards.
		require.NoError(t, c.Set(ctx, "chat", "r1", "u1", decision(), time.Minute))
		_, ok, err := c.Get(ctx, "chat", "r1", "u1")
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, c.InvalidateHub(ctx, "never-used"))
	})

	t.Run("results belong to the caller", func(t *testing.T) {
		c := newCache(t)
		d := decision()
		require.NoError(t, c.Set(ctx, "chat", "r1", "u1", d, time.Minute))
		d.Permissions.AllowedMessageTypes[0] = "changed"
		got, _, err := c.Get(ctx, "chat", "r1", "u1")
		require.NoError(t, err)
		require.Equal(t, decision(), got)
		got.Permissions.AllowedMessageTypes[1] = "changed"
		got.HubRole = "changed"
		again, _, err := c.Get(ctx, "chat", "r1", "u1")
		require.NoError(t, err)
		require.Equal(t, decision(), again)
	})

	t.Run("concurrent", func(t *testing.T) {
		c := newCache(t)
		testenv.Concurrently(t, 8, func(g int) error {
			for i := range 30 {
				user := fmt.Sprintf("u%d-%d", g, i%5)
				if err := c.Set(ctx, "chat", "r1", user, decision(), time.Minute); err != nil {
					return err
				}
				if _, ok, err := c.Get(ctx, "chat", "r1", user); err != nil || !ok {
					return fmt.Errorf("get %s: ok=%v err=%v", user, ok, err)
				}
			}
			return nil
		})
	})
}

func TestDecisionConversion(t *testing.T) {
	d := &Decision{HubRole: "mod", Permissions: Permissions{CanRead: true, AllowedMessageTypes: []string{"text"}},
		Layer: LayerCheckRoles, Source: "s", Room: records.Record{"id": "r1"}}
	c := NewCachedDecision(d)
	require.Equal(t, RecordFingerprint(records.Record{"id": "r1"}), c.RoomHash)
	d.Permissions.AllowedMessageTypes[0] = "changed"
	now := records.Record{"id": "r1"}
	back := c.Decision(now)
	require.Equal(t, &Decision{HubRole: "mod", Permissions: Permissions{CanRead: true, AllowedMessageTypes: []string{"text"}},
		Layer: LayerCheckRoles, Source: "s", Room: now}, back)
	back.Permissions.AllowedMessageTypes[0] = "x"
	require.Equal(t, []string{"text"}, c.Permissions.AllowedMessageTypes)
}

// TestCachedDecisionOldEntry: an entry a shared cache holds from before
// decisions were stored without their room still decodes.
func TestCachedDecisionOldEntry(t *testing.T) {
	d, err := decodeDecision([]byte(`{"hubRole":"mod","permissions":{"canRead":true,"allowedMessageTypes":null},` +
		`"layer":"authSource","room":{"id":"r1","capacity":9007199254740993},"roomHash":"abc"}`))
	require.NoError(t, err)
	require.Equal(t, &CachedDecision{HubRole: "mod", Permissions: Permissions{CanRead: true, AllowedMessageTypes: []string{}},
		Layer: LayerAuthSource, RoomHash: "abc"}, d)
}

func TestMemoryCache(t *testing.T) {
	runCacheSuite(t, func(t *testing.T) Cache { return NewMemoryCache(0) })
}

func TestMemoryCacheBounded(t *testing.T) {
	ctx := context.Background()
	c := NewMemoryCache(2)
	d := &CachedDecision{Layer: LayerAuthScript}
	require.NoError(t, c.Set(ctx, "h", "r", "u1", d, time.Minute))
	require.NoError(t, c.Set(ctx, "h", "r", "u2", d, time.Minute))
	require.NoError(t, c.Set(ctx, "h", "r", "u1", d, time.Minute)) // u1 is now the newest
	require.NoError(t, c.Set(ctx, "h", "r", "u3", d, time.Minute))
	require.Equal(t, 2, c.Len())
	for user, want := range map[string]bool{"u1": true, "u2": false, "u3": true} {
		_, ok, err := c.Get(ctx, "h", "r", user)
		require.NoError(t, err)
		require.Equal(t, want, ok, user)
	}
}

// redisClient connects to the integration Redis or skips the test.
func redisClient(t *testing.T) rueidis.Client {
	t.Helper()
	return testenv.Redis(t, rueidis.ClientOption{})
}

// testPrefix is unique per test so runs and tests never share keys.
func testPrefix(t *testing.T) string {
	return fmt.Sprintf("hubdtest:%d:%d:", os.Getpid(), time.Now().UnixNano())
}

func TestRedisCache(t *testing.T) {
	client := redisClient(t)
	runCacheSuite(t, func(t *testing.T) Cache { return NewRedisCache(client, testPrefix(t)) })
}

func TestRedisCacheSharedBetweenNodes(t *testing.T) {
	ctx := context.Background()
	prefix := testPrefix(t)
	a := NewRedisCache(redisClient(t), prefix)
	b := NewRedisCache(redisClient(t), prefix)
	d := &CachedDecision{HubRole: "host", Layer: LayerAuthSource, Permissions: DefaultPermissions()}
	require.NoError(t, a.Set(ctx, "chat", "r1", "u1", d, time.Minute))
	got, ok, err := b.Get(ctx, "chat", "r1", "u1")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, d, got)

	// b caches the generation client-side; a's invalidation reaches it.
	require.NoError(t, a.InvalidateHub(ctx, "chat"))
	require.Eventually(t, func() bool {
		_, ok, err := b.Get(ctx, "chat", "r1", "u1")
		return err == nil && !ok
	}, 5*time.Second, 10*time.Millisecond)
}

func TestRedisCacheErrors(t *testing.T) {
	ctx := context.Background()
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{testenv.RedisAddr(t)}})
	require.NoError(t, err)
	c := NewRedisCache(client, testPrefix(t))
	require.NoError(t, c.Set(ctx, "chat", "r1", "u1", &CachedDecision{Layer: LayerAuthScript}, time.Minute))
	client.Close()

	d, ok, err := c.Get(ctx, "chat", "r1", "u1")
	require.Error(t, err)
	require.False(t, ok, "an unreachable cache is a miss")
	require.Nil(t, d)
	require.Error(t, c.Set(ctx, "chat", "r1", "u1", &CachedDecision{}, time.Minute))
	require.Error(t, c.InvalidateHub(ctx, "chat"))

	// A value that is not a decision is a miss with an error.
	client2 := redisClient(t)
	prefix := testPrefix(t)
	c2 := NewRedisCache(client2, prefix)
	require.NoError(t, client2.Do(ctx, client2.B().Set().Key(prefix+"authz:chat:0:r1:u1").Value("{not json").Build()).Error())
	_, ok, err = c2.Get(ctx, "chat", "r1", "u1")
	require.Error(t, err)
	require.False(t, ok)
}

func benchmarkCacheGet(b *testing.B, c Cache) {
	ctx := context.Background()
	d := &CachedDecision{HubRole: "host", Layer: LayerAuthSource, Permissions: DefaultPermissions(),
		RoomHash: RecordFingerprint(records.Record{"id": "r1", "title": "Room", "capacity": int64(10)})}
	require.NoError(b, c.Set(ctx, "chat", "r1", "u1", d, time.Minute))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, ok, err := c.Get(ctx, "chat", "r1", "u1"); err != nil || !ok {
				b.Errorf("get: ok=%v err=%v", ok, err)
				return
			}
		}
	})
}

func BenchmarkMemoryCacheGet(b *testing.B) { benchmarkCacheGet(b, NewMemoryCache(0)) }

func BenchmarkRedisCacheGet(b *testing.B) {
	client := testenv.Redis(b, rueidis.ClientOption{})
	benchmarkCacheGet(b, NewRedisCache(client, fmt.Sprintf("hubdbench:%d:", os.Getpid())))
}
