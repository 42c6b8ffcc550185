package sio

import (
	"sync"
)

// MemoryAdapter is the in-process Adapter and the default. A single
// MemoryAdapter is one node alone: its broadcasts reach local sockets only.
// Peer returns another node on the same in-process bus, which lets tests
// run several Servers as a cluster without Redis. Delivery to peers is
// synchronous.
type MemoryAdapter struct {
	node string
	bus  *memoryBus
}

var _ Adapter = (*MemoryAdapter)(nil)

type memoryBus struct {
	mu   sync.RWMutex
	subs map[string]map[*memorySub]struct{} // by namespace
}

type memorySub struct {
	node string
	fn   func(*BroadcastMessage)
}

// NewMemoryAdapter returns a node on a new in-process bus.
func NewMemoryAdapter() *MemoryAdapter {
	return &MemoryAdapter{node: newID(), bus: &memoryBus{subs: make(map[string]map[*memorySub]struct{})}}
}

// Peer returns a new node on the same bus.
func (a *MemoryAdapter) Peer() *MemoryAdapter { return &MemoryAdapter{node: newID(), bus: a.bus} }

// NodeID implements Adapter.
func (a *MemoryAdapter) NodeID() string { return a.node }

// Publish implements Adapter: it calls the subscribers of the other nodes.
func (a *MemoryAdapter) Publish(m *BroadcastMessage) error {
	a.bus.mu.RLock()
	subs := a.bus.subs[m.Namespace]
	var targets []func(*BroadcastMessage)
	for s := range subs {
		if s.node != a.node {
			targets = append(targets, s.fn)
		}
	}
	a.bus.mu.RUnlock()
	if len(targets) == 0 {
		return nil
	}
	cp := *m
	cp.Node = a.node
	for _, fn := range targets {
		fn(&cp)
	}
	return nil
}

// alone reports that no other node of the bus listens on namespace, so
// that a server-side event need not even be encoded.
func (a *MemoryAdapter) alone(namespace string) bool {
	a.bus.mu.RLock()
	defer a.bus.mu.RUnlock()
	for s := range a.bus.subs[namespace] {
		if s.node != a.node {
			return false
		}
	}
	return true
}

// Subscribe implements Adapter.
func (a *MemoryAdapter) Subscribe(namespace string, fn func(*BroadcastMessage)) (func(), error) {
	s := &memorySub{node: a.node, fn: fn}
	a.bus.mu.Lock()
	m := a.bus.subs[namespace]
	if m == nil {
		m = make(map[*memorySub]struct{})
		a.bus.subs[namespace] = m
	}
	m[s] = struct{}{}
	a.bus.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			a.bus.mu.Lock()
			delete(a.bus.subs[namespace], s)
			if len(a.bus.subs[namespace]) == 0 {
				delete(a.bus.subs, namespace)
			}
			a.bus.mu.Unlock()
		})
	}, nil
}
