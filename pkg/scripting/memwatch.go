package scripting

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"
)

// The memory watchdog. goja has no allocation hooks, so what a call
// allocates step by step (push in a loop, string concatenation, object
// literals) is seen from outside: while calls run, one goroutine samples the
// process heap every watchInterval. When the heap has grown by half a
// call's budget since the call started, a GC is forced (at most every
// minForcedGC): garbage does not count, and collecting it early keeps the
// process from growing to the GC's own goal. A call whose growth is still
// past its budget after the GC is interrupted with ErrMemoryBudget. The heap is
// process-wide: a call that started before a runaway and is still running
// when it is caught is charged the runaway's growth too; calls are short
// (the call deadline), so this rarely matters, and the runaway itself is
// always among the calls stopped.
const (
	watchInterval = 5 * time.Millisecond
	// minForcedGC spaces the confirming GCs.
	minForcedGC = 50 * time.Millisecond
)

const heapMetric = "/memory/classes/heap/objects:bytes"

// heapNow is the last heap sample (bytes of heap objects, live or not yet
// swept), refreshed by the watchdog and by calls that start.
var heapNow atomic.Uint64

// sampleHeap reads the heap size and stores it in heapNow.
func sampleHeap() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	v := s[0].Value.Uint64()
	heapNow.Store(v)
	return v
}

// heapGrowth is the growth of the heap since base, from the last sample.
func heapGrowth(base uint64) uint64 {
	if now := heapNow.Load(); now > base {
		return now - base
	}
	return 0
}

// watchdog tracks the runtimes running a call with a memory budget.
type watchdog struct {
	mu       sync.Mutex
	running  map[*jsRuntime]struct{}
	wake     chan struct{}
	lastGC   time.Time
	started  bool
	interval time.Duration
}

var memWatch = &watchdog{running: make(map[*jsRuntime]struct{}), wake: make(chan struct{}, 1), interval: watchInterval}

// begin registers rt for the call that starts now and sets its heap base.
func (w *watchdog) begin(rt *jsRuntime) {
	rt.heapBase.Store(sampleHeap())
	w.mu.Lock()
	w.running[rt] = struct{}{}
	if !w.started {
		w.started = true
		go w.loop()
	}
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// end unregisters rt.
func (w *watchdog) end(rt *jsRuntime) {
	w.mu.Lock()
	delete(w.running, rt)
	w.mu.Unlock()
}

// loop samples the heap while calls run and sleeps while none do.
func (w *watchdog) loop() {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		w.mu.Lock()
		idle := len(w.running) == 0
		w.mu.Unlock()
		if idle {
			<-w.wake
			continue
		}
		<-t.C
		w.check()
	}
}

// check interrupts the calls over budget, after a GC confirms it.
func (w *watchdog) check() {
	now := sampleHeap()
	if len(w.over(now, 2)) == 0 {
		return
	}
	if time.Since(w.lastGC) < minForcedGC {
		return
	}
	runtime.GC()
	w.lastGC = time.Now()
	now = sampleHeap()
	for _, rt := range w.over(now, 1) {
		rt.refuse(fmt.Errorf("heap grew by %d MiB during the call: %w", (now-rt.heapBase.Load())>>20, ErrMemoryBudget))
	}
	w.rebase(now)
}

// rebase lowers the heap base of the running calls to the live heap just
// measured after a GC. A base sampled at a call's start counts the garbage
// then on the heap; once that garbage is collected, growth is measured
// from the live heap, so a call is never charged less than its own growth
// by more than the garbage there was when it started.
func (w *watchdog) rebase(live uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for rt := range w.running {
		if live < rt.heapBase.Load() {
			rt.heapBase.Store(live)
		}
	}
}

// over lists the running calls whose heap growth passes their budget
// divided by div.
func (w *watchdog) over(now uint64, div int64) []*jsRuntime {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*jsRuntime
	for rt := range w.running {
		if base := rt.heapBase.Load(); now > base && int64(now-base) > rt.budget/div {
			out = append(out, rt)
		}
	}
	return out
}
