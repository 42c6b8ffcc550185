// Package lease hands out time-limited exclusive leases, so that work which
// must run once in a cluster (the scheduled actions of a room that has
// members on several nodes) runs on one node at a time.
package lease

import (
	"context"
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
