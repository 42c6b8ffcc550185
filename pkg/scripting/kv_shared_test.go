package scripting

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// newKVFunc returns a fresh, empty store and a way to move its clock past
// TTLs without sleeping.
type newKVFunc func(t *testing.T) (kv KV, advance func(time.Duration))

// runKVConformance checks the behaviour every KV implementation must share.
func runKVConformance(t *testing.T, newKV newKVFunc) {
	ctx := context.Background()
	t.Run("get missing", func(t *testing.T) {
		kv, _ := newKV(t)
		_, ok, err := kv.Get(ctx, "nope")
		require.NoError(t, err)
		require.False(t, ok)
	})
	t.Run("set get del", func(t *testing.T) {
		kv, _ := newKV(t)
		require.NoError(t, kv.Set(ctx, "k", []byte(`{"a":1}`), 0))
		v, ok, err := kv.Get(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok)
		require.JSONEq(t, `{"a":1}`, string(v))
		require.NoError(t, kv.Set(ctx, "k", []byte(`2`), 0))
		v, _, err = kv.Get(ctx, "k")
		require.NoError(t, err)
		require.Equal(t, "2", string(v))
		require.NoError(t, kv.Del(ctx, "k"))
		require.NoError(t, kv.Del(ctx, "k"), "deleting a missing key is fine")
		_, ok, err = kv.Get(ctx, "k")
		require.NoError(t, err)
		require.False(t, ok)
	})
	t.Run("incr", func(t *testing.T) {
		kv, _ := newKV(t)
		tests := []struct {
			by, want int64
		}{{1, 1}, {5, 6}, {-10, -4}, {0, -4}}
		for _, tc := range tests {
			n, err := kv.Incr(ctx, "n", tc.by)
			require.NoError(t, err)
			require.Equal(t, tc.want, n)
		}
		v, _, err := kv.Get(ctx, "n")
		require.NoError(t, err)
		require.Equal(t, "-4", string(v))
		require.NoError(t, kv.Set(ctx, "s", []byte(`"text"`), 0))
		_, err = kv.Incr(ctx, "s", 1)
		require.ErrorIs(t, err, ErrNotInteger)
	})
	t.Run("ttl", func(t *testing.T) {
		kv, advance := newKV(t)
		require.NoError(t, kv.Set(ctx, "short", []byte(`1`), time.Second))
		require.NoError(t, kv.Set(ctx, "forever", []byte(`1`), 0))
		_, err := kv.Incr(ctx, "short", 1) // keeps the TTL
		require.NoError(t, err)
		_, ok, err := kv.Get(ctx, "short")
		require.NoError(t, err)
		require.True(t, ok)
		advance(2 * time.Second)
		_, ok, err = kv.Get(ctx, "short")
		require.NoError(t, err)
		require.False(t, ok, "expired key must be gone")
		_, ok, err = kv.Get(ctx, "forever")
		require.NoError(t, err)
		require.True(t, ok)
		n, err := kv.Incr(ctx, "short", 1)
		require.NoError(t, err)
		require.Equal(t, int64(1), n, "an expired counter starts again")
	})
	t.Run("namespaces", func(t *testing.T) {
		kv, _ := newKV(t)
		a, b, ab, shared := Namespace(kv, "a"), Namespace(kv, "b"), Namespace(kv, "a:b"), SharedNamespace(kv)
		require.NoError(t, a.Set(ctx, "k", []byte(`"a"`), 0))
		require.NoError(t, a.Set(ctx, "b:c", []byte(`"a b:c"`), 0))
		_, ok, err := b.Get(ctx, "k")
		require.NoError(t, err)
		require.False(t, ok, "hub b does not see hub a's key")
		_, ok, err = ab.Get(ctx, "c")
		require.NoError(t, err)
		require.False(t, ok, `hub "a:b" key "c" is not hub "a" key "b:c"`)
		_, ok, err = shared.Get(ctx, "k")
		require.NoError(t, err)
		require.False(t, ok)
		n, err := b.Incr(ctx, "k", 2)
		require.NoError(t, err)
		require.Equal(t, int64(2), n, "b's counter starts from nothing")
		require.NoError(t, b.Del(ctx, "k"))
		v, ok, err := a.Get(ctx, "k")
		require.NoError(t, err)
		require.True(t, ok, "b's del leaves a's key")
		require.Equal(t, `"a"`, string(v))
		require.NoError(t, shared.Set(ctx, "k", []byte(`1`), 0))
		v, _, err = kv.Get(ctx, SharedKey("k"))
		require.NoError(t, err)
		require.Equal(t, "1", string(v))
		v, _, err = kv.Get(ctx, NamespacedKey("a", "k"))
		require.NoError(t, err)
		require.Equal(t, `"a"`, string(v))
	})
	t.Run("canceled context", func(t *testing.T) {
		kv, _ := newKV(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		require.ErrorIs(t, kv.Set(cctx, "k", []byte(`1`), 0), context.Canceled)
		_, _, err := kv.Get(cctx, "k")
		require.ErrorIs(t, err, context.Canceled)
	})
}

func TestMemoryKV(t *testing.T) {
	runKVConformance(t, func(t *testing.T) (KV, func(time.Duration)) {
		m := NewMemoryKV()
		now := time.Unix(1_700_000_000, 0)
		m.now = func() time.Time { return now }
		return m, func(d time.Duration) { now = now.Add(d) }
	})
}

func TestMemoryKVSweepsExpiredKeys(t *testing.T) {
	m := NewMemoryKV()
	now := time.Unix(1_700_000_000, 0)
	m.now = func() time.Time { return now }
	ctx := context.Background()
	for i := 0; i < 100; i++ {
		require.NoError(t, m.Set(ctx, string(rune('a'+i%26))+string(rune('0'+i/26)), []byte(`1`), time.Second))
	}
	require.Equal(t, 100, m.Len())
	now = now.Add(time.Minute)
	for i := 0; i < sweepEvery; i++ {
		require.NoError(t, m.Set(ctx, "live", []byte(`1`), 0))
	}
	require.Equal(t, 1, m.Len())
}
