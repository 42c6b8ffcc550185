package sio

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// BenchmarkRedisFanout measures cross-node broadcasts through Redis: node A
// broadcasts to a room, node B delivers each broadcast to the queues of its
// local sockets in that room (drained concurrently). One op is one
// broadcast published by A and delivered by B.
//
//	HUBD_TEST_REDIS_ADDR=127.0.0.1:6379 go test -run '^$' -bench BenchmarkRedisFanout -benchtime 20000x ./pkg/sio
func BenchmarkRedisFanout(b *testing.B) {
	addr := redisAddr(b)
	prefix := "hubd-bench:" + newID() + ":"
	queue := max(b.N+1, 1024)
	mk := func() *RedisAdapter {
		a, err := NewRedisAdapter(RedisAdapterOptions{Client: newRedisClient(b, addr), Prefix: prefix, PublishQueue: queue, DeliveryQueue: queue})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = a.Close() })
		return a
	}
	adA, adB := mk(), mk()
	sa := NewServer(Options{Adapter: adA})
	sb := NewServer(Options{Adapter: adB, WriteQueueSize: queue})
	nsA, nsB := sa.Of("/hub/bench"), sb.Of("/hub/bench")
	const sockets = 10
	conns := fakeSockets(b, sb, nsB, sockets, "room")
	stop := make(chan struct{})
	defer close(stop)
	for _, c := range conns {
		go func() {
			for {
				select {
				case <-c.ready:
					for c.pop() != nil {
					}
				case <-stop:
					return
				}
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for !adA.Subscribed("/hub/bench") || !adB.Subscribed("/hub/bench") {
		if time.Now().After(deadline) {
			b.Fatal("not subscribed")
		}
		time.Sleep(time.Millisecond)
	}
	// A 200-byte chat message, as in BenchmarkBroadcast.
	payload := json.RawMessage(`{"roomId":"r1","userId":"u1","id":"0001","content":"` + strings.Repeat("hello ", 24) + `"}`)
	start := sb.Stats().RemoteBroadcasts
	b.ResetTimer()
	t0 := time.Now()
	for i := 0; i < b.N; i++ {
		if err := nsA.To("room").Emit("hub:messageArrived", payload); err != nil {
			b.Fatal(err)
		}
	}
	want := start + uint64(b.N)
	for sb.Stats().RemoteBroadcasts < want {
		if time.Since(t0) > time.Minute {
			b.Fatalf("received %d of %d (adapter A %+v, B %+v)", sb.Stats().RemoteBroadcasts-start, b.N, adA.Stats(), adB.Stats())
		}
		time.Sleep(100 * time.Microsecond)
	}
	el := time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "broadcasts/s")
	b.ReportMetric(float64(b.N*sockets)/el.Seconds(), "deliveries/s")
}
