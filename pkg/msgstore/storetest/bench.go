package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/hubd/hubd/internal/testenv"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/hubd/hubd/pkg/msgstore"
)

// BenchOptions shapes BenchAppendParallel.
type BenchOptions struct {
	Rooms   int // rooms of one hub
	Writers int // goroutines, spread evenly over the rooms; rounded up to a multiple of GOMAXPROCS
	// ClientMessageIDs gives every message a client message id, so every
	// append also checks and writes the idempotency index.
	ClientMessageIDs bool
}

// BenchAppendParallel measures Append throughput and reports msgs/s and the
// process CPU per message (cpu-us/msg: user + system, so the commit's
// syscalls count, and load from other processes does not inflate it). The
// daemon runs one sequential queue per room, so Writers == Rooms is its shape.
func BenchAppendParallel(b *testing.B, s msgstore.Store, o BenchOptions) {
	ctx := context.Background()
	content := json.RawMessage(`{"text":"a benchmark message of a typical chat length, some sixty bytes"}`)
	procs := runtime.GOMAXPROCS(0)
	b.SetParallelism((o.Writers + procs - 1) / procs)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := testenv.ProcessCPU()
	b.RunParallel(func(pb *testing.PB) {
		w := next.Add(1)
		room := fmt.Sprintf("room-%d", w%int64(o.Rooms))
		sender := fmt.Sprintf("user-%d", w)
		for i := 0; pb.Next(); i++ {
			m := &msgstore.Message{
				HubName: "bench", RoomID: room, SenderID: sender, MessageType: "text", Content: content,
			}
			if o.ClientMessageIDs {
				m.ClientMessageID = fmt.Sprintf("c-%d", i)
			}
			if _, created, err := s.Append(ctx, m); err != nil || !created {
				b.Errorf("append: created %v, %v", created, err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/msg")
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

// BenchUpdateParallel measures Update throughput and reports updates/s:
// each writer edits its own message, the writers spread evenly over the
// rooms (Writers == Rooms is the daemon's shape; several writers per room
// contend for the room's change counter).
func BenchUpdateParallel(b *testing.B, s msgstore.Store, o BenchOptions) {
	ctx := context.Background()
	procs := runtime.GOMAXPROCS(0)
	par := (o.Writers + procs - 1) / procs
	ids := make([]string, par*procs)
	for w := range ids {
		m, _, err := s.Append(ctx, msg("bench", fmt.Sprintf("room-%d", w%o.Rooms), fmt.Sprintf("user-%d", w), w))
		if err != nil {
			b.Fatal(err)
		}
		ids[w] = m.ID
	}
	b.SetParallelism(par)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := ids[next.Add(1)-1]
		for i := 0; pb.Next(); i++ {
			_, err := s.Update(ctx, "bench", id, func(m *msgstore.Message) error {
				m.Content = json.RawMessage(fmt.Sprintf(`{"text":"edit %d of a benchmark message"}`, i))
				m.Change = &msgstore.Change{Kind: msgstore.ChangeEdited, By: m.SenderID}
				return nil
			})
			if err != nil {
				b.Errorf("update: %v", err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "updates/s")
}
