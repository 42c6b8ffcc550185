// Package lease hands out time-limited exclusive leases, so that work which
// must run once in a cluster (the scheduled actions of a room that has
// members on several nodes) runs on one node at a time.
//
// Local is the in-process implementation (one node alone, or several nodes
// of a test on one bus); Redis shares leases between hubd nodes.
package lease

import (
	"context"
	"errors"
	"time"
)

// Leaser grants leases on keys to this node. A lease held by another node
// is not granted until that node releases it or it expires.
type Leaser interface {
	// Acquire takes the lease on key for ttl, or renews it when this node
	// already holds it, and reports whether this node holds it now.
	Acquire(ctx context.Context, key string, ttl time.Duration) (bool, error)
	// Release gives the lease up if this node holds it; a lease held by
	// another node is left alone.
	Release(ctx context.Context, key string) error
}

// Clock is implemented by a Leaser whose time is not the wall clock (a
// Local with an injected clock). Whoever caches a granted lease measures
// its age with Now(l), so both sides agree on when it runs out.
type Clock interface {
	Now() time.Time
}

// Now returns l's time: its own clock when it has one, else time.Now().
func Now(l Leaser) time.Time {
	if c, ok := l.(Clock); ok {
		return c.Now()
	}
	return time.Now()
}

// ErrBadTTL is returned for a ttl below one millisecond.
var ErrBadTTL = errors.New("lease: ttl must be at least 1ms")

func checkTTL(ttl time.Duration) error {
	if ttl < time.Millisecond {
		return ErrBadTTL
	}
	return nil
}
