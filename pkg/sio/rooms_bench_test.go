package sio

import (
	"github.com/hubd/hubd/internal/testenv"
	"net"
	"net/http"
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
	clients := countingClients(b, addr, conns, &received, &readers)
	for ns.SocketCount() < conns {
		time.Sleep(time.Millisecond)
	}
	rooms := make([]string, roomsPacedRooms)
	for i := range rooms {
		rooms[i] = "room" + strconv.Itoa(i)
	}
	w0, cpu0, g0 := s.Stats().Writes, testenv.ProcessCPU(), goroutinesCreated()
	b.ResetTimer()
	emitPaced(b, roomsPacedRate, func(i int) *Broadcast { return ns.To(rooms[i%roomsPacedRooms]) })
	want := int64(b.N * roomsPacedSize)
	awaitDeliveries(b, &received, want)
	b.ReportMetric(float64(s.Stats().Writes-w0)/float64(want), "writes/delivery")
	b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Nanoseconds())/float64(want), "cpu-ns/delivery")
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

// discardConn is a WebSocket that takes every write at once.
type discardConn struct {
	net.Conn
	writes atomic.Int64
}

func (d *discardConn) Write(b []byte) (int, error)      { d.writes.Add(1); return len(b), nil }
func (d *discardConn) SetWriteDeadline(time.Time) error { return nil }
func (d *discardConn) Close() error                     { return nil }

// BenchmarkWriterWake is the writer's share of a delivery to a connection
// whose writer is parked: the wake, the write (to a connection that takes
// it at once) and the park again. One item is queued in turn to each of
// writerWakeConns connections, a round at a time: each round is written
// and its writers park before the next. It reports the process CPU per
// item and the writes per item (1: every item woke its writer).
//
//	go test -run '^$' -bench BenchmarkWriterWake -benchtime 200000x ./pkg/sio
func BenchmarkWriterWake(b *testing.B) {
	s := NewServer(Options{WriteQueueSize: 1 << 10, WriteDelay: -1})
	req, _ := http.NewRequest("GET", "/socket.io/", nil)
	conns := make([]*EngineConn, writerWakeConns)
	sinks := make([]*discardConn, writerWakeConns)
	for i := range conns {
		conns[i] = s.engine.newConn(req, "websocket")
		sinks[i] = &discardConn{}
		conns[i].setWriter(sinks[i])
	}
	item := &outbound{frames: []*frame{textFrame(`42["m",1]`)}}
	writes := func() (n int64) {
		for _, d := range sinks {
			n += d.writes.Load()
		}
		return n
	}
	p0, cpu0 := s.Stats().PacketsOut, testenv.ProcessCPU()
	b.ResetTimer()
	for i := range b.N {
		if err := conns[i%writerWakeConns].enqueue(item); err != nil {
			b.Fatal(err)
		}
		if i%writerWakeConns == writerWakeConns-1 || i == b.N-1 {
			// A round is out: every writer writes and parks again.
			for s.Stats().PacketsOut-p0 < uint64(i+1) {
				time.Sleep(100 * time.Microsecond)
			}
			time.Sleep(time.Millisecond)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/item")
	b.ReportMetric(float64(writes())/float64(b.N), "writes/item")
	for _, c := range conns {
		c.Close("done")
	}
}

const writerWakeConns = 1000
