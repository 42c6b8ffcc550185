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
// process heap every watchInterval. A call's base is the heap when it
// started (garbage included, so an upper bound of what was live). When the
// heap has grown by half a call's budget since then, a GC is started (at
// most every minForcedGC, in the background: a forced GC can take long on
// a loaded machine): garbage does not count, and collecting it early keeps
// the process from growing to the GC's own goal. Once a GC that ended after
// the call started finds the live heap past base + budget, the call is
// interrupted with ErrMemoryBudget; if it finds less than the base, the
// base for that comparison drops to it (the garbage the call started with
// is gone). Only that one: growth measured on the heap sample (garbage
// included, what a built-in's request is charged against) stays measured
// from the heap at the start, since the garbage a GC found is not swept
// from that figure at once. The heap is
// process-wide: a call that started before a runaway and is still running
// when it is caught is charged the runaway's growth too; calls are short
// (the call deadline), so this rarely matters, and the runaway itself is
// always among the calls stopped.
const (
	watchInterval = 5 * time.Millisecond
	// minForcedGC spaces the confirming GCs.
	minForcedGC = 50 * time.Millisecond
)

const (
	heapMetric   = "/memory/classes/heap/objects:bytes"
	liveMetric   = "/gc/heap/live:bytes"
	cyclesMetric = "/gc/cycles/total:gc-cycles"
)

// heapNow, liveNow and cyclesNow are the last sample of the heap (bytes
// of heap objects, live or not yet swept), of the live heap marked by the
// last completed GC and of the completed GC cycles, refreshed by the
// watchdog and by calls that start; sampledAt is when it was taken (unix
// nanoseconds).
var (
	heapNow, liveNow, cyclesNow atomic.Uint64
	sampledAt                   atomic.Int64
)

// sample reads the heap metrics and stores them.
func sample() (heap, live, cycles uint64) {
	s := []metrics.Sample{{Name: heapMetric}, {Name: liveMetric}, {Name: cyclesMetric}}
	metrics.Read(s)
	heap, live, cycles = s[0].Value.Uint64(), s[1].Value.Uint64(), s[2].Value.Uint64()
	heapNow.Store(heap)
	liveNow.Store(live)
	cyclesNow.Store(cycles)
	sampledAt.Store(time.Now().UnixNano())
	return heap, live, cycles
}

// recent is the last sample if the watchdog took it less than
// watchInterval ago (it samples that often while calls run), else a fresh
// one.
func recent() (heap, cycles uint64) {
	if time.Now().UnixNano()-sampledAt.Load() < int64(watchInterval) {
		return heapNow.Load(), cyclesNow.Load()
	}
	heap, _, cycles = sample()
	return heap, cycles
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
	mu      sync.Mutex
	running map[*jsRuntime]struct{}
	lastGC  time.Time // when check last started a GC; loop goroutine only
	started bool      // the loop runs; under mu
	// collecting is set while a GC started by check runs.
	collecting atomic.Bool
	lastEnd    time.Time // when a call last ended; under mu
}

// idleAfter is how long the watchdog keeps sampling after the last call
// ended, so that back-to-back calls do not restart it each time; then its
// goroutine ends (the next call starts it again).
const idleAfter = 200 * time.Millisecond

var memWatch = &watchdog{running: make(map[*jsRuntime]struct{})}

// begin registers rt for the call that starts now and sets its heap base.
func (w *watchdog) begin(rt *jsRuntime) {
	heap, cycles := recent()
	rt.heapBase.Store(heap)
	rt.liveBase.Store(heap)
	rt.gcCycles.Store(cycles)
	w.mu.Lock()
	w.running[rt] = struct{}{}
	if !w.started {
		w.started = true
		go w.loop()
	}
	w.mu.Unlock()
}

// end unregisters rt.
func (w *watchdog) end(rt *jsRuntime) {
	w.mu.Lock()
	delete(w.running, rt)
	if len(w.running) == 0 {
		w.lastEnd = time.Now()
	}
	w.mu.Unlock()
}

// loop samples the heap while calls run and ends idleAfter the last one.
func (w *watchdog) loop() {
	t := time.NewTicker(watchInterval)
	defer t.Stop()
	for {
		w.mu.Lock()
		if len(w.running) == 0 && time.Since(w.lastEnd) > idleAfter {
			w.started = false
			w.mu.Unlock()
			return
		}
		w.mu.Unlock()
		<-t.C
		if w.busy() {
			w.check()
		} else {
			sample()
		}
	}
}

func (w *watchdog) busy() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.running) > 0
}

// check interrupts the calls whose growth a completed GC confirms, rebases
// the others, and starts a GC when a call's heap growth (garbage included)
// passes half its budget.
func (w *watchdog) check() {
	now, live, cycles := sample()
	w.mu.Lock()
	var over []*jsRuntime
	needGC := false
	for rt := range w.running {
		if cycles > rt.gcCycles.Load() {
			base := rt.liveBase.Load()
			if live > base && int64(live-base) > rt.budget {
				over = append(over, rt)
				continue
			}
			if live < base {
				rt.liveBase.Store(live)
			}
		}
		if base := rt.heapBase.Load(); now > base && int64(now-base) > rt.budget/2 {
			needGC = true
		}
	}
	w.mu.Unlock()
	for _, rt := range over {
		rt.refuse(fmt.Errorf("live heap grew by %d MiB during the call: %w", (live-rt.liveBase.Load())>>20, ErrMemoryBudget))
	}
	if needGC && !w.collecting.Load() && time.Since(w.lastGC) >= minForcedGC {
		w.lastGC = time.Now()
		w.collecting.Store(true)
		go func() {
			defer w.collecting.Store(false)
			runtime.GC()
		}()
	}
}
