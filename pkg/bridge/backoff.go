package bridge

import (
	"context"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// backoff spaces retries: min, doubling up to max, with ±20% jitter so that
// several nodes do not retry in step. Not safe for concurrent use.
type backoff struct {
	min, max time.Duration
	next     time.Duration
}

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max} }

// delay returns the wait before the next retry and doubles the one after.
func (b *backoff) delay() time.Duration {
	if b.next < b.min {
		b.next = b.min
	}
	d := b.next
	b.next = min(2*b.next, b.max)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

// reset starts the next failure streak at min again.
func (b *backoff) reset() { b.next = 0 }

// wait sleeps the next delay; false when ctx ended first.
func (b *backoff) wait(ctx context.Context) bool {
	return sleep(ctx, b.delay())
}

// sleep waits d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// logLimiter rate-limits log lines about the same failure: the first one of
// a key is written at once, the ones after it within interval are counted
// and reported by the next line written for that key.
type logLimiter struct {
	log      *zap.Logger
	interval time.Duration

	mu   sync.Mutex
	keys map[string]*logKey
}

type logKey struct {
	last       time.Time
	suppressed int64
}

// maxLogKeys bounds the limiter's memory; keys are (what, reason) pairs from
// bounded sets, so this is never reached in practice.
const maxLogKeys = 256

func newLogLimiter(log *zap.Logger, interval time.Duration) *logLimiter {
	return &logLimiter{log: log, interval: interval, keys: map[string]*logKey{}}
}

// warn logs msg at warn level unless a line of the same key was written
// less than interval ago; the line carries how many were suppressed since
// the previous one.
func (l *logLimiter) warn(key, msg string, fields ...zap.Field) {
	now := time.Now()
	l.mu.Lock()
	k := l.keys[key]
	if k == nil {
		if len(l.keys) >= maxLogKeys {
			clear(l.keys)
		}
		k = &logKey{}
		l.keys[key] = k
	}
	if !k.last.IsZero() && now.Sub(k.last) < l.interval {
		k.suppressed++
		l.mu.Unlock()
		return
	}
	n := k.suppressed
	k.last, k.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		fields = append(fields, zap.Int64("suppressed", n), zap.Duration("suppressedOver", l.interval))
	}
	l.log.Warn(msg, fields...)
}

// recovered logs that what failed under the keys starting with prefix
// works again: once, if any had failed, with the count of lines suppressed
// since the last one written.
func (l *logLimiter) recovered(prefix, msg string, fields ...zap.Field) {
	l.mu.Lock()
	found := false
	var suppressed int64
	for key, k := range l.keys {
		if strings.HasPrefix(key, prefix) {
			found = true
			suppressed += k.suppressed
			delete(l.keys, key)
		}
	}
	l.mu.Unlock()
	if !found {
		return
	}
	if suppressed > 0 {
		fields = append(fields, zap.Int64("suppressed", suppressed))
	}
	l.log.Info(msg, fields...)
}
