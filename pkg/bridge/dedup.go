package bridge

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/hubd/hubd/pkg/msgstore"
)

// Dedup remembers the inbound events already applied, so that an event
// delivered again (a redelivery after a rebalance or a restart, a producer
// that sent it twice) is applied once. Keys come from eventKey.
type Dedup interface {
	// Seen reports whether key was marked within the window.
	Seen(ctx context.Context, key string) (bool, error)
	// Mark records keys for the window, in one write where the store
	// allows.
	Mark(ctx context.Context, keys []string) error
}

// DefaultDedupWindow is how long an applied event's key is remembered.
const DefaultDedupWindow = 24 * time.Hour

// eventIDHeaders name the record headers that carry a stable event id, in
// the order they are looked for.
var eventIDHeaders = []string{HeaderEventID, "eventID", "event-id", "event_id", "id"}

// eventKey is the dedup key of a record: its topic and event id header
// when it has one, else its topic, key and value (the same payload
// delivered twice), hashed to a fixed length.
func eventKey(rec *kgo.Record) string {
	h := sha256.New()
	h.Write([]byte(rec.Topic))
	h.Write([]byte{0})
	for _, name := range eventIDHeaders {
		for _, hd := range rec.Headers {
			if hd.Key == name && len(hd.Value) > 0 {
				h.Write([]byte("id\x00"))
				h.Write(hd.Value)
				return hex.EncodeToString(h.Sum(nil))
			}
		}
	}
	h.Write([]byte("kv\x00"))
	h.Write(rec.Key)
	h.Write([]byte{0})
	h.Write(rec.Value)
	return hex.EncodeToString(h.Sum(nil))
}

// MemoryDedup is a Dedup of one process: the keys of the window, at most
// maxMemoryDedup of them (the oldest go first). It does not survive a
// restart; a daemon with Redis uses RedisDedup.
type MemoryDedup struct {
	window time.Duration

	mu    sync.Mutex
	order *list.List // of memoryEntry, oldest first
	keys  map[string]*list.Element
}

type memoryEntry struct {
	key string
	at  time.Time
}

const maxMemoryDedup = 100_000

var _ Dedup = (*MemoryDedup)(nil)

// NewMemoryDedup returns an empty MemoryDedup remembering keys for window.
func NewMemoryDedup(window time.Duration) *MemoryDedup {
	return &MemoryDedup{window: window, order: list.New(), keys: map[string]*list.Element{}}
}

// Seen implements Dedup.
func (d *MemoryDedup) Seen(_ context.Context, key string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire(time.Now())
	_, ok := d.keys[key]
	return ok, nil
}

// Mark implements Dedup.
func (d *MemoryDedup) Mark(_ context.Context, keys []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	d.expire(now)
	for _, key := range keys {
		if e, ok := d.keys[key]; ok {
			d.order.Remove(e)
		}
		d.keys[key] = d.order.PushBack(memoryEntry{key: key, at: now})
	}
	for d.order.Len() > maxMemoryDedup {
		d.drop(d.order.Front())
	}
	return nil
}

func (d *MemoryDedup) expire(now time.Time) {
	for e := d.order.Front(); e != nil && now.Sub(e.Value.(memoryEntry).at) > d.window; e = d.order.Front() {
		d.drop(e)
	}
}

func (d *MemoryDedup) drop(e *list.Element) {
	d.order.Remove(e)
	delete(d.keys, e.Value.(memoryEntry).key)
}

// StoreDedup is a Dedup kept in the message store (msgstore.AppliedEvents):
// it survives restarts and rebalances, and is shared by the nodes of one
// PostgreSQL store. The daemon uses it when Redis is not configured.
type StoreDedup struct {
	store  msgstore.AppliedEvents
	window time.Duration
}

var _ Dedup = (*StoreDedup)(nil)

// NewStoreDedup returns a StoreDedup remembering keys for window.
func NewStoreDedup(store msgstore.AppliedEvents, window time.Duration) *StoreDedup {
	if window <= 0 {
		window = DefaultDedupWindow
	}
	return &StoreDedup{store: store, window: window}
}

// Seen implements Dedup.
func (d *StoreDedup) Seen(ctx context.Context, key string) (bool, error) {
	return d.store.EventApplied(ctx, key)
}

// Mark implements Dedup.
func (d *StoreDedup) Mark(ctx context.Context, keys []string) error {
	return d.store.MarkEventsApplied(ctx, keys, d.window)
}
