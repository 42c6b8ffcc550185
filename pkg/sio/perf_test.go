package sio

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/hubd/hubd/internal/testenv"
	"io"
	"net"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// rawClient is a minimal Engine.IO WebSocket client over a bare TCP
// connection, so that in-process measurements of the server are not
// swamped by a full client library's own buffers and goroutines.
type rawClient struct {
	nc net.Conn
	br *bufio.Reader
}

const rawUpgrade = "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: bench\r\n" +
	"Upgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"

// rawConnect dials addr, upgrades, reads the open packet, joins nsp with
// the given auth payload and reads the CONNECT reply.
func rawConnect(addr, nsp, auth string) (*rawClient, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	return rawConnectOn(nc, rawUpgrade, nsp, auth)
}

// rawConnectOn is rawConnect on a dialled connection with the given
// upgrade request.
func rawConnectOn(nc net.Conn, upgrade, nsp, auth string) (*rawClient, error) {
	// A handshake that stalls fails instead of hanging the caller.
	if err := nc.SetDeadline(time.Now().Add(10 * time.Second)); err != nil {
		return nil, errors.Join(err, nc.Close())
	}
	c := &rawClient{nc: nc, br: bufio.NewReaderSize(nc, 512)}
	if _, err := io.WriteString(nc, upgrade); err != nil {
		return nil, errors.Join(err, nc.Close())
	}
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return nil, errors.Join(err, nc.Close())
		}
		if len(line) == 2 {
			break
		}
	}
	open, err := c.readFrame()
	if err != nil || len(open) == 0 || open[0] != '0' {
		return nil, errors.Join(fmt.Errorf("open packet %q", open), err, nc.Close())
	}
	msg := "40"
	if nsp != "/" {
		msg += nsp + ","
	}
	if err := c.writeText(msg + auth); err != nil {
		return nil, errors.Join(err, nc.Close())
	}
	reply, err := c.readFrame()
	if err != nil || !bytes.HasPrefix(reply, []byte("40")) {
		return nil, errors.Join(fmt.Errorf("connect reply %q", reply), err, nc.Close())
	}
	if err := nc.SetDeadline(time.Time{}); err != nil {
		return nil, errors.Join(err, nc.Close())
	}
	return c, nil
}

// readFrame reads one unmasked server frame and returns its payload.
func (c *rawClient) readFrame() ([]byte, error) {
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		return nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		if _, err := io.ReadFull(c.br, l[:]); err != nil {
			return nil, err
		}
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		if _, err := io.ReadFull(c.br, l[:]); err != nil {
			return nil, err
		}
		n = binary.BigEndian.Uint64(l[:])
	}
	p := make([]byte, n)
	_, err := io.ReadFull(c.br, p)
	return p, err
}

// writeText sends one masked text frame (zero mask key).
func (c *rawClient) writeText(s string) error {
	if len(s) > 125 {
		return errors.New("rawClient: frame too long")
	}
	b := make([]byte, 0, 6+len(s))
	b = append(b, 0x81, 0x80|byte(len(s)), 0, 0, 0, 0)
	b = append(b, s...)
	_, err := c.nc.Write(b)
	return err
}

// BenchmarkConnect measures one connection: WebSocket upgrade, Engine.IO
// open, namespace CONNECT with an auth payload checked by OnConnect, CONNECT
// reply, close. The client side is minimal (rawClient), so allocs/op are
// mostly the server's. cpu-us/op is process CPU (server and client) per
// connection, steadier than ns/op on a shared machine.
//
//	go test -run '^$' -bench BenchmarkConnect -benchtime 2000x -benchmem ./pkg/sio
func BenchmarkConnect(b *testing.B) {
	s := NewServer(Options{})
	type authPayload struct {
		Token string `json:"token"`
	}
	s.Of("/hub/chat").OnConnect(func(so *Socket, auth json.RawMessage) error {
		var a authPayload
		if err := json.Unmarshal(auth, &a); err != nil || a.Token == "" {
			return errors.New("no token")
		}
		return nil
	})
	addr := strings.TrimPrefix(newBenchHTTP(b, s), "http://")
	auth := `{"token":"` + strings.Repeat("t", 80) + `"}`
	b.ReportAllocs()
	cpu0 := testenv.ProcessCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c, err := rawConnect(addr, "/hub/chat", auth)
			if err != nil {
				b.Error(err)
				return
			}
			_ = c.nc.Close()
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
}

// BenchmarkIdleConnections opens b.N idle WebSocket connections joined to a
// namespace and a room, and reports the Go memory (heap in use plus
// goroutine stacks) and goroutines they add, per connection. Run it with a
// fixed count:
//
//	go test -run '^$' -bench BenchmarkIdleConnections -benchtime 10000x ./pkg/sio
//
// The figure includes rawClient's side of each connection (a net.Conn, a
// few hundred bytes) and is therefore an upper bound for the server.
func BenchmarkIdleConnections(b *testing.B) {
	if b.N < 100 {
		return // the first probe run of a fixed -benchtime Nx
	}
	s := NewServer(Options{PingInterval: time.Minute, PingTimeout: time.Minute})
	ns := s.Of("/hub/chat")
	ns.OnConnection(func(so *Socket) { so.Join("room-" + so.ID()[:1]) })
	addr := strings.TrimPrefix(newBenchHTTP(b, s), "http://")
	before, stack0 := memNow()
	g0 := runtime.NumGoroutine()
	conns := make([]net.Conn, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(conns) {
					return
				}
				c, err := rawConnect(addr, "/hub/chat", `{"token":"x"}`)
				if err != nil {
					failed.Store(err)
					return
				}
				conns[i] = c.nc
			}
		})
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		b.Fatal(err)
	}
	// Wait until every connection is registered and its writer, started
	// for the CONNECT reply, has exited after its linger period.
	for s.ConnCount() < b.N || s.engine.writers.Load() > 0 {
		time.Sleep(time.Millisecond)
	}
	after, stack1 := memNow()
	g1 := runtime.NumGoroutine()
	if p := os.Getenv("SIO_IDLE_HEAP_PROFILE"); p != "" { // heap at the peak
		f, err := os.Create(p)
		require.NoError(b, err)
		require.NoError(b, pprof.WriteHeapProfile(f))
		require.NoError(b, f.Close())
	}
	n := float64(b.N)
	b.ReportMetric(float64(after-before)/n, "bytes/conn")
	b.ReportMetric(float64(stack1-stack0)/n, "stack-bytes/conn")
	b.ReportMetric(float64(g1-g0)/n, "goroutines/conn")
	for _, c := range conns {
		_ = c.Close()
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.ConnCount() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
}

// memNow is heap in use plus stacks in use, and stacks alone, after a full
// collection.
func memNow() (total, stacks uint64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse + m.StackInuse, m.StackInuse
}

// The raw client used by the benchmarks really connects.
func TestRawConnect(t *testing.T) {
	s, base := startServer(t, Options{})
	var got atomic.Value
	s.Of("/hub/chat").OnConnect(func(so *Socket, auth json.RawMessage) error {
		got.Store(string(auth))
		return nil
	})
	c, err := rawConnect(strings.TrimPrefix(base, "http://"), "/hub/chat", `{"token":"abc"}`)
	require.NoError(t, err)
	defer c.nc.Close()
	require.Equal(t, `{"token":"abc"}`, got.Load())
	require.Equal(t, 1, s.ConnCount())
}

// BenchmarkFanoutPaced sends b.N broadcasts to fanoutPacedConns WebSocket
// clients in one room at a fixed rate (fanoutPacedRate per second, as the
// daemon's fanout benchmark offers), for several coalescing windows
// (Options.WriteDelay, "off" = -1), and reports write system calls per
// delivery (Stats.Writes: vectored writes of the server), the process CPU
// per delivery (server and clients), and the time from the last broadcast
// until every client had everything.
//
//	go test -run '^$' -bench BenchmarkFanoutPaced -benchtime 1000x ./pkg/sio
func BenchmarkFanoutPaced(b *testing.B) {
	for _, d := range []time.Duration{-1, time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond} {
		name := "delay=" + d.String()
		if d < 0 {
			name = "delay=off"
		}
		b.Run(name, func(b *testing.B) { benchFanoutPaced(b, d) })
	}
}

func benchFanoutPaced(b *testing.B, delay time.Duration) {
	const conns = fanoutPacedConns
	s := NewServer(Options{WriteQueueSize: 1 << 14, WriteDelay: delay})
	ns := s.Of("/hub/chat")
	ns.OnConnection(func(so *Socket) { so.Join("room") })
	addr := strings.TrimPrefix(newBenchHTTP(b, s), "http://")
	var received atomic.Int64
	var readers sync.WaitGroup
	clients := countingClients(b, addr, conns, &received, &readers)
	for ns.RoomSize("room") < conns {
		time.Sleep(time.Millisecond)
	}
	w0, cpu0 := s.Stats().Writes, testenv.ProcessCPU()
	b.ResetTimer()
	emitPaced(b, fanoutPacedRate, func(int) *Broadcast { return ns.To("room") })
	last := time.Now()
	want := int64(b.N * conns)
	awaitDeliveries(b, &received, want)
	tail := time.Since(last)
	b.ReportMetric(float64(s.Stats().Writes-w0)/float64(want), "writes/delivery")
	b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Nanoseconds())/float64(want), "cpu-ns/delivery")
	b.ReportMetric(float64(tail.Microseconds())/1000, "tail-ms")
	b.ReportMetric(float64(want)/b.Elapsed().Seconds(), "deliveries/s")
	for _, c := range clients {
		_ = c.nc.Close()
	}
	readers.Wait()
}

// emitPaced emits b.N messages of the paced benchmarks' size at rate per
// second, message i to the sockets to(i) selects.
func emitPaced(b *testing.B, rate int, to func(i int) *Broadcast) {
	payload := json.RawMessage(`{"roomId":"r1","userId":"u1","id":"0001","content":"` + strings.Repeat("hello ", 24) + `"}`)
	interval := time.Second / time.Duration(rate)
	next := time.Now()
	for i := 0; i < b.N; i++ {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(interval)
		if err := to(i).Emit("hub:messageArrived", payload); err != nil {
			b.Fatal(err)
		}
	}
}

const (
	fanoutPacedConns = 250
	fanoutPacedRate  = 500
)

// countingClients connects n clients to /hub/chat at addr, each counting
// the frames it receives into received on a reader of readers.
func countingClients(b *testing.B, addr string, n int, received *atomic.Int64, readers *sync.WaitGroup) []*rawClient {
	clients := make([]*rawClient, n)
	for i := range clients {
		c, err := rawConnect(addr, "/hub/chat", `{"token":"x"}`)
		if err != nil {
			b.Fatal(err)
		}
		clients[i] = c
		countFrames(c, received, readers)
	}
	return clients
}

// countFrames counts the frames c receives, on a reader of readers, until
// its connection ends.
func countFrames(c *rawClient, received *atomic.Int64, readers *sync.WaitGroup) {
	readers.Go(func() {
		for {
			if err := c.skipFrame(); err != nil {
				return
			}
			received.Add(1)
		}
	})
}

// awaitDeliveries waits until want frames were received (the wait is part
// of the measured time), stops the timer, and fails the benchmark if they
// did not all arrive within a minute.
func awaitDeliveries(b *testing.B, received *atomic.Int64, want int64) {
	deadline := time.Now().Add(60 * time.Second)
	for received.Load() < want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	if got := received.Load(); got < want {
		b.Fatalf("delivered %d of %d", got, want)
	}
}

// skipFrame reads past one server frame without allocating.
func (c *rawClient) skipFrame() error {
	h, err := c.br.Peek(2)
	if err != nil {
		return err
	}
	n, hl := int(h[1]&0x7f), 2
	switch n {
	case 126:
		l, err := c.br.Peek(4)
		if err != nil {
			return err
		}
		n, hl = int(binary.BigEndian.Uint16(l[2:])), 4
	case 127:
		return errors.New("rawClient: frame too long")
	}
	_, err = c.br.Discard(hl + n)
	return err
}

// The hand-written open packet is the JSON encoding/json would produce.
func TestAppendHandshake(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		upgrades []string
	}{
		{"polling, defaults", Options{}, []string{"websocket"}},
		{"websocket, custom", Options{PingInterval: 300 * time.Millisecond, PingTimeout: 200 * time.Millisecond, MaxPayload: 1e6}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEngine(tt.opts, nil)
			c := &EngineConn{id: newID()}
			want, err := json.Marshal(struct {
				SID          string   `json:"sid"`
				Upgrades     []string `json:"upgrades"`
				PingInterval int64    `json:"pingInterval"`
				PingTimeout  int64    `json:"pingTimeout"`
				MaxPayload   int64    `json:"maxPayload"`
			}{c.id, tt.upgrades, e.opts.PingInterval.Milliseconds(), e.opts.PingTimeout.Milliseconds(), e.opts.MaxPayload})
			require.NoError(t, err)
			require.Equal(t, string(want), string(e.appendHandshake(nil, c, len(tt.upgrades) > 0)))
		})
	}
}

// plainString agrees with encoding/json where it answers, and leaves
// escapes, control characters, invalid UTF-8 and non-strings to it.
func TestEventName(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{`"hub:send"`, "hub:send", true},
		{`""`, "", true},
		{`"héllo"`, "héllo", true},
		{`"a\"b"`, "", false},
		{`"a\nb"`, "", false},
		{"\"a\tb\"", "", false},
		{"\"\xff\"", "", false},
		{`"a"b"`, "", false},
		{`42`, "", false},
		{`"`, "", false},
		{` "x"`, "", false},
	}
	s := NewServer(Options{})
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			for range 2 { // learnt, then interned
				got, ok := s.eventName([]byte(tt.in))
				require.Equal(t, tt.wantOK, ok)
				require.Equal(t, tt.want, got)
			}
			got, ok := s.eventName([]byte(tt.in))
			if ok {
				var viaJSON string
				require.NoError(t, json.Unmarshal([]byte(tt.in), &viaJSON))
				require.Equal(t, viaJSON, got)
			}
		})
	}
}

// A connection's writer writes the first frame after a quiet period at
// once, coalesces frames queued within WriteDelay of its last write into
// one write, delivers everything in order, and exits when idle, dropping
// the channel it parked on.
func TestWriteCoalescing(t *testing.T) {
	tests := []struct {
		name      string
		delay     time.Duration
		maxWrites uint64 // for the burst; 0: not checked
	}{
		{"coalescing", 200 * time.Millisecond, 2},
		{"off", -1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, base := startServer(t, Options{WriteDelay: tt.delay})
			w, so := connectRoot(t, s, base)
			eventually(t, func() bool { return s.engine.writers.Load() == 0 }, "idle writer did not exit")

			w0 := s.Stats().Writes
			require.NoError(t, so.Emit("first"))
			require.Equal(t, `42["first"]`, w.readText())
			eventually(t, func() bool { return s.Stats().Writes == w0+1 }, "the first frame is one write of its own")

			const burst = 20
			for i := range burst {
				require.NoError(t, so.Emit("b", i))
			}
			for i := range burst {
				require.Equal(t, fmt.Sprintf(`42["b",%d]`, i), w.readText())
			}
			eventually(t, func() bool { return s.engine.writers.Load() == 0 }, "writer did not exit after the burst")
			c := so.client.conn
			c.wmu.Lock()
			ready := c.ready
			c.wmu.Unlock()
			require.Nil(t, ready, "an idle WebSocket session keeps no ready channel")
			if tt.maxWrites > 0 {
				require.LessOrEqual(t, s.Stats().Writes-w0-1, tt.maxWrites, "burst not coalesced")
			}
			require.NoError(t, so.Emit("again"))
			require.Equal(t, `42["again"]`, w.readText())
		})
	}
}

// A polling GET sent right after the upgrade's "5" is refused, as the
// reference does, even when it reaches the server before the "5" does.
func TestPollDuringUpgradeRefused(t *testing.T) {
	// The GET may reach the server well before the "5" on a loaded machine:
	// let it wait for the upgrade instead of getting the noop.
	prev := upgradeNoopAfter
	upgradeNoopAfter = 10 * time.Second
	t.Cleanup(func() { upgradeNoopAfter = prev })
	s, base := startServer(t, Options{})
	sid := pollingSession(t, base)
	u := base + "/socket.io/?EIO=4&transport=polling&sid=" + sid
	ws := dialWS(t, base, "&sid="+sid)
	ws.send("2probe")
	require.Equal(t, "3probe", ws.readText())
	ws.send("5")
	code, body := httpGet(t, u)
	require.Equal(t, 400, code, "body %q", body)
	eventually(t, func() bool { return s.engine.lookup(sid).Transport() == "websocket" }, "upgraded")
}
