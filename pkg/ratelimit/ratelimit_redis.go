package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/rueidis"
)

// Redis is a limiter whose state lives in Redis, so that a limit holds for
// a user across every hubd node. It applies the same GCRA rule as Local,
// atomically in a script, with Redis' clock.
type Redis struct {
	client rueidis.Client
	prefix string
	script *rueidis.Lua
}

var _ Limiter = (*Redis)(nil)

// gcraScript stores the theoretical arrival time (microseconds) under
// KEYS[1]. ARGV: interval_us, window_us. Returns {allowed, retry_after_us}.
const gcraScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local nxt = tat + interval
local over = nxt - now - window
if over > 0 then
  return {0, over}
end
redis.call('SET', KEYS[1], tostring(nxt), 'PX', math.ceil((nxt - now) / 1000) + 1)
return {1, 0}
`

// NewRedis returns a limiter on client; keys start with prefix.
func NewRedis(client rueidis.Client, prefix string) *Redis {
	return &Redis{client: client, prefix: prefix, script: rueidis.NewLuaScript(gcraScript)}
}

// Allow implements Limiter. A non-positive limit means unlimited.
func (r *Redis) Allow(ctx context.Context, key string, limit int, window time.Duration) (Result, error) {
	if limit <= 0 || window <= 0 {
		return Result{Allowed: true}, nil
	}
	interval := (window / time.Duration(limit)).Microseconds()
	res, err := r.script.Exec(ctx, r.client, []string{r.prefix + "rl:" + key},
		[]string{fmt.Sprint(interval), fmt.Sprint(window.Microseconds())}).ToArray()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(res) != 2 {
		return Result{}, fmt.Errorf("ratelimit: redis: unexpected reply of %d values", len(res))
	}
	allowed, err := res[0].AsInt64()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	retry, err := res[1].AsInt64()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	return Result{Allowed: allowed == 1, RetryAfter: time.Duration(retry) * time.Microsecond}, nil
}
