package sio

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"
)

// BenchmarkBroadcast measures the whole server path: Broadcast.Emit to N
// WebSocket clients in one room, queues drained by the writer goroutines
// (frames coalesced into vectored writes), until every client read every
// message.
//
//	go test -run '^$' -bench BenchmarkBroadcast -benchtime 2000x -benchmem ./pkg/sio
func BenchmarkBroadcast(b *testing.B) {
	s := NewServer(Options{WriteQueueSize: 1 << 16})
	ns := s.Of("/")
	connected := make(chan struct{}, fanoutConns)
	ns.OnConnection(func(so *Socket) {
		so.Join("room")
		connected <- struct{}{}
	})
	srv := newBenchHTTP(b, s)
	u := "ws" + strings.TrimPrefix(srv, "http") + "/socket.io/?EIO=4&transport=websocket"
	var received atomic.Int64
	var readers sync.WaitGroup
	clients := make([]*websocket.Conn, 0, fanoutConns)
	for i := 0; i < fanoutConns; i++ {
		c, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil { // open
			b.Fatal(err)
		}
		if err := c.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil { // connect reply
			b.Fatal(err)
		}
		clients = append(clients, c)
		readers.Go(func() {
			for {
				if _, _, err := c.NextReader(); err != nil {
					return
				}
				received.Add(1)
			}
		})
	}
	for i := 0; i < fanoutConns; i++ {
		<-connected
	}
	payload := map[string]any{"roomId": "r1", "message": map[string]string{"content": strings.Repeat("x", fanoutPayload-70)}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := ns.To("room").Emit("hub:messageArrived", payload); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(b.N * fanoutConns)
	awaitDeliveries(b, &received, want)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(want), "ns/delivery")
	for _, c := range clients {
		_ = c.Close()
	}
	readers.Wait()
}
