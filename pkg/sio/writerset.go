package sio

import (
	"sync"
	"time"
)

// writerSet is the engine's live WebSocket writer goroutines, told at
// every linger tick (writerLinger) so that the idle ones exit. A parked
// writer waits on its own connection's channels only: no channel shared
// by every connection (whose lock all of them would take at each park and
// wake), no lock shared by them at each park. The ticker runs only while
// there are writers.
type writerSet struct {
	interval time.Duration // 0: no ticker (tests call tick)

	mu      sync.Mutex
	conns   map[*EngineConn]int // writer goroutines of the connection: 1, or 2 while one exits and the next starts
	running bool
}

// add registers a writer of c as it starts.
func (w *writerSet) add(c *EngineConn) {
	w.mu.Lock()
	if w.conns == nil {
		w.conns = make(map[*EngineConn]int)
	}
	w.conns[c]++
	if !w.running && w.interval > 0 {
		w.running = true
		go w.run()
	}
	w.mu.Unlock()
}

// remove unregisters a writer of c as it exits.
func (w *writerSet) remove(c *EngineConn) {
	w.mu.Lock()
	if w.conns[c]--; w.conns[c] <= 0 {
		delete(w.conns, c)
	}
	w.mu.Unlock()
}

func (w *writerSet) run() {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for range t.C {
		if !w.tick() {
			return
		}
	}
}

// tick tells every registered connection's writer that a linger tick
// passed; false, and the ticker stops, when there is none.
func (w *writerSet) tick() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.conns) == 0 {
		w.running = false
		return false
	}
	for c := range w.conns {
		c.lingerTick()
	}
	return true
}

// lingerTick marks a linger tick for c's writer and wakes it if it is
// parked; the writer decides whether it exits (writeLoop).
func (c *EngineConn) lingerTick() {
	c.wmu.Lock()
	c.lingerDue = true
	c.wakeParkedLocked()
	c.wmu.Unlock()
}
