package lease

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/rueidis"
)

// Redis is a Leaser whose leases live in Redis, shared by every hubd node
// on it. A lease is a key (prefix + key) holding the node id, with Redis'
// own expiry as its ttl.
type Redis struct {
	client  rueidis.Client
	prefix  string
	node    string
	acquire *rueidis.Lua
	release *rueidis.Lua
}

var _ Leaser = (*Redis)(nil)

// acquireScript: KEYS[1] the lease, ARGV node, ttl in ms. The holder
// renews, a free lease is taken, a lease held by another node is refused.
const acquireScript = `
local v = redis.call('GET', KEYS[1])
if v == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not v then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
`

// releaseScript: KEYS[1] the lease, ARGV node. Only the holder deletes it.
const releaseScript = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`

// NewRedis returns the Leaser of node on client; keys start with prefix.
func NewRedis(client rueidis.Client, prefix, node string) *Redis {
	return &Redis{
		client: client, prefix: prefix, node: node,
		acquire: rueidis.NewLuaScript(acquireScript),
		release: rueidis.NewLuaScript(releaseScript),
	}
}

// Acquire implements Leaser.
func (r *Redis) Acquire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	ms := strconv.FormatInt(ttl.Milliseconds(), 10)
	n, err := r.acquire.Exec(ctx, r.client, []string{r.prefix + key}, []string{r.node, ms}).AsInt64()
	if err != nil {
		return false, fmt.Errorf("lease: redis: %w", err)
	}
	return n == 1, nil
}

// Release implements Leaser.
func (r *Redis) Release(ctx context.Context, key string) error {
	if err := r.release.Exec(ctx, r.client, []string{r.prefix + key}, []string{r.node}).Error(); err != nil {
		return fmt.Errorf("lease: redis: %w", err)
	}
	return nil
}
