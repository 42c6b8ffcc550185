package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/redis/rueidis"
)

// DefaultSessionCacheEntries bounds the in-memory caches of the session
// resolvers when MaxEntries is not set.
const DefaultSessionCacheEntries = 10_000

// RedisSessionResolver reads the session a token names from Redis, as
// Mindbricks services store it: the token carries sessionId (and userId,
// keyId), the session JSON with roleId and the rest lives under a key such
// as "session:{sessionId}".
//
// The stored JSON object is laid over the token's claims (userId and roleId
// from the stored session win). A missing key means the session ended: the
// token is invalid. Found sessions are kept in memory for TTL (0: read Redis
// every time). Set the exported fields, then use it; it is safe for
// concurrent use. NewRedisSessionResolver validates the template up front.
type RedisSessionResolver struct {
	Client      rueidis.Client // required; owned by the caller
	KeyTemplate string         // e.g. "session:{sessionId}"; {name} is the claim name
	TTL         time.Duration  // in-memory cache lifetime of a found session
	MaxEntries  int            // default DefaultSessionCacheEntries

	once  sync.Once
	tmpl  *keyTemplate
	err   error
	cache *ttlLRU[string, map[string]any]
}

var _ SessionResolver = (*RedisSessionResolver)(nil)

// NewRedisSessionResolver returns a resolver after checking keyTemplate.
func NewRedisSessionResolver(client rueidis.Client, keyTemplate string, ttl time.Duration) (*RedisSessionResolver, error) {
	r := &RedisSessionResolver{Client: client, KeyTemplate: keyTemplate, TTL: ttl}
	if err := r.init(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RedisSessionResolver) init() error {
	r.once.Do(func() {
		if r.Client == nil {
			r.err = fmt.Errorf("authz: redis session resolver: no client")
			return
		}
		r.tmpl, r.err = parseKeyTemplate(r.KeyTemplate)
		if r.err != nil {
			r.err = fmt.Errorf("authz: redis session resolver: %w", r.err)
			return
		}
		n := r.MaxEntries
		if n <= 0 {
			n = DefaultSessionCacheEntries
		}
		r.cache = newTTLLRU[string, map[string]any](n)
	})
	return r.err
}

// Resolve looks the session up and merges it over claims.
func (r *RedisSessionResolver) Resolve(ctx context.Context, _ string, claims *Session) (*Session, error) {
	if err := r.init(); err != nil {
		return nil, err
	}
	key, err := r.tmpl.expand(claims.Claims)
	if err != nil {
		return nil, err
	}
	stored, ok := r.cache.get(key)
	if !ok {
		stored, err = r.fetch(ctx, key)
		if err != nil {
			return nil, err
		}
		if r.TTL > 0 {
			r.cache.set(key, stored, r.TTL)
		}
	}
	return mergeSession(claims, stored)
}

func (r *RedisSessionResolver) fetch(ctx context.Context, key string) (map[string]any, error) {
	b, err := r.Client.Do(ctx, r.Client.B().Get().Key(key).Build()).AsBytes()
	if rueidis.IsRedisNil(err) {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, ErrSessionNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: redis: %w", ErrSessionUnavailable, err)
	}
	stored, err := decodeSessionJSON(b)
	if err != nil {
		return nil, fmt.Errorf("%w: redis key %s: %w", ErrSessionUnavailable, key, err)
	}
	return stored, nil
}

// decodeSessionJSON decodes a stored session object. Numbers become float64,
// as in token claims.
func decodeSessionJSON(b []byte) (map[string]any, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("session is not JSON: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("session is not a JSON object")
	}
	return m, nil
}
