package sio

import (
	"sync"
	"time"
)

// pacer gives every busy WebSocket writer the same coalescing ticks: a
// writer that just wrote waits on wait() and all waiters are released
// together at the next tick by closing one channel. One ticker serves all
// connections, and it runs only while someone waits.
type pacer struct {
	interval time.Duration

	mu      sync.Mutex
	ch      chan struct{} // closed at the next tick; nil when nobody waits
	running bool
}

// wait returns a channel closed at the next tick.
func (p *pacer) wait() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ch == nil {
		p.ch = make(chan struct{})
	}
	if !p.running {
		p.running = true
		go p.run()
	}
	return p.ch
}

func (p *pacer) run() {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for range t.C {
		p.mu.Lock()
		ch := p.ch
		p.ch = nil
		if ch == nil {
			p.running = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		close(ch)
	}
}
