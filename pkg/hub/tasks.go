package hub

import (
	"context"
	"sync"
	"time"

	"go.uber.org/zap"
)

// tasks runs the hub's background work (the idle loop, room operations
// from other nodes, store reads of gap repair and catch-up) on goroutines
// Close waits for: none of them runs once Close has returned, so none
// touches the store, the presence registry or the records after the
// daemon closed them.
type tasks struct {
	ctx    context.Context // ends when the hub closes
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func newTasks() *tasks {
	ctx, cancel := context.WithCancel(context.Background())
	return &tasks{ctx: ctx, cancel: cancel}
}

// goTask runs fn on its own goroutine with a context that ends when the
// hub closes. It reports false, and runs nothing, once the hub is closed.
func (t *tasks) goTask(fn func(ctx context.Context)) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Go(func() { fn(t.ctx) })
	return true
}

// close refuses new tasks, ends the context of the running ones and waits
// for them until wait has passed (each is bounded by the hub's OpTimeout);
// it reports whether all returned.
func (t *tasks) close(wait time.Duration) bool {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.cancel()
	done := make(chan struct{})
	go func() { // ends with the last task
		t.wg.Wait()
		close(done)
	}()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// spawn runs fn as a task of the hub (see tasks); false once it closed.
func (h *Hub) spawn(fn func(ctx context.Context)) bool {
	return h.tasks.goTask(fn)
}

// stopTasks ends the hub's background work; called by Close.
func (h *Hub) stopTasks() {
	if !h.tasks.close(2 * h.deps.OpTimeout) {
		h.log.Warn("hub background work still running after the close timeout", zap.Duration("waited", 2*h.deps.OpTimeout))
	}
}
