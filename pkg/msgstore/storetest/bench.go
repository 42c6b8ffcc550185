package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/hubd/hubd/pkg/msgstore"
)

// BenchAppendParallel measures Append throughput of one writer goroutine per
// room (the daemon runs one sequential queue per room) over rooms rooms of
// one hub, and reports msgs/s. The goroutine count is rounded up to a
// multiple of GOMAXPROCS.
func BenchAppendParallel(b *testing.B, s msgstore.Store, rooms int) {
	ctx := context.Background()
	content := json.RawMessage(`{"text":"a benchmark message of a typical chat length, some sixty bytes"}`)
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((rooms + procs - 1) / procs)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		room := fmt.Sprintf("room-%d", next.Add(1)%int64(rooms))
		for pb.Next() {
			m := &msgstore.Message{
				HubName: "bench", RoomID: room, SenderID: "u", MessageType: "text", Content: content,
			}
			if _, _, err := s.Append(ctx, m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchList measures reading the newest limit messages of a room of size
// messages.
func BenchList(b *testing.B, s msgstore.Store, size, limit int) {
	ctx := context.Background()
	for i := range size {
		if _, _, err := s.Append(ctx, msg("bench", "history", "u", i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		got, err := s.List(ctx, "bench", "history", msgstore.Query{Limit: limit})
		if err != nil || len(got) != min(limit, size) {
			b.Fatalf("list: %d messages, %v", len(got), err)
		}
	}
}
