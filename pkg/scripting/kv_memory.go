package scripting

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"
)

// MemoryKV is the embedded KV: a map guarded by a mutex, with TTLs. Expired
// keys are dropped when read and by a sweep every sweepEvery writes.
type MemoryKV struct {
	mu     sync.Mutex
	items  map[string]memoryItem
	writes int
	now    func() time.Time
}

type memoryItem struct {
	value   []byte
	expires time.Time // zero: never
}

var _ KV = (*MemoryKV)(nil)

const sweepEvery = 1024

// NewMemoryKV returns an empty in-memory KV.
func NewMemoryKV() *MemoryKV {
	return &MemoryKV{items: make(map[string]memoryItem), now: time.Now}
}

func (m *MemoryKV) live(key string, now time.Time) (memoryItem, bool) {
	it, ok := m.items[key]
	if !ok {
		return memoryItem{}, false
	}
	if !it.expires.IsZero() && !now.Before(it.expires) {
		delete(m.items, key)
		return memoryItem{}, false
	}
	return it, true
}

// Get returns a copy of the value stored under key.
func (m *MemoryKV) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("kv get %q: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	it, ok := m.live(key, m.now())
	if !ok {
		return nil, false, nil
	}
	return append([]byte(nil), it.value...), true, nil
}

// Set stores a copy of value under key.
func (m *MemoryKV) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kv set %q: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	it := memoryItem{value: append([]byte(nil), value...)}
	if ttl > 0 {
		it.expires = now.Add(ttl)
	}
	m.items[key] = it
	m.wrote(now)
	return nil
}

// Del removes key; removing a missing key is not an error.
func (m *MemoryKV) Del(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kv del %q: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.items, key)
	return nil
}

// Incr adds by to the integer under key (0 when missing) and returns the sum.
func (m *MemoryKV) Incr(ctx context.Context, key string, by int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("kv incr %q: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	it, ok := m.live(key, now)
	var cur int64
	if ok {
		n, err := strconv.ParseInt(string(it.value), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("kv incr %q: %w", key, ErrNotInteger)
		}
		cur = n
	}
	if (by > 0 && cur > math.MaxInt64-by) || (by < 0 && cur < math.MinInt64-by) {
		return 0, fmt.Errorf("kv incr %q: overflow: %w", key, ErrNotInteger)
	}
	cur += by
	it.value = strconv.AppendInt(nil, cur, 10)
	m.items[key] = it
	m.wrote(now)
	return cur, nil
}

// wrote counts a write and sweeps expired keys every sweepEvery writes, so a
// store that is only written to does not grow without bound. m.mu is held.
func (m *MemoryKV) wrote(now time.Time) {
	m.writes++
	if m.writes < sweepEvery {
		return
	}
	m.writes = 0
	for k, it := range m.items {
		if !it.expires.IsZero() && !now.Before(it.expires) {
			delete(m.items, k)
		}
	}
}

// Len returns the number of stored keys, expired ones not yet swept included.
func (m *MemoryKV) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.items)
}
