package scripting

import (
	"context"
	"errors"
	"time"
)

// KV is the host key-value store behind the kv.* functions of MScript. Values
// are JSON text; Incr works on keys holding an integer (or missing keys) like
// Redis INCRBY, and keeps the key's TTL. A ttl <= 0 means no expiry.
type KV interface {
	Get(ctx context.Context, key string) (value []byte, ok bool, err error)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Del(ctx context.Context, key string) error
	Incr(ctx context.Context, key string, by int64) (int64, error)
}

// ErrNotInteger is returned by Incr when the key holds something other than an
// integer.
var ErrNotInteger = errors.New("kv: value is not an integer")
