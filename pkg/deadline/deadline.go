// Package deadline keeps many one-shot deadlines on one runtime timer: a
// min-heap of items by due time, with the timer armed for the earliest.
// Each item embeds a Slot (16 bytes), so scheduling one allocates nothing,
// where a time.AfterFunc per item costs a runtime timer and a closure (about
// 150 bytes each) for every idle connection.
//
// Precision is the runtime timer's: an item fires when the timer set for
// its due time fires, never before its due time, and as late as the runtime
// runs timers (plus the items before it in the same batch). Due times are
// taken on the monotonic clock.
package deadline

import (
	"sync"
	"time"
)

// Slot is an item's place in a Queue; embed it in the item. Its zero value
// is not scheduled. It is guarded by the queue.
type Slot struct {
	when int64 // due, nanoseconds since the queue's epoch
	pos  int   // index in the heap + 1; 0 when not scheduled
}

// Queue runs fire for each item once its deadline has passed. fire runs on
// the timer's goroutine, one item after the other in due order, and one
// batch after the other (a slow fire delays the items after it); an item
// rescheduled or stopped after its batch was taken may still be fired once,
// so fire checks the item's own state (Pending tells whether it was
// scheduled again meanwhile).
type Queue[T any] struct {
	slot  func(*T) *Slot
	fire  func(*T)
	epoch time.Time

	firing sync.Mutex // held while a batch fires: batches fire in order
	mu     sync.Mutex
	heap   []*T
	timer  *time.Timer
	armed  bool  // the timer is set for at
	at     int64 // when the timer fires, on the queue's clock
	closed bool
}

// New returns a queue over the items whose Slot slot returns.
func New[T any](slot func(*T) *Slot, fire func(*T)) *Queue[T] {
	return &Queue[T]{slot: slot, fire: fire, epoch: time.Now()}
}

func (q *Queue[T]) now() int64 { return int64(time.Since(q.epoch)) }

// After schedules x to fire d from now (d <= 0: at once), replacing its
// deadline if it had one.
func (q *Queue[T]) After(x *T, d time.Duration) { q.At(x, time.Now().Add(d)) }

// At schedules x to fire at t (in the past: at once), replacing its
// deadline if it had one. A t with a monotonic clock reading (from
// time.Now) is placed on the monotonic clock, another on the wall clock
// as it reads now, as time.Until does.
func (q *Queue[T]) At(x *T, t time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.slot(x)
	s.when = int64(t.Sub(q.epoch))
	if s.pos == 0 {
		q.heap = append(q.heap, x)
		s.pos = len(q.heap)
		q.up(s.pos - 1)
	} else {
		i := s.pos - 1
		q.up(i)
		q.down(q.slot(x).pos - 1)
	}
	q.armLocked()
}

// Stop unschedules x; it reports whether x was scheduled.
func (q *Queue[T]) Stop(x *T) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.slot(x)
	if s.pos == 0 {
		return false
	}
	q.removeAt(s.pos - 1)
	return true
}

// Pending reports whether x is scheduled.
func (q *Queue[T]) Pending(x *T) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.slot(x).pos != 0
}

// Len is the number of items scheduled.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.heap)
}

// Close stops the timer: nothing fires any more. Items stay scheduled
// (Pending) until stopped.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	if q.timer != nil {
		q.timer.Stop()
	}
	q.armed = false
}

// run fires every item due, in due order, then arms the timer for the
// next one.
func (q *Queue[T]) run() {
	q.firing.Lock()
	defer q.firing.Unlock()
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return
	}
	q.armed = false
	now := q.now()
	var due []*T
	for len(q.heap) > 0 && q.slot(q.heap[0]).when <= now {
		due = append(due, q.heap[0])
		q.removeAt(0)
	}
	q.armLocked()
	q.mu.Unlock()
	for _, x := range due {
		q.fire(x)
	}
}

// armLocked sets the timer for the earliest item unless it is set for an
// earlier time already (a timer that fires for an item since removed finds
// nothing due and sets itself again).
func (q *Queue[T]) armLocked() {
	if len(q.heap) == 0 || q.closed {
		return
	}
	when := q.slot(q.heap[0]).when
	if q.armed && q.at <= when {
		return
	}
	q.armed, q.at = true, when
	d := time.Duration(when - q.now())
	if q.timer == nil {
		q.timer = time.AfterFunc(d, q.run)
		return
	}
	q.timer.Reset(d)
}

// removeAt takes the item at heap index i out.
func (q *Queue[T]) removeAt(i int) {
	last := len(q.heap) - 1
	q.slot(q.heap[i]).pos = 0
	if i != last {
		q.heap[i] = q.heap[last]
		q.slot(q.heap[i]).pos = i + 1
	}
	q.heap[last] = nil
	q.heap = q.heap[:last]
	if i != last {
		q.up(i)
		q.down(i)
	}
	if cap(q.heap) > 64 && len(q.heap) < cap(q.heap)/4 {
		q.heap = append([]*T(nil), q.heap...) // give back what a crowd left
		for j, x := range q.heap {
			q.slot(x).pos = j + 1
		}
	}
}

func (q *Queue[T]) less(i, j int) bool {
	return q.slot(q.heap[i]).when < q.slot(q.heap[j]).when
}

func (q *Queue[T]) swap(i, j int) {
	q.heap[i], q.heap[j] = q.heap[j], q.heap[i]
	q.slot(q.heap[i]).pos = i + 1
	q.slot(q.heap[j]).pos = j + 1
}

func (q *Queue[T]) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			return
		}
		q.swap(i, p)
		i = p
	}
}

func (q *Queue[T]) down(i int) {
	n := len(q.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			return
		}
		q.swap(i, m)
		i = m
	}
}
