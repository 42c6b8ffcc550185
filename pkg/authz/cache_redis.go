package authz

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

// DefaultGenerationCacheTTL is how long a RedisCache trusts its client-side
// cached copy of a hub's generation. Redis invalidates the copy as soon as
// another node bumps the generation (RESP3 client tracking), so this only
// bounds staleness when invalidation messages are lost.
const DefaultGenerationCacheTTL = time.Minute

// RedisCache is a Cache shared by every hubd node through Redis.
//
// Decisions are stored as JSON under
// "<prefix>authz:<hub>:<generation>:<room>:<user>" with the TTL as the key's
// expiry (hub, room and user are query-escaped, so ':' in them cannot make
// two keys collide). InvalidateHub increments "<prefix>authz:<hub>:gen": keys
// of older generations are no longer read and expire on their own, with no
// SCAN or mass DEL. The generation is read with client-side caching, so a
// lookup is usually one round trip.
type RedisCache struct {
	client rueidis.Client
	prefix string
	genTTL time.Duration

	// bumped holds the generation this node's own InvalidateHub produced, so
	// its next lookups never use a client-side copy older than that, even
	// before Redis's invalidation message arrives.
	bumped sync.Map // hub -> int64
}

var _ Cache = (*RedisCache)(nil)

// NewRedisCache uses client, which the caller owns and closes. prefix
// namespaces the keys (for example "hubd:").
func NewRedisCache(client rueidis.Client, prefix string) *RedisCache {
	return &RedisCache{client: client, prefix: prefix, genTTL: DefaultGenerationCacheTTL}
}

func (c *RedisCache) genKey(hub string) string {
	return c.prefix + "authz:" + url.QueryEscape(hub) + ":gen"
}

// generation returns the hub's current generation (0 before any
// invalidation).
func (c *RedisCache) generation(ctx context.Context, hub string) (int64, error) {
	gen, err := c.client.DoCache(ctx, c.client.B().Get().Key(c.genKey(hub)).Cache(), c.genTTL).AsInt64()
	if rueidis.IsRedisNil(err) {
		gen, err = 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("authz: redis cache: generation of %s: %w", hub, err)
	}
	if b, ok := c.bumped.Load(hub); ok {
		gen = max(gen, b.(int64))
	}
	return gen, nil
}

func (c *RedisCache) key(ctx context.Context, hub, roomID, userID string) (string, error) {
	gen, err := c.generation(ctx, hub)
	if err != nil {
		return "", err
	}
	return c.prefix + "authz:" + url.QueryEscape(hub) + ":" + strconv.FormatInt(gen, 10) + ":" +
		url.QueryEscape(roomID) + ":" + url.QueryEscape(userID), nil
}

// Get reads a decision. Any error is returned with ok false: a miss.
func (c *RedisCache) Get(ctx context.Context, hub, roomID, userID string) (*CachedDecision, bool, error) {
	key, err := c.key(ctx, hub, roomID, userID)
	if err != nil {
		return nil, false, err
	}
	b, err := c.client.Do(ctx, c.client.B().Get().Key(key).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("authz: redis cache: get: %w", err)
	}
	d, err := decodeDecision(b)
	if err != nil {
		return nil, false, err
	}
	return d, true, nil
}

// Set stores d under the hub's current generation for ttl; ttl <= 0 stores
// nothing.
func (c *RedisCache) Set(ctx context.Context, hub, roomID, userID string, d *CachedDecision, ttl time.Duration) error {
	if ttl <= 0 || d == nil {
		return nil
	}
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	b, err := encodeDecision(d)
	if err != nil {
		return err
	}
	key, err := c.key(ctx, hub, roomID, userID)
	if err != nil {
		return err
	}
	cmd := c.client.B().Set().Key(key).Value(rueidis.BinaryString(b)).PxMilliseconds(ttl.Milliseconds()).Build()
	if err := c.client.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("authz: redis cache: set: %w", err)
	}
	return nil
}

// InvalidateHub moves hub to a new generation.
func (c *RedisCache) InvalidateHub(ctx context.Context, hub string) error {
	gen, err := c.client.Do(ctx, c.client.B().Incr().Key(c.genKey(hub)).Build()).AsInt64()
	if err != nil {
		return fmt.Errorf("authz: redis cache: invalidate %s: %w", hub, err)
	}
	for {
		old, loaded := c.bumped.LoadOrStore(hub, gen)
		if !loaded || old.(int64) >= gen || c.bumped.CompareAndSwap(hub, old, gen) {
			return nil
		}
	}
}
