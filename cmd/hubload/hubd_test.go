package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/server"
)

// startHubd runs the daemon in-process on the bench fixtures (bench/hubs,
// bench/records) with the embedded store, and returns its WebSocket URL and
// its admin listener's URL.
func startHubd(t *testing.T, secret string) (url, admin string) {
	t.Helper()
	cfg := server.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.ShutdownDrain = 0
	cfg.Hubs = filepath.Join("..", "..", "bench", "hubs")
	cfg.Records = filepath.Join("..", "..", "bench", "records")
	cfg.Lib = t.TempDir()
	cfg.Data = t.TempDir()
	cfg.Auth.JWTSecret = secret
	s, err := server.New(cfg, zap.NewNop())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool { return s.Addr() != nil }, 10*time.Second, 10*time.Millisecond)
	return "ws://" + s.Addr().String(), "http://" + s.AdminAddr().String()
}

// TestBenchFixturesOnHubd checks that the bench hub authorizes every bench
// user in every bench room and that hubload's counts hold against hubd.
func TestBenchFixturesOnHubd(t *testing.T) {
	const secret = "fixture-secret"
	url, admin := startHubd(t, secret)
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, rep *Report)
	}{
		{
			name: "fanout persists and delivers every message",
			args: []string{"--token-secret", secret, "--scenario", "fanout", "--clients", "10", "--senders", "2",
				"--rate", "40", "--warmup", "100ms", "--duration", "500ms"},
			check: func(t *testing.T, rep *Report) {
				tr := rep.Traffic
				require.Positive(t, tr.Sent)
				require.Equal(t, tr.Sent*10, tr.Expected)
				require.Equal(t, tr.Expected, tr.Delivered)
				require.Equal(t, tr.Sent, tr.AcksOK)
				require.Zero(t, tr.UnparsedDelivered)
				require.Empty(t, rep.Errors)
			},
		},
		{
			name: "closed loop fanout persists and delivers every message",
			args: []string{"--token-secret", secret, "--scenario", "fanout", "--clients", "10", "--senders", "2",
				"--closed-loop", "--inflight", "2", "--warmup", "100ms", "--duration", "500ms"},
			check: func(t *testing.T, rep *Report) {
				tr := rep.Traffic
				require.Equal(t, "closed", tr.Mode)
				require.Positive(t, tr.Sent)
				require.Equal(t, tr.Sent*10, tr.Expected)
				require.Equal(t, tr.Expected, tr.Delivered)
				require.Equal(t, tr.Sent, tr.AcksOK)
				require.Empty(t, rep.Errors)
			},
		},
		{
			name: "rooms across the fixture rooms",
			args: []string{"--token-secret", secret, "--scenario", "rooms", "--clients", "12", "--rooms", "4",
				"--rate", "60", "--warmup", "100ms", "--duration", "500ms"},
			check: func(t *testing.T, rep *Report) {
				tr := rep.Traffic
				require.Equal(t, 4, tr.Rooms)
				require.Equal(t, tr.Sent*3, tr.Expected)
				require.Equal(t, tr.Expected, tr.Delivered)
				require.Equal(t, tr.Sent, tr.AcksOK)
				require.Empty(t, rep.Errors)
			},
		},
		{
			name: "idle memory read after a collection, with heap and stacks from /metrics",
			args: []string{"--token-secret", secret, "--scenario", "idle", "--clients", "20", "--rooms", "4",
				"--settle", "10ms", "--server-pid", strconv.Itoa(os.Getpid()), "--admin-url", admin},
			check: func(t *testing.T, rep *Report) {
				m := rep.Memory
				require.NotNil(t, m)
				require.Equal(t, "POST "+admin+"/-/gc", m.GC)
				require.Positive(t, m.BeforeBytes)
				require.Positive(t, m.AfterBytes)
				require.Positive(t, m.BeforeHeapInuseBytes)
				require.Positive(t, m.AfterHeapInuseBytes)
				require.Positive(t, m.AfterStackInuseBytes)
				require.Positive(t, m.AfterGoroutines)
				require.InDelta(t, float64(m.AfterHeapInuseBytes-m.BeforeHeapInuseBytes)/20, m.HeapPerConnBytes, 0.001)
				require.Equal(t, 20, rep.Connect.Opened)
				require.Empty(t, rep.Errors)
			},
		},
		{
			name: "a room outside the fixtures is refused",
			args: []string{"--token-secret", secret, "--scenario", "idle", "--clients", "2", "--room-prefix", "nope-"},
			check: func(t *testing.T, rep *Report) {
				require.Zero(t, rep.Connect.Opened)
				require.Equal(t, map[string]int{"join: ROOM_NOT_FOUND": 2}, rep.Errors)
			},
		},
		{
			name: "a bad token is refused",
			args: []string{"--token-secret", "wrong", "--scenario", "connect", "--clients", "2"},
			check: func(t *testing.T, rep *Report) {
				require.Equal(t, map[string]int{"connect_error: Invalid token": 2}, rep.Errors)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, runReport(t, append([]string{"--url", url}, tc.args...)...))
		})
	}
}
