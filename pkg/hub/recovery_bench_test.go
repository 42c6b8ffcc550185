package hub

import (
	"strconv"
	"strings"
	"testing"
)

// BenchmarkOffsetGate is the recovery work of one broadcast to a room of
// 1000 sockets: every socket's offset gate and write log, with the offset
// parsed by each gate (parsed: EmitOffset's path, and every broadcast's
// before offsetKey) or once for all (keyed).
//
//	go test -run '^$' -bench BenchmarkOffsetGate -benchmem ./pkg/hub
func BenchmarkOffsetGate(b *testing.B) {
	const sockets = 1000
	room := "3f0c8a2e-6b1d-4e57-9a63-0d2b7c4e9f18"
	for _, keyed := range []bool{false, true} {
		name := "parsed"
		if keyed {
			name = "keyed"
		}
		b.Run(name, func(b *testing.B) {
			clients := make([]*client, sockets)
			for i := range clients {
				clients[i] = &client{}
				// Its log was made from another copy of the id (a join).
				clients[i].wlog.seed(strings.Clone(room), false, 0)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				off := strconv.Itoa(i+1) + ".1700000000123." + room
				var key any
				if keyed {
					key = offsetKey(off, room)
				}
				for _, c := range clients {
					c.offsetGate(off, key, false)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*sockets), "ns/delivery")
		})
	}
}
