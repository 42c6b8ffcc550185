package scripting

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/rueidis"
)

// RedisKV is the KV of a hubd cluster: every node sees the same keys, and
// keys survive restarts as far as Redis keeps them. Values are stored as
// the JSON text the script gave; TTLs are Redis TTLs (millisecond
// precision) and Incr is INCRBY, which keeps the key's TTL.
type RedisKV struct {
	c      rueidis.Client
	prefix string
}

var _ KV = (*RedisKV)(nil)

// NewRedisKV returns a KV on c. prefix is prepended to every key (for
// example "hubd:kv:"), so that scripts cannot reach other keys of the
// Redis database. The caller owns c and closes it.
func NewRedisKV(c rueidis.Client, prefix string) *RedisKV {
	return &RedisKV{c: c, prefix: prefix}
}

// Get returns the value of key.
func (r *RedisKV) Get(ctx context.Context, key string) ([]byte, bool, error) {
	b, err := r.c.Do(ctx, r.c.B().Get().Key(r.prefix+key).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("redis get: %w", err)
	}
	return b, true, nil
}

// Set stores value under key; ttl <= 0 means no expiry.
func (r *RedisKV) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	var cmd rueidis.Completed
	if ttl > 0 {
		ms := max(ttl.Milliseconds(), 1)
		cmd = r.c.B().Set().Key(r.prefix + key).Value(rueidis.BinaryString(value)).PxMilliseconds(ms).Build()
	} else {
		cmd = r.c.B().Set().Key(r.prefix + key).Value(rueidis.BinaryString(value)).Build()
	}
	if err := r.c.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("redis set: %w", err)
	}
	return nil
}

// Del removes key; a missing key is not an error.
func (r *RedisKV) Del(ctx context.Context, key string) error {
	if err := r.c.Do(ctx, r.c.B().Del().Key(r.prefix+key).Build()).Error(); err != nil {
		return fmt.Errorf("redis del: %w", err)
	}
	return nil
}

// Incr adds by to the integer at key (0 when missing) and returns the sum.
func (r *RedisKV) Incr(ctx context.Context, key string, by int64) (int64, error) {
	n, err := r.c.Do(ctx, r.c.B().Incrby().Key(r.prefix+key).Increment(by).Build()).AsInt64()
	if err != nil {
		if re, ok := rueidis.IsRedisErr(err); ok && strings.Contains(re.Error(), "not an integer") {
			return 0, ErrNotInteger
		}
		return 0, fmt.Errorf("redis incrby: %w", err)
	}
	return n, nil
}
