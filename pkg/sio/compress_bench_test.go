package sio

import (
	"github.com/hubd/hubd/internal/testenv"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The cost of compression (docs/sio.md, "Compression"; figures in
// docs/benchmarks.md):
//
//	go test -run '^$' -bench 'DeflatedWire|CompressBody|BroadcastDeflate' -benchtime 2000x ./pkg/sio

// chatText is n bytes of text made of common words in a random order: it
// compresses about as much as chat messages do, unlike a repeated string.
func chatText(n int) string {
	words := strings.Fields("the a to and of in is it you that for on was with he as I his they be at one " +
		"have this from or had by hot word but what some we can out other were all there when up use your " +
		"how said an each she which do their time if will way about many then them write would like so")
	rng := rand.New(rand.NewPCG(7, 11))
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(words[rng.IntN(len(words))])
		b.WriteByte(' ')
	}
	return b.String()[:n]
}

// BenchmarkDeflatedWire is the compression of one frame for
// permessage-deflate connections: paid once per broadcast, whatever the
// number of recipients.
func BenchmarkDeflatedWire(b *testing.B) {
	for _, n := range []int{1024, 4096, 16384} {
		b.Run(strconv.Itoa(n)+"B", func(b *testing.B) {
			text := "42" + chatText(n)
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			var out int
			cpu0 := testenv.ProcessCPU()
			for b.Loop() {
				out = len(deflatedWire(textFrame(text), DefaultCompressThreshold))
			}
			b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
			b.ReportMetric(float64(out)/float64(len(text)), "wire/plain")
		})
	}
}

// BenchmarkCompressBody is the compression of one polling response: paid
// per response, that is per recipient.
func BenchmarkCompressBody(b *testing.B) {
	for _, enc := range pollEncodings {
		for _, n := range []int{4096, 65536} {
			b.Run(enc+"/"+strconv.Itoa(n)+"B", func(b *testing.B) {
				body := []byte(chatText(n))
				b.SetBytes(int64(n))
				b.ReportAllocs()
				var out int
				cpu0 := testenv.ProcessCPU()
				for b.Loop() {
					out = len(compressBody(enc, body))
				}
				b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
				b.ReportMetric(float64(out)/float64(n), "wire/plain")
			})
		}
	}
}

// BenchmarkBroadcastDeflate broadcasts a 2 KB chat message to 100 WebSocket
// clients with permessage-deflate off and on, and reports the process CPU
// and the bytes the clients read per delivery. The clients skip frames
// without inflating them, so the CPU is the server's (and the kernel's).
func BenchmarkBroadcastDeflate(b *testing.B) {
	for _, deflate := range []bool{false, true} {
		b.Run("deflate="+strconv.FormatBool(deflate), func(b *testing.B) { benchBroadcastDeflate(b, deflate) })
	}
}

// rawUpgradeDeflate is rawUpgrade offering permessage-deflate, as browsers do.
var rawUpgradeDeflate = strings.Replace(rawUpgrade, "\r\n\r\n",
	"\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n", 1)

func benchBroadcastDeflate(b *testing.B, deflate bool) {
	s := NewServer(Options{WriteQueueSize: 1 << 16, PerMessageDeflate: deflate})
	ns := s.Of("/")
	ns.OnConnection(func(so *Socket) { so.Join("room") })
	addr := strings.TrimPrefix(newBenchHTTP(b, s), "http://")
	var received, wire atomic.Int64
	var readers sync.WaitGroup
	clients := make([]*rawClient, fanoutConns)
	for i := range clients {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		c, err := rawConnectOn(&countingConn{Conn: nc, read: &wire}, rawUpgradeDeflate, "/", "")
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = c
		countFrames(c, &received, &readers)
	}
	for ns.RoomSize("room") < fanoutConns {
		time.Sleep(time.Millisecond)
	}
	payload := map[string]any{"roomId": "r1", "message": map[string]string{"content": chatText(2048)}}
	wire0, cpu0 := wire.Load(), testenv.ProcessCPU()
	b.ResetTimer()
	for range b.N {
		if err := ns.To("room").Emit("hub:messageArrived", payload); err != nil {
			b.Fatal(err)
		}
	}
	want := int64(b.N * fanoutConns)
	awaitDeliveries(b, &received, want)
	b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Nanoseconds())/float64(want), "cpu-ns/delivery")
	b.ReportMetric(float64(wire.Load()-wire0)/float64(want), "wire-B/delivery")
	for _, c := range clients {
		_ = c.nc.Close()
	}
	readers.Wait()
}
