// Package timerwheel runs many recurring timers on one goroutine: a hashed
// timer wheel. Thousands of rooms with a scheduled action cost one ticker,
// not thousands.
//
// The wheel advances one slot per tick. A timer lives in the slot of its
// next expiry (expiry tick modulo the slot count) and fires when the wheel
// reaches that slot on or after its expiry tick; intervals longer than one
// turn of the wheel simply stay in their slot for several turns. Callbacks
// never run on the wheel goroutine: each firing is handed to its own
// goroutine, and a timer whose previous callback is still running skips the
// tick (coalesced, counted in Stats.Skipped) instead of overlapping it. So at
// most one goroutine per timer exists at any time, and a slow callback only
// delays its own timer.
package timerwheel

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults.
const (
	DefaultTick  = 10 * time.Millisecond
	DefaultSlots = 512
)

// ErrRunning is returned by Run when the wheel is already running.
var ErrRunning = errors.New("timerwheel: already running")

// Options configures a Wheel. Zero values take the defaults.
type Options struct {
	// Tick is the resolution: intervals are rounded up to whole ticks.
	// Default 10ms.
	Tick time.Duration
	// Slots is the number of slots, rounded up to a power of two. Default
	// 512 (about 5s per turn at 10ms).
	Slots int
	// OnPanic, if set, receives a panic raised by a callback; the timer
	// keeps running. Without it the panic is swallowed.
	OnPanic func(v any)
	// OnLag, if set, receives how late Run processes each tick: the time
	// from when the ticker should have fired for the oldest tick not yet
	// processed until the wheel goroutine handles it (scheduling delay, a
	// stalled process); about 0 on a healthy process. It runs on the wheel
	// goroutine and must be quick.
	OnLag func(lag time.Duration)
}

// Stats are counters since the wheel was created.
type Stats struct {
	Timers  int    // timers scheduled and not stopped
	Fired   uint64 // callbacks started
	Skipped uint64 // ticks dropped because the previous callback still ran
	Ticks   uint64 // ticks the wheel advanced
	Running int64  // callbacks running now
}

// Wheel is a hashed timer wheel driven by Run.
type Wheel struct {
	tick    time.Duration
	mask    uint64
	onPanic func(any)
	onLag   func(time.Duration)

	mu     sync.Mutex
	slots  []list
	now    uint64 // ticks processed so far
	timers int

	running   atomic.Bool
	inflight  atomic.Int64   // callbacks started and not yet finished
	callbacks sync.WaitGroup // the same, for Run to wait for on its way out
	fired     atomic.Uint64
	skipped   atomic.Uint64
	ticks     atomic.Uint64
}

// Timer is a recurring entry of a Wheel.
type Timer struct {
	w        *Wheel
	fn       func()
	interval uint64 // in ticks, >= 1

	// guarded by w.mu
	expiry     uint64
	prev, next *Timer
	slot       *list
	stopped    bool

	busy atomic.Bool // a callback is running
}

type list struct{ head *Timer }

func (l *list) push(t *Timer) {
	t.slot, t.prev, t.next = l, nil, l.head
	if l.head != nil {
		l.head.prev = t
	}
	l.head = t
}

func (l *list) remove(t *Timer) {
	if t.prev != nil {
		t.prev.next = t.next
	} else {
		l.head = t.next
	}
	if t.next != nil {
		t.next.prev = t.prev
	}
	t.prev, t.next, t.slot = nil, nil, nil
}

// New returns a wheel; it fires nothing until Run is called.
func New(opts Options) *Wheel {
	if opts.Tick <= 0 {
		opts.Tick = DefaultTick
	}
	n := DefaultSlots
	if opts.Slots > 0 {
		n = 1
		for n < opts.Slots {
			n <<= 1
		}
	}
	return &Wheel{tick: opts.Tick, mask: uint64(n - 1), slots: make([]list, n), onPanic: opts.OnPanic, onLag: opts.OnLag}
}

// Tick returns the wheel's resolution.
func (w *Wheel) Tick() time.Duration { return w.tick }

// Schedule calls fn every interval (rounded up to whole ticks, at least one
// tick), first after one interval, until the timer is stopped. Calls of fn
// for one timer never overlap.
func (w *Wheel) Schedule(interval time.Duration, fn func()) *Timer {
	ticks := uint64((interval + w.tick - 1) / w.tick)
	if interval <= 0 || ticks == 0 {
		ticks = 1
	}
	t := &Timer{w: w, fn: fn, interval: ticks}
	w.mu.Lock()
	t.expiry = w.now + ticks
	w.slots[t.expiry&w.mask].push(t)
	w.timers++
	w.mu.Unlock()
	return t
}

// Stop removes the timer; a callback already running finishes. It reports
// whether the timer was still scheduled. Stop is safe to call more than
// once and from inside the callback.
func (t *Timer) Stop() bool {
	w := t.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if t.stopped {
		return false
	}
	t.stopped = true
	if t.slot != nil {
		t.slot.remove(t)
	}
	w.timers--
	return true
}

// Stats returns the wheel's counters.
func (w *Wheel) Stats() Stats {
	w.mu.Lock()
	n := w.timers
	w.mu.Unlock()
	return Stats{Timers: n, Fired: w.fired.Load(), Skipped: w.skipped.Load(), Ticks: w.ticks.Load(), Running: w.inflight.Load()}
}

// Run drives the wheel until ctx ends, then waits for the callbacks still
// running, so that none runs once Run has returned. Ticks missed while the
// goroutine was not scheduled are caught up: every timer due fires once.
func (w *Wheel) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer w.running.Store(false)
	tk := time.NewTicker(w.tick)
	defer tk.Stop()
	start := time.Now()
	w.mu.Lock()
	base := w.now
	w.mu.Unlock()
	var due []*Timer
	done := base // ticks processed by this Run
	for {
		select {
		case <-ctx.Done():
			w.callbacks.Wait()
			return nil
		case now := <-tk.C:
			target := base + uint64(now.Sub(start)/w.tick)
			lag := time.Duration(-1)
			if w.onLag != nil && target > done {
				// Tick n is processed when the ticker fires the (n+1)th
				// time (target rounds down), at start + (n+1) ticks.
				at := start.Add(time.Duration(done+2-base) * w.tick)
				lag = max(time.Since(at), 0)
			}
			done = max(done, target)
			due = w.advance(target, due[:0])
			if lag >= 0 {
				// Reported once the ticks count: a reader of both never
				// sees more lag observations than ticks.
				w.onLag(lag)
			}
			for i, t := range due {
				w.dispatch(t)
				due[i] = nil
			}
		}
	}
}

// Advance moves the wheel by n ticks at once, firing whatever falls due, as
// Run does on its own. It is meant for tests and benchmarks that drive a
// wheel that is not running.
func (w *Wheel) Advance(n int) {
	w.mu.Lock()
	target := w.now + uint64(n)
	w.mu.Unlock()
	for _, t := range w.advance(target, nil) {
		w.dispatch(t)
	}
}

// advance processes every tick up to target and returns the timers to fire;
// they are already rescheduled.
func (w *Wheel) advance(target uint64, due []*Timer) []*Timer {
	w.mu.Lock()
	defer w.mu.Unlock()
	if target <= w.now {
		return due
	}
	steps := target - w.now
	w.ticks.Add(steps)
	// One turn visits every slot; after that nothing new can be due.
	if steps > uint64(len(w.slots)) {
		steps = uint64(len(w.slots))
	}
	first := target - steps + 1
	w.now = target
	for tick := first; tick <= target; tick++ {
		l := &w.slots[tick&w.mask]
		for t := l.head; t != nil; {
			next := t.next
			if t.expiry <= target {
				l.remove(t)
				due = append(due, t)
				t.expiry += t.interval
				if t.expiry <= target {
					t.expiry = target + t.interval
				}
				w.slots[t.expiry&w.mask].push(t)
			}
			t = next
		}
	}
	return due
}

// dispatch starts the callback of t unless the previous one still runs.
func (w *Wheel) dispatch(t *Timer) {
	if !t.busy.CompareAndSwap(false, true) {
		w.skipped.Add(1)
		return
	}
	w.fired.Add(1)
	w.inflight.Add(1)
	w.callbacks.Add(1)
	go t.run()
}

func (t *Timer) run() {
	// The timer is free again before it stops counting as running, so a
	// caller that sees Running drop may rely on the next tick firing it.
	defer func() {
		t.busy.Store(false)
		t.w.inflight.Add(-1)
		t.w.callbacks.Done()
	}()
	defer func() {
		if v := recover(); v != nil && t.w.onPanic != nil {
			t.w.onPanic(v)
		}
	}()
	t.w.mu.Lock()
	stopped := t.stopped
	t.w.mu.Unlock()
	if stopped {
		return
	}
	t.fn()
}
