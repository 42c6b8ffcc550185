package scripting

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// openBoltKV opens a BoltKV on path with a clock the test moves.
func openBoltKV(t *testing.T, path string, now *time.Time) *BoltKV {
	t.Helper()
	b, err := NewBoltKV(path)
	require.NoError(t, err)
	b.now = func() time.Time { return *now }
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func TestBoltKV(t *testing.T) {
	runKVConformance(t, func(t *testing.T) (KV, func(time.Duration)) {
		now := time.Unix(1_700_000_000, 0)
		b := openBoltKV(t, filepath.Join(t.TempDir(), "kv.db"), &now)
		return b, func(d time.Duration) { now = now.Add(d) }
	})
}

func TestBoltKVSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "kv.db")
	now := time.Unix(1_700_000_000, 0)
	b := openBoltKV(t, path, &now)
	require.NoError(t, b.Set(ctx, "doc", []byte(`{"a":[1,2]}`), 0))
	require.NoError(t, b.Set(ctx, "ttl", []byte(`"soon"`), time.Minute))
	_, err := b.Incr(ctx, "n", 41)
	require.NoError(t, err)
	require.NoError(t, b.Set(ctx, "gone", []byte(`1`), 0))
	require.NoError(t, b.Del(ctx, "gone"))
	require.NoError(t, b.Close())
	require.NoError(t, b.Close(), "closing twice is harmless")

	// The TTL keeps running while the store is closed.
	now = now.Add(30 * time.Second)
	b = openBoltKV(t, path, &now)
	v, ok, err := b.Get(ctx, "doc")
	require.NoError(t, err)
	require.True(t, ok)
	require.JSONEq(t, `{"a":[1,2]}`, string(v))
	n, err := b.Incr(ctx, "n", 1)
	require.NoError(t, err)
	require.Equal(t, int64(42), n)
	_, ok, err = b.Get(ctx, "gone")
	require.NoError(t, err)
	require.False(t, ok)
	v, ok, err = b.Get(ctx, "ttl")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, `"soon"`, string(v))
	now = now.Add(31 * time.Second)
	_, ok, err = b.Get(ctx, "ttl")
	require.NoError(t, err)
	require.False(t, ok, "expired one minute after it was set, restart included")
}

func TestBoltKVSweep(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	b := openBoltKV(t, filepath.Join(t.TempDir(), "kv.db"), &now)
	for i := range 50 {
		require.NoError(t, b.Set(ctx, "short"+string(rune('a'+i%26))+string(rune('a'+i/26)), []byte(`1`), time.Second))
	}
	require.NoError(t, b.Set(ctx, "long", []byte(`1`), time.Hour))
	require.NoError(t, b.Set(ctx, "forever", []byte(`1`), 0))
	n, err := b.Sweep()
	require.NoError(t, err)
	require.Zero(t, n, "nothing expired yet")
	now = now.Add(time.Minute)
	n, err = b.Sweep()
	require.NoError(t, err)
	require.Equal(t, 50, n)
	left, err := b.Len()
	require.NoError(t, err)
	require.Equal(t, 2, left)
}

func TestBoltKVLocked(t *testing.T) {
	now := time.Now()
	path := filepath.Join(t.TempDir(), "kv.db")
	openBoltKV(t, path, &now)
	_, err := NewBoltKV(path)
	require.ErrorIs(t, err, ErrKVLocked)
}

func TestBoltKVFromScripts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kv.db")
	now := time.Now()
	b := openBoltKV(t, path, &now)
	e := newEngine(t, Options{Runtimes: 1, KV: b, KVPrefix: "p:"})
	v, err := e.Eval(context.Background(), MustCompile(`kv.set("room:1", {n: 1}, 60); kv.incr("hits", 2); return [kv.get("room:1"), kv.incr("hits"), kv.get("none")]`), "", nil)
	require.NoError(t, err)
	require.Equal(t, []any{map[string]any{"n": int64(1)}, int64(3), nil}, v)
	raw, ok, err := b.Get(context.Background(), NamespacedKey("", "p:room:1"))
	require.NoError(t, err)
	require.True(t, ok)
	require.JSONEq(t, `{"n":1}`, string(raw))
}

// BenchmarkBoltKV measures one durable write (a committed bbolt
// transaction) and one read.
func BenchmarkBoltKV(b *testing.B) {
	ctx := context.Background()
	kv, err := NewBoltKV(filepath.Join(b.TempDir(), "kv.db"))
	require.NoError(b, err)
	b.Cleanup(func() { _ = kv.Close() })
	val := []byte(`{"board":[null,"X",null,"O",null,null,null,null,null],"turn":"X"}`)
	b.Run("set", func(b *testing.B) {
		for b.Loop() {
			if err := kv.Set(ctx, "game:1", val, time.Hour); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("set-parallel-32", func(b *testing.B) {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := kv.Set(ctx, "game:2", val, time.Hour); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("incr", func(b *testing.B) {
		for b.Loop() {
			if _, err := kv.Incr(ctx, "hits", 1); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := kv.Get(ctx, "game:1"); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestBoltKVGroupCommit(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	path := filepath.Join(t.TempDir(), "kv.db")
	b := openBoltKV(t, path, &now)
	require.NoError(t, b.Set(ctx, "text", []byte(`"x"`), 0))
	const writers, each = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, 3*writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := b.Incr(ctx, "n", 1)
				errs <- err
				// A failing write in the same group leaves the others alone.
				_, err = b.Incr(ctx, "text", 1)
				if !errors.Is(err, ErrNotInteger) {
					errs <- fmt.Errorf("incr on text: %v", err)
				}
				errs <- b.Set(ctx, fmt.Sprintf("w%d:%d", w, i), []byte(`1`), 0)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.NoError(t, b.Close())
	_, err := b.Incr(ctx, "n", 1)
	require.ErrorIs(t, err, ErrKVClosed)
	require.ErrorIs(t, b.Set(ctx, "k", []byte(`1`), 0), ErrKVClosed)

	b = openBoltKV(t, path, &now)
	v, ok, err := b.Get(ctx, "n")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, fmt.Sprint(writers*each), string(v))
	n, err := b.Len()
	require.NoError(t, err)
	require.Equal(t, 2+writers*each, n)
}
