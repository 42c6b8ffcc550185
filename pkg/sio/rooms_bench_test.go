package sio

import (
	"encoding/json"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkRoomsPaced is the daemon's rooms scenario in process, without
// the store: roomsPacedRooms rooms of roomsPacedSize WebSocket clients,
// b.N broadcasts at roomsPacedRate per second in turn over the rooms, so
// that each connection gets a few events per linger interval and is idle
// between them (its writer parks, wakes, or exits and starts again).
// Coalescing is off (WriteDelay -1), so that every delivery is one write
// whatever the machine's load: with it on, the share of deliveries that
// wait for a tick and share a write follows the scheduling, and the CPU
// per delivery follows that share. It reports the process CPU (server and
// clients), the server's write system calls and the goroutines started
// (the writers that exited and started again, mostly) per delivery.
//
//	go test -run '^$' -bench BenchmarkRoomsPaced -benchtime 6000x ./pkg/sio
func BenchmarkRoomsPaced(b *testing.B) {
	const conns = roomsPacedRooms * roomsPacedSize
	s := NewServer(Options{WriteQueueSize: 1 << 14, WriteDelay: -1})
	ns := s.Of("/hub/chat")
	var joined atomic.Int64
	ns.OnConnection(func(so *Socket) {
		so.Join("room" + strconv.FormatInt(joined.Add(1)%roomsPacedRooms, 10))
	})
	addr := strings.TrimPrefix(newBenchHTTP(b, s), "http://")
	var received atomic.Int64
	var readers sync.WaitGroup
	clients := make([]*rawClient, conns)
	for i := range clients {
		c, err := rawConnect(addr, "/hub/chat", `{"token":"x"}`)
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = c
		countFrames(c, &received, &readers)
	}
	for ns.SocketCount() < conns {
		time.Sleep(time.Millisecond)
	}
	rooms := make([]string, roomsPacedRooms)
	for i := range rooms {
		rooms[i] = "room" + strconv.Itoa(i)
	}
	payload := json.RawMessage(`{"roomId":"r1","userId":"u1","id":"0001","content":"` + strings.Repeat("hello ", 24) + `"}`)
	interval := time.Second / roomsPacedRate
	w0, cpu0, g0 := s.Stats().Writes, cpuTime(), goroutinesCreated()
	b.ResetTimer()
	next := time.Now()
	for i := 0; i < b.N; i++ {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(interval)
		if err := ns.To(rooms[i%roomsPacedRooms]).Emit("hub:messageArrived", payload); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(b.N * roomsPacedSize)
	awaitDeliveries(b, &received, want)
	b.ReportMetric(float64(s.Stats().Writes-w0)/float64(want), "writes/delivery")
	b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(want), "cpu-ns/delivery")
	b.ReportMetric(float64(goroutinesCreated()-g0)/float64(want), "goroutines/delivery")
	for _, c := range clients {
		_ = c.nc.Close()
	}
	readers.Wait()
}

// goroutinesCreated is the number of goroutines the process started.
func goroutinesCreated() uint64 {
	m := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(m)
	return m[0].Value.Uint64()
}

const (
	roomsPacedRooms = 100
	roomsPacedSize  = 10
	roomsPacedRate  = 3000
)
