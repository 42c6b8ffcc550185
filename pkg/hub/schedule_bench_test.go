package hub

import (
	"fmt"
	"github.com/hubd/hubd/internal/testenv"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubd/hubd/pkg/scripting"
)

// BenchmarkScheduledActions10kRooms runs one scheduled action (a trivial
// script returning null) every second in each of 10,000 active rooms. One
// op is one simulated second: 1,000 wheel ticks of 1ms, so 10,000 script
// calls. It reports the process CPU per room tick (wall time is not
// meaningful: the benchmark waits for each tick's calls) and the heap of
// each active room with its member and schedule.
func BenchmarkScheduledActions10kRooms(b *testing.B) {
	const rooms = 10_000
	env := newLogicEnvFrom(b, "testdata/logic/ticks.yaml", scripting.Options{})
	var done atomic.Int64
	env.eng.SetObserver(func(kind string, _ time.Duration, err error) {
		if kind == ScriptKindScheduled {
			done.Add(1)
		}
		if err != nil {
			b.Error(err)
		}
	})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < rooms; i++ {
		id := fmt.Sprintf("room%d", i)
		env.addMember(id, "u1")
		env.h.roomActive(id, nil)
		if i%(rooms/1000) == 0 {
			env.wheel.Advance(1) // spread the rooms over the second
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	heapPerRoom := float64(after.HeapAlloc-before.HeapAlloc) / rooms

	b.ResetTimer()
	cpu0 := testenv.ProcessCPU()
	for i := 0; i < b.N; i++ {
		for t := 0; t < 1000; t++ {
			env.wheel.Advance(1)
			// Real ticks are 1ms apart; let this tick's calls finish (without
			// spending CPU) so that none is skipped as still running.
			for st := env.wheel.Stats(); int64(st.Fired) != done.Load() || st.Running != 0; st = env.wheel.Stats() {
				time.Sleep(20 * time.Microsecond)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Microseconds())/float64(done.Load()), "cpu-us/room-tick")
	b.ReportMetric(float64(done.Load())/float64(b.N), "calls/op")
	b.ReportMetric(float64(env.wheel.Stats().Skipped), "skipped")
	b.ReportMetric(heapPerRoom, "heapB/room")
}
