package authz

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// DefaultMemoryCacheEntries bounds a MemoryCache created with maxEntries <= 0.
const DefaultMemoryCacheEntries = 100_000

// MemoryCache is the in-process Cache: entries expire after their TTL and
// the oldest entry is evicted when the cache is full.
type MemoryCache struct {
	lru *ttlLRU[cacheKey, *CachedDecision]
}

var _ Cache = (*MemoryCache)(nil)

type cacheKey struct{ hub, room, user string }

// NewMemoryCache returns a cache holding at most maxEntries decisions
// (DefaultMemoryCacheEntries when maxEntries <= 0).
func NewMemoryCache(maxEntries int) *MemoryCache {
	if maxEntries <= 0 {
		maxEntries = DefaultMemoryCacheEntries
	}
	return &MemoryCache{lru: newTTLLRU[cacheKey, *CachedDecision](maxEntries)}
}

// Get returns a copy of the cached decision.
func (c *MemoryCache) Get(_ context.Context, hub, roomID, userID string) (*CachedDecision, bool, error) {
	d, ok := c.lru.get(cacheKey{hub, roomID, userID})
	if !ok {
		return nil, false, nil
	}
	return d.clone(), true, nil
}

// Set stores a copy of d for ttl; ttl <= 0 stores nothing.
func (c *MemoryCache) Set(_ context.Context, hub, roomID, userID string, d *CachedDecision, ttl time.Duration) error {
	if ttl <= 0 || d == nil {
		return nil
	}
	c.lru.set(cacheKey{hub, roomID, userID}, d.clone(), ttl)
	return nil
}

// InvalidateHub drops every decision of hub.
func (c *MemoryCache) InvalidateHub(_ context.Context, hub string) error {
	c.lru.deleteFunc(func(k cacheKey) bool { return k.hub == hub })
	return nil
}

// Len returns the number of stored entries, expired ones included until
// they are looked up or evicted.
func (c *MemoryCache) Len() int { return c.lru.len() }

// ttlLRU is a bounded map whose entries expire. When full, the entry set
// longest ago is evicted; expired entries are dropped when looked up.
type ttlLRU[K comparable, V any] struct {
	mu    sync.Mutex
	max   int
	items map[K]*list.Element
	order *list.List // front = oldest Set
	now   func() time.Time
}

type ttlEntry[K comparable, V any] struct {
	key     K
	val     V
	expires time.Time
}

func newTTLLRU[K comparable, V any](max int) *ttlLRU[K, V] {
	return &ttlLRU[K, V]{max: max, items: map[K]*list.Element{}, order: list.New(), now: time.Now}
}

func (c *ttlLRU[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var zero V
	el, ok := c.items[k]
	if !ok {
		return zero, false
	}
	e := el.Value.(*ttlEntry[K, V])
	if !c.now().Before(e.expires) {
		c.order.Remove(el)
		delete(c.items, k)
		return zero, false
	}
	return e.val, true
}

func (c *ttlLRU[K, V]) set(k K, v V, ttl time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	expires := c.now().Add(ttl)
	if el, ok := c.items[k]; ok {
		e := el.Value.(*ttlEntry[K, V])
		e.val, e.expires = v, expires
		c.order.MoveToBack(el)
		return
	}
	for c.order.Len() >= c.max {
		oldest := c.order.Front()
		c.order.Remove(oldest)
		delete(c.items, oldest.Value.(*ttlEntry[K, V]).key)
	}
	c.items[k] = c.order.PushBack(&ttlEntry[K, V]{key: k, val: v, expires: expires})
}

func (c *ttlLRU[K, V]) deleteFunc(del func(K) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for el := c.order.Front(); el != nil; {
		next := el.Next()
		if k := el.Value.(*ttlEntry[K, V]).key; del(k) {
			c.order.Remove(el)
			delete(c.items, k)
		}
		el = next
	}
}

func (c *ttlLRU[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
