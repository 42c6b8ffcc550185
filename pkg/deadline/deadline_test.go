package deadline

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type item struct {
	slot  Slot
	name  int
	due   time.Time // when it was meant to fire
	fired chan time.Time
}

func newQueue() *Queue[item] {
	return New(func(x *item) *Slot { return &x.slot }, func(x *item) { x.fired <- time.Now() })
}

func newItem(name int) *item { return &item{name: name, fired: make(chan time.Time, 4)} }

func waitFired(t *testing.T, x *item) time.Time {
	t.Helper()
	select {
	case at := <-x.fired:
		return at
	case <-time.After(5 * time.Second):
		t.Fatalf("item %d did not fire", x.name)
		return time.Time{}
	}
}

// Every item fires once, never before its deadline, in deadline order
// whatever the order of scheduling.
func TestFiresInOrderNeverEarly(t *testing.T) {
	var mu sync.Mutex
	var order []int
	q := New(func(x *item) *Slot { return &x.slot }, func(x *item) {
		mu.Lock()
		order = append(order, x.name)
		mu.Unlock()
		x.fired <- time.Now()
	})
	defer q.Close()
	const n = 200
	items := make([]*item, n)
	start := time.Now()
	for i, p := range rand.Perm(n) {
		x := newItem(p)
		// Past the time the loop takes to schedule them all.
		x.due = start.Add(200*time.Millisecond + time.Duration(p)*time.Millisecond)
		items[i] = x
		q.At(x, x.due)
	}
	for _, x := range items {
		at := waitFired(t, x)
		require.False(t, at.Before(x.due), "item %d fired %v early", x.name, x.due.Sub(at))
	}
	require.Zero(t, q.Len())
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, order, n)
	for i := 1; i < n; i++ {
		require.Less(t, order[i-1], order[i], "fired out of order")
	}
}

// A rescheduled item fires at its new deadline only; a stopped one never.
func TestRescheduleAndStop(t *testing.T) {
	q := newQueue()
	defer q.Close()
	moved, stopped, kept := newItem(1), newItem(2), newItem(3)
	q.After(moved, 20*time.Millisecond)
	q.After(stopped, 30*time.Millisecond)
	q.After(kept, 60*time.Millisecond)
	require.True(t, q.Pending(moved))
	start := time.Now()
	q.After(moved, 120*time.Millisecond) // later
	require.True(t, q.Stop(stopped))
	require.False(t, q.Stop(stopped), "stopped twice")
	require.False(t, q.Pending(stopped))

	require.False(t, waitFired(t, kept).Before(start.Add(60*time.Millisecond-time.Millisecond)))
	require.False(t, waitFired(t, moved).Before(start.Add(120*time.Millisecond)))
	require.Never(t, func() bool { return len(stopped.fired)+len(moved.fired) > 0 }, 100*time.Millisecond, 10*time.Millisecond)

	// Moved earlier than the armed timer: the timer follows.
	late := newItem(4)
	q.After(late, time.Hour)
	start = time.Now()
	q.After(late, 10*time.Millisecond)
	at := waitFired(t, late)
	require.False(t, at.Before(start.Add(10*time.Millisecond)))
	require.Less(t, at.Sub(start), 4*time.Second, "the timer was not moved up")
}

// Items scheduled and stopped at random from many goroutines keep the heap
// consistent: every item left scheduled fires, once.
func TestConcurrentUse(t *testing.T) {
	q := newQueue()
	defer q.Close()
	const n = 500
	items := make([]*item, n)
	for i := range items {
		items[i] = newItem(i)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < n; i += 4 {
				q.After(items[i], time.Duration(rand.IntN(50))*time.Millisecond+time.Hour)
				if i%3 == 0 {
					q.Stop(items[i])
				}
			}
		})
	}
	wg.Wait()
	want := 0
	for _, x := range items {
		if q.Pending(x) {
			want++
			q.After(x, time.Duration(rand.IntN(30))*time.Millisecond)
		}
	}
	require.Equal(t, n-(n+2)/3, want)
	for _, x := range items {
		if x.name%3 != 0 {
			waitFired(t, x)
		}
	}
	require.Zero(t, q.Len())
	require.Never(t, func() bool {
		for _, x := range items {
			if len(x.fired) > 0 {
				return true
			}
		}
		return false
	}, 50*time.Millisecond, 10*time.Millisecond, "fired twice or after Stop")
}

// Close stops firing.
func TestClose(t *testing.T) {
	q := newQueue()
	x := newItem(1)
	q.After(x, 10*time.Millisecond)
	q.Close()
	require.Never(t, func() bool { return len(x.fired) > 0 }, 100*time.Millisecond, 10*time.Millisecond)
}

// The heap gives back its backing array once a crowd has gone.
func TestShrinks(t *testing.T) {
	q := newQueue()
	defer q.Close()
	items := make([]*item, 1000)
	for i := range items {
		items[i] = newItem(i)
		q.After(items[i], time.Hour+time.Duration(i))
	}
	for _, x := range items[10:] {
		require.True(t, q.Stop(x))
	}
	require.Less(t, cap(q.heap), 100)
	for i, x := range q.heap {
		require.Equal(t, i+1, q.slot(x).pos)
	}
}
