package server

import (
	"context"
	"fmt"
	"github.com/hubd/hubd/internal/testenv"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hubd/hubd/pkg/authz"
)

// BenchmarkConnect measures what bench/run.sh's connect scenario measures,
// in process: the daemon serving bench/hubs and bench/records (embedded
// store, logging at info as JSON to nowhere), b.N clients from 16 dialers,
// each a WebSocket upgrade, the Engine.IO open packet and the namespace
// CONNECT with an HS256 token checked by the hub. The connections stay open
// until the timer stops, as hubload keeps them. allocs/op and cpu-us/op
// (process CPU per connection) count the client side too: a gorilla dialer
// with 256-byte buffers.
//
//	go test -run '^$' -bench BenchmarkConnect -benchtime 3000x -benchmem ./pkg/server
func BenchmarkConnect(b *testing.B) {
	const secret = "bench-secret"
	url := benchDaemon(b, secret)
	tokens := make([]string, b.N)
	for i := range tokens {
		tok, err := authz.IssueHS256(secret, map[string]any{"userId": fmt.Sprintf("u%d", i), "roleId": "user"}, time.Hour)
		require.NoError(b, err)
		tokens[i] = `{"token":"` + tok + `"}`
	}
	dialer := &websocket.Dialer{ReadBufferSize: 256, WriteBufferSize: 256, HandshakeTimeout: 10 * time.Second}
	conns := make([]*websocket.Conn, b.N)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := testenv.ProcessCPU()
	for range 16 {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < b.N; i = int(next.Add(1) - 1) {
				c, err := benchConnectOne(dialer, url, tokens[i])
				if err != nil {
					b.Error(err)
					return
				}
				conns[i] = c
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
}

// benchConnectOne dials, reads the open packet, sends the namespace
// CONNECT with auth and reads its reply.
func benchConnectOne(d *websocket.Dialer, url, auth string) (*websocket.Conn, error) {
	c, _, err := d.Dial(url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	if _, open, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(open), "0{") {
		_ = c.Close()
		return nil, fmt.Errorf("open packet %q: %w", open, err)
	}
	if err := c.WriteMessage(websocket.TextMessage, []byte("40/hub/chatHub,"+auth)); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("connect: %w", err)
	}
	if _, reply, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(reply), "40/hub/chatHub,{\"sid\"") {
		_ = c.Close()
		return nil, fmt.Errorf("connect reply %q: %w", reply, err)
	}
	return c, nil
}

// benchDaemon runs the daemon as bench/run.sh does (bench/hubs,
// bench/records, the embedded store, info logs as JSON) until b ends and
// returns its Socket.IO WebSocket URL.
func benchDaemon(b *testing.B, secret string) string {
	b.Helper()
	dir := b.TempDir()
	cfg := DefaultConfig()
	cfg.Listen, cfg.Admin.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.ShutdownDrain = 0
	cfg.Hubs, cfg.Records = filepath.Join("..", "..", "bench", "hubs"), filepath.Join("..", "..", "bench", "records")
	cfg.Lib, cfg.Data = "", filepath.Join(dir, "data")
	cfg.Auth.JWTSecret = secret
	log := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(zap.NewProductionEncoderConfig()),
		zapcore.AddSync(discard{}), zapcore.InfoLevel))
	srv, err := New(cfg, log)
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	b.Cleanup(func() {
		cancel()
		require.NoError(b, <-done)
		srv.release()
	})
	require.Eventually(b, func() bool { return srv.Addr() != nil }, 10*time.Second, 10*time.Millisecond)
	return "ws://" + srv.Addr().String() + "/socket.io/?EIO=4&transport=websocket"
}

// discard is a zap sink that drops everything, as a log file would cost
// nothing the benchmark should count.
type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
