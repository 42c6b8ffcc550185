package hub

import (
	"fmt"
	"github.com/hubd/hubd/internal/testenv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubd/hubd/pkg/scripting"
)

// BenchmarkHandlerThroughput sends messages through a trivial message
// handler (testdata/logic: {accept: true}) from parallel senders spread
// over 64 rooms, with the result persisted (embedded store, group commit)
// or not. It reports messages per second through the whole pipeline:
// validation, room queue, script call, result checks, store, emit; and the
// process CPU per message, which load from other processes does not inflate.
func BenchmarkHandlerThroughput(b *testing.B) {
	for _, bc := range []struct {
		name, op string
		senders  int // per GOMAXPROCS
	}{
		{"persisted", "accept", 16},
		{"ephemeral", "ephemeral", 16},
		{"persisted-senders=128", "accept", 128},
	} {
		b.Run(bc.name, func(b *testing.B) {
			env := newLogicEnv(b, scripting.Options{})
			rooms := int64(max(64, bc.senders*2))
			var next atomic.Int64
			content := `{"op":"` + bc.op + `"}`
			b.SetParallelism(bc.senders)
			b.ResetTimer()
			start, cpu0, st0 := time.Now(), testenv.ProcessCPU(), env.store.Stats()
			b.RunParallel(func(pb *testing.PB) {
				n := next.Add(1)
				a := env.actor(fmt.Sprintf("bench%d", n%rooms), fmt.Sprintf("u%d", n))
				for pb.Next() {
					if _, err := env.send(a, content); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
			b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/msg")
			if st := env.store.Stats(); st.Commits > st0.Commits {
				b.ReportMetric(float64(st.Writes-st0.Writes)/float64(st.Commits-st0.Commits), "writes/commit")
			}
		})
	}
}
