package hub

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubd/hubd/pkg/scripting"
)

// BenchmarkHandlerThroughput sends messages through a trivial message
// handler (testdata/logic: {accept: true}) from parallel senders spread
// over 64 rooms, with the result persisted (embedded store, group commit)
// or not. It reports messages per second through the whole pipeline:
// validation, room queue, script call, result checks, store, emit.
func BenchmarkHandlerThroughput(b *testing.B) {
	for _, bc := range []struct{ name, op string }{
		{"persisted", "accept"},
		{"ephemeral", "ephemeral"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			env := newLogicEnv(b, scripting.Options{})
			const rooms = 64
			var next atomic.Int64
			content := `{"op":"` + bc.op + `"}`
			b.SetParallelism(16)
			b.ResetTimer()
			start := time.Now()
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
		})
	}
}
