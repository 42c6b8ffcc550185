package scripting

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"
)

// redisClient connects to the test Redis or skips the test.
func redisClient(t *testing.T) rueidis.Client {
	t.Helper()
	return testenv.Redis(t, rueidis.ClientOption{DisableCache: true})
}

func TestRedisKV(t *testing.T) {
	c := redisClient(t)
	runKVConformance(t, func(t *testing.T) (KV, func(time.Duration)) {
		prefix := fmt.Sprintf("hubd-test:kv:%d:", time.Now().UnixNano())
		t.Cleanup(func() { deleteKeys(t, c, prefix) })
		// Redis time cannot be faked; moving the clock shortens every TTL
		// of the test's keys instead.
		advance := func(d time.Duration) {
			ctx := context.Background()
			for _, k := range keysOf(t, c, prefix) {
				ms, err := c.Do(ctx, c.B().Pttl().Key(k).Build()).AsInt64()
				require.NoError(t, err)
				if ms < 0 {
					continue // no TTL
				}
				if left := ms - d.Milliseconds(); left > 0 {
					require.NoError(t, c.Do(ctx, c.B().Pexpire().Key(k).Milliseconds(left).Build()).Error())
				} else {
					require.NoError(t, c.Do(ctx, c.B().Del().Key(k).Build()).Error())
				}
			}
		}
		return NewRedisKV(c, prefix), advance
	})
}

func TestRedisKVFromScripts(t *testing.T) {
	c := redisClient(t)
	prefix := fmt.Sprintf("hubd-test:kvjs:%d:", time.Now().UnixNano())
	t.Cleanup(func() { deleteKeys(t, c, prefix) })
	e := newEngine(t, Options{Runtimes: 1, KV: NewRedisKV(c, prefix)})
	v, err := e.Eval(context.Background(), MustCompile(`kv.set("room:1", {n: 1}, 60); kv.incr("hits", 2); return [kv.get("room:1"), kv.incr("hits"), kv.get("none")]`), "", nil)
	require.NoError(t, err)
	require.Equal(t, []any{map[string]any{"n": int64(1)}, int64(3), nil}, v)
	b, err := c.Do(context.Background(), c.B().Get().Key(prefix+NamespacedKey("", "room:1")).Build()).ToString()
	require.NoError(t, err)
	require.JSONEq(t, `{"n":1}`, b)
}

func keysOf(t *testing.T, c rueidis.Client, prefix string) []string {
	t.Helper()
	var keys []string
	var cursor uint64
	for {
		e, err := c.Do(context.Background(), c.B().Scan().Cursor(cursor).Match(prefix+"*").Count(1000).Build()).AsScanEntry()
		require.NoError(t, err)
		keys = append(keys, e.Elements...)
		if cursor = e.Cursor; cursor == 0 {
			return keys
		}
	}
}

func deleteKeys(t *testing.T, c rueidis.Client, prefix string) {
	for _, k := range keysOf(t, c, prefix) {
		_ = c.Do(context.Background(), c.B().Del().Key(k).Build()).Error()
	}
}
