package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// Local is the embedded in-memory limiter. It is sharded to keep lock
// contention low and forgets keys that have been idle for a full window.
type Local struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [32]localShard
}

type localShard struct {
	mu     sync.Mutex
	tat    map[string]time.Time
	lastGC time.Time
}

var _ Limiter = (*Local)(nil)

// NewLocal returns an empty in-memory limiter.
func NewLocal() *Local {
	l := &Local{now: time.Now, seed: maphash.MakeSeed()}
	for i := range l.shards {
		l.shards[i].tat = make(map[string]time.Time)
	}
	return l
}

// Allow implements Limiter. A non-positive limit means unlimited.
func (l *Local) Allow(_ context.Context, key string, limit int, window time.Duration) (Result, error) {
	if limit <= 0 || window <= 0 {
		return Result{Allowed: true}, nil
	}
	sh := &l.shards[maphash.String(l.seed, key)%uint64(len(l.shards))]
	now := l.now()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	next, res := gcra(now, sh.tat[key], limit, window)
	sh.tat[key] = next
	if now.Sub(sh.lastGC) > window {
		sh.sweep(now)
	}
	return res, nil
}

// sweep drops keys whose TAT is in the past: they are back to a full burst
// and need no state. sh.mu must be held.
func (sh *localShard) sweep(now time.Time) {
	for k, t := range sh.tat {
		if t.Before(now) {
			delete(sh.tat, k)
		}
	}
	sh.lastGC = now
}

// Len returns the number of keys held (for tests and metrics).
func (l *Local) Len() int {
	n := 0
	for i := range l.shards {
		l.shards[i].mu.Lock()
		n += len(l.shards[i].tat)
		l.shards[i].mu.Unlock()
	}
	return n
}
