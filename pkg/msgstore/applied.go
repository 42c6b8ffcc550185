package msgstore

import (
	"context"
	"time"
)

// AppliedEvents remembers the inbound events the Kafka bridge applied, so
// that an event delivered again is applied once, across restarts. Keys are
// short opaque strings (a hash); each is kept for the ttl it was marked
// with, and the store drops expired keys on its own.
type AppliedEvents interface {
	// EventApplied reports whether key was marked and has not expired.
	EventApplied(ctx context.Context, key string) (bool, error)
	// MarkEventsApplied records keys for ttl (a later mark extends it), in
	// one write.
	MarkEventsApplied(ctx context.Context, keys []string, ttl time.Duration) error
}

// pruneDue reports whether n more marks, after the counter's previous
// value, crossed a multiple of appliedPruneEvery.
func pruneDue(after uint64, n int) bool {
	return (after-uint64(n))/appliedPruneEvery != after/appliedPruneEvery
}

// Bounds of the applied events a store keeps.
const (
	// maxAppliedEvents caps the keys kept: beyond it the oldest go first,
	// whatever their ttl.
	maxAppliedEvents = 1_000_000
	// appliedPruneEvery: every this many marks, expired keys are dropped.
	appliedPruneEvery = 1000
	// appliedPruneMax bounds the keys one prune drops.
	appliedPruneMax = 10_000
)
