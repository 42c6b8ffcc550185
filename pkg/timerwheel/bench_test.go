package timerwheel

import (
	"github.com/hubd/hubd/internal/testenv"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkWheel10kRooms schedules 10,000 timers of 1s (one per room) on a
// 10ms wheel with 512 slots and measures the cost of one tick of the wheel,
// averaged over a full second of ticks (100 ticks: every timer fires once),
// including the hand-off of each firing to its goroutine. cpu-us/tick is
// the process CPU per tick (wheel and callbacks), which other load on the
// machine does not inflate the way it inflates ns/op.
func BenchmarkWheel10kRooms(b *testing.B) {
	const rooms = 10_000
	w := New(Options{Tick: 10 * time.Millisecond})
	var calls atomic.Int64
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	timers := make([]*Timer, rooms)
	for i := range timers {
		// Spread the rooms over the second as joins at different times would.
		if i%(rooms/100) == 0 {
			w.Advance(1)
		}
		timers[i] = w.Schedule(time.Second, func() { calls.Add(1) })
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heapPerRoom := float64(after.HeapAlloc-before.HeapAlloc) / rooms
	cpu0 := testenv.ProcessCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Advance(1)
	}
	// Wait for the callbacks of the last ticks, so their CPU is counted.
	for w.Stats().Fired != uint64(calls.Load()) {
		runtime.Gosched()
	}
	b.StopTimer()
	b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/tick")
	b.ReportMetric(float64(calls.Load())/float64(b.N), "fires/tick")
	b.ReportMetric(heapPerRoom, "heapB/room")
	for _, t := range timers {
		t.Stop()
	}
}
