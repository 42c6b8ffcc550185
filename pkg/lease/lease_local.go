package lease

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"sync"
	"time"
)

// Local is the in-process Leaser. A Local from NewLocal is one node alone;
// Peer returns another node sharing its leases, which lets tests run
// several hubs as a cluster without Redis.
type Local struct {
	node string
	bus  *localBus
}

var (
	_ Leaser = (*Local)(nil)
	_ Clock  = (*Local)(nil)
)

type localBus struct {
	now    func() time.Time
	mu     sync.Mutex
	leases map[string]localLease
}

type localLease struct {
	node  string
	until time.Time
}

// NewLocal returns a node on a new bus, on the wall clock.
func NewLocal() *Local { return NewLocalClock(time.Now) }

// NewLocalClock returns a node on a new bus whose leases expire by now.
func NewLocalClock(now func() time.Time) *Local {
	return &Local{node: newNodeID(), bus: &localBus{now: now, leases: make(map[string]localLease)}}
}

// Peer returns another node on the same bus.
func (l *Local) Peer() *Local { return &Local{node: newNodeID(), bus: l.bus} }

// Node returns the node's id.
func (l *Local) Node() string { return l.node }

// Now implements Clock.
func (l *Local) Now() time.Time { return l.bus.now() }

// Acquire implements Leaser.
func (l *Local) Acquire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, fmt.Errorf("lease: %w", err)
	}
	if err := checkTTL(ttl); err != nil {
		return false, err
	}
	b := l.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	cur, ok := b.leases[key]
	if ok && cur.node != l.node && now.Before(cur.until) {
		return false, nil
	}
	b.leases[key] = localLease{node: l.node, until: now.Add(ttl)}
	return true, nil
}

// Release implements Leaser.
func (l *Local) Release(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("lease: %w", err)
	}
	b := l.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur, ok := b.leases[key]; ok && (cur.node == l.node || !b.now().Before(cur.until)) {
		delete(b.leases, key)
	}
	return nil
}

// Len returns the number of leases on the bus that have not expired.
func (l *Local) Len() int {
	b := l.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	now, n := b.now(), 0
	for k, cur := range b.leases {
		if now.Before(cur.until) {
			n++
		} else {
			delete(b.leases, k)
		}
	}
	return n
}

// Holder returns the node holding key, "" when nobody does.
func (l *Local) Holder(key string) string {
	b := l.bus
	b.mu.Lock()
	defer b.mu.Unlock()
	if cur, ok := b.leases[key]; ok && b.now().Before(cur.until) {
		return cur.node
	}
	return ""
}

func newNodeID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
