// Package ratelimit limits how often a key (a user, a socket) may act in
// a time window. The embedded limiter keeps its state in memory; a shared
// one keeps it in Redis so that a limit holds across nodes.
package ratelimit

import (
	"context"
	"time"
)

// Result is the outcome of one Allow call.
type Result struct {
	Allowed bool
	// RetryAfter is how long to wait until one more call would be allowed
	// (zero when allowed).
	RetryAfter time.Duration
}

// Limiter allows up to limit calls per window for each key, as a burst
// from idle and then at the steady rate limit/window (GCRA).
type Limiter interface {
	Allow(ctx context.Context, key string, limit int, window time.Duration) (Result, error)
}

// gcra computes the next theoretical arrival time for a call at now, given
// the stored one (zero when the key is new). It is the one rule every
// implementation applies.
func gcra(now, tat time.Time, limit int, window time.Duration) (newTAT time.Time, res Result) {
	interval := window / time.Duration(limit)
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(interval)
	if over := next.Sub(now) - window; over > 0 {
		return tat, Result{Allowed: false, RetryAfter: over}
	}
	return next, Result{Allowed: true}
}
