package sio

import (
	"encoding/json"
	"github.com/hubd/hubd/internal/testenv"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkFanoutClosedLoop is the daemon's closed-loop fan-out in process:
// closedLoopConns WebSocket clients in one room, closedLoopSenders of them
// sending; each sender sends its next event as soon as the ack of the
// previous one arrives, and the server's event handler broadcasts the event
// to the room and acks it. So the offered load follows what the server
// can take, and the batching per write grows with it. b.N is the number of
// events sent in total. It reports deliveries/s, the process CPU (server
// and clients) per delivery, the server's write system calls per delivery
// and the mean time from a send to its ack.
//
//	go test -run '^$' -bench BenchmarkFanoutClosedLoop -benchtime 2000x -benchmem ./pkg/sio
func BenchmarkFanoutClosedLoop(b *testing.B) {
	for _, conns := range []int{250, closedLoopConns} {
		b.Run("conns="+strconv.Itoa(conns), func(b *testing.B) { benchFanoutClosedLoop(b, conns) })
	}
}

const (
	closedLoopConns   = 1000
	closedLoopSenders = 10
)

func benchFanoutClosedLoop(b *testing.B, conns int) {
	s := NewServer(Options{WriteQueueSize: 1 << 14})
	ns := s.Of("/hub/chat")
	ns.OnConnection(func(so *Socket) { so.Join("room") })
	body := json.RawMessage(`{"roomId":"r1","message":{"id":"0001","content":"` + strings.Repeat("hello ", 24) + `"},"sender":{"id":"u1"}}`)
	ns.OnEvent(func(so *Socket, ev *Event) {
		_ = ns.To("room").Emit("hub:messageArrived", body)
		_ = ev.Ack(json.RawMessage(`{"ok":true}`))
	})
	addr := strings.TrimPrefix(newBenchHTTP(b, s), "http://")
	var received atomic.Int64
	var readers sync.WaitGroup
	clients := make([]*rawClient, conns)
	acks := make([]chan struct{}, closedLoopSenders)
	for i := range clients {
		c, err := rawConnect(addr, "/hub/chat", `{"token":"x"}`)
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = c
		var ack chan struct{}
		if i < closedLoopSenders {
			ack = make(chan struct{}, 1)
			acks[i] = ack
		}
		readers.Go(func() { c.countFrames(&received, ack) })
	}
	for ns.RoomSize("room") < conns {
		time.Sleep(time.Millisecond)
	}
	w0, cpu0 := s.Stats().Writes, testenv.ProcessCPU()
	var sent, ackWait atomic.Int64
	b.ResetTimer()
	var senders sync.WaitGroup
	for i := range closedLoopSenders {
		senders.Go(func() {
			stuck := time.NewTimer(time.Minute)
			defer stuck.Stop()
			for sent.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := clients[i].writeText(`42/hub/chat,1["send",{"roomId":"r1"}]`); err != nil {
					b.Error(err)
					return
				}
				stuck.Reset(time.Minute)
				select {
				case <-acks[i]:
				case <-stuck.C:
					b.Error("no ack within a minute")
					return
				}
				ackWait.Add(int64(time.Since(t0)))
			}
		})
	}
	senders.Wait()
	want := int64(b.N * conns)
	deadline := time.Now().Add(60 * time.Second)
	for received.Load() < want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	if got := received.Load(); got < want {
		b.Fatalf("delivered %d of %d", got, want)
	}
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "deliveries/s")
	b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Nanoseconds())/float64(want), "cpu-ns/delivery")
	b.ReportMetric(float64(s.Stats().Writes-w0)/float64(want), "writes/delivery")
	b.ReportMetric(float64(ackWait.Load())/float64(b.N)/1e6, "ack-ms")
	for _, c := range clients {
		_ = c.nc.Close()
	}
	readers.Wait()
}

// countFrames reads server frames until the connection ends, counting the
// deliveries of hub:messageArrived in n and signalling every ack on ack
// (when not nil).
func (c *rawClient) countFrames(n *atomic.Int64, ack chan struct{}) {
	for {
		h, err := c.br.Peek(2)
		if err != nil {
			return
		}
		hl := 2
		if h[1]&0x7f == 126 {
			hl = 4
		}
		if p, err := c.br.Peek(hl + 2); err == nil && p[hl] == '4' {
			switch p[hl+1] {
			case '2':
				n.Add(1)
			case '3':
				if ack != nil {
					ack <- struct{}{}
				}
			}
		}
		if c.skipFrame() != nil {
			return
		}
	}
}
