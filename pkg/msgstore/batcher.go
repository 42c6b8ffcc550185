package msgstore

import (
	"context"
	"sync"
	"time"
)

// batcher is the group-commit queue both stores share: writers take every
// op queued when they start a transaction, up to maxBatch, so that N
// concurrent writes pay for one commit (one fsync, one WAL flush) instead
// of N.
//
// A lone op on a quiet store is taken at once. When a writer's previous
// batch held several ops, their callers are about to send their next ones;
// the writer then lingers while ops keep arriving (each within lingerMax/8
// of the last, lingerMax in all), so that they join this batch instead of
// forming a second, half-sized one.
type batcher[T any] struct {
	ops       chan T
	maxBatch  int
	lingerMax time.Duration
	run       func(batch []T)
	observe   CommitObserver // nil: none

	mu     sync.RWMutex // guards closed and sends on ops
	closed bool
	wg     sync.WaitGroup
}

// CommitObserver receives the size (writes) and the duration of each group
// commit of a message store, the time run took on the batch.
type CommitObserver func(writes int, d time.Duration)

// newBatcher starts writers goroutines that hand each batch to run and
// report it to observe (nil: not observed).
func newBatcher[T any](maxBatch int, lingerMax time.Duration, writers int, run func(batch []T), observe CommitObserver) *batcher[T] {
	b := &batcher[T]{ops: make(chan T, maxBatch), maxBatch: maxBatch, lingerMax: lingerMax, run: run, observe: observe}
	for range max(writers, 1) {
		b.wg.Go(b.loop)
	}
	return b
}

// enqueue hands op to the writers. It fails with ErrClosed once the batcher
// is closed, or with ctx's error when ctx ends while the queue is full.
func (b *batcher[T]) enqueue(ctx context.Context, op T) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	select {
	case b.ops <- op:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops taking ops, lets the writers finish the queued ones and
// returns when they are done. It is idempotent.
func (b *batcher[T]) close() {
	b.mu.Lock()
	if !b.closed {
		b.closed = true
		close(b.ops)
	}
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *batcher[T]) loop() {
	batch := make([]T, 0, b.maxBatch)
	gap := time.NewTimer(time.Hour)
	gap.Stop()
	prev := 0
	for first := range b.ops {
		batch = b.collect(append(batch[:0], first), prev > 1, gap)
		start := time.Now()
		b.run(batch)
		if b.observe != nil {
			b.observe(len(batch), time.Since(start))
		}
		prev = len(batch)
		clear(batch)
	}
}

// collect adds the queued ops to batch; with linger it also waits for ops
// arriving in quick succession (see batcher).
func (b *batcher[T]) collect(batch []T, linger bool, gap *time.Timer) []T {
	for len(batch) < b.maxBatch {
		select {
		case op, ok := <-b.ops:
			if !ok {
				return batch
			}
			batch = append(batch, op)
			continue
		default:
		}
		break
	}
	if !linger || b.lingerMax <= 0 {
		return batch
	}
	deadline := time.Now().Add(b.lingerMax)
	for len(batch) < b.maxBatch {
		wait := min(b.lingerMax/8, time.Until(deadline))
		if wait <= 0 {
			return batch
		}
		gap.Reset(wait)
		select {
		case op, ok := <-b.ops:
			gap.Stop()
			if !ok {
				return batch
			}
			batch = append(batch, op)
		case <-gap.C:
			return batch
		}
	}
	return batch
}
