package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func runReport(t *testing.T, args ...string) *Report {
	t.Helper()
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	require.NoError(t, run(ctx, append(args, "--json"), &out, io.Discard))
	var rep Report
	require.NoError(t, json.Unmarshal(out.Bytes(), &rep), out.String())
	return &rep
}

func TestScenariosAgainstFakeHub(t *testing.T) {
	const secret = "test-secret"
	tests := []struct {
		name       string
		rejectSend string
		ackDelay   time.Duration
		args       []string
		check      func(t *testing.T, h *fakeHub, rep *Report)
	}{
		{
			name: "fanout delivers every message to every member",
			args: []string{"--scenario", "fanout", "--clients", "20", "--senders", "2", "--rate", "200",
				"--warmup", "100ms", "--duration", "500ms", "--server-pid", strconv.Itoa(os.Getpid())},
			check: func(t *testing.T, h *fakeHub, rep *Report) {
				tr := rep.Traffic
				require.Equal(t, 20, rep.Connect.Opened)
				require.Equal(t, 1, tr.Rooms)
				require.InDelta(t, 100, tr.Sent, 25, "about rate*duration sends")
				require.Equal(t, tr.Sent*20, tr.Expected)
				require.Equal(t, tr.Expected, tr.Delivered)
				require.Equal(t, tr.Sent, tr.AcksOK)
				require.Zero(t, tr.AcksFailed)
				require.Zero(t, tr.UnparsedDelivered)
				require.Positive(t, tr.DeliveredPerSec)
				require.Positive(t, tr.Latency.Count)
				require.GreaterOrEqual(t, tr.Latency.P99, tr.Latency.P50)
				require.GreaterOrEqual(t, tr.Latency.Max, tr.Latency.P99)
				require.Empty(t, rep.Errors)
				require.NotNil(t, rep.CPU, "cpu is sampled over the window")
				require.Positive(t, rep.CPU.ServerCores) // the fake hub runs in this process
				require.Positive(t, rep.CPU.ClientCores)
			},
		},
		{
			name: "rooms counts deliveries per room and persisted acks",
			args: []string{"--scenario", "rooms", "--clients", "20", "--rooms", "4", "--rate", "200",
				"--warmup", "100ms", "--duration", "500ms"},
			check: func(t *testing.T, h *fakeHub, rep *Report) {
				tr := rep.Traffic
				require.Equal(t, 4, tr.Rooms)
				require.Equal(t, 20, tr.Senders)
				require.Positive(t, tr.Sent)
				require.Equal(t, tr.Sent*5, tr.Expected)
				require.Equal(t, tr.Expected, tr.Delivered)
				require.Equal(t, tr.Sent, tr.AcksOK)
				require.Positive(t, tr.PersistedPerSec)
				require.Positive(t, tr.AckLatency.Count)
			},
		},
		{
			name:     "closed loop fanout keeps exactly --inflight sends unacked per sender",
			ackDelay: 20 * time.Millisecond,
			args: []string{"--scenario", "fanout", "--clients", "10", "--senders", "2", "--closed-loop",
				"--inflight", "3", "--warmup", "50ms", "--duration", "400ms"},
			check: func(t *testing.T, h *fakeHub, rep *Report) {
				tr := rep.Traffic
				require.Equal(t, "closed", tr.Mode)
				require.Equal(t, 3, tr.Inflight)
				require.Zero(t, tr.TargetRate)
				require.Equal(t, int64(3), h.maxUnacked.Load(), "the window fills and never overflows")
				// Each slot carries one send per ack delay at most.
				require.LessOrEqual(t, tr.Sent, int64(2*3*(400/20+1)))
				require.Positive(t, tr.Sent)
				require.Equal(t, tr.Sent*10, tr.Expected)
				require.Equal(t, tr.Expected, tr.Delivered)
				require.Equal(t, tr.Sent, tr.AcksOK)
				require.Zero(t, tr.AcksMissing)
				require.Zero(t, tr.SkippedBehind)
				require.Empty(t, rep.Errors)
			},
		},
		{
			name: "closed loop rooms: every client sends one at a time",
			args: []string{"--scenario", "rooms", "--clients", "12", "--rooms", "3", "--closed-loop",
				"--warmup", "50ms", "--duration", "300ms"},
			check: func(t *testing.T, h *fakeHub, rep *Report) {
				tr := rep.Traffic
				require.Equal(t, "closed", tr.Mode)
				require.Equal(t, 12, tr.Senders)
				require.Equal(t, int64(1), h.maxUnacked.Load())
				require.Positive(t, tr.Sent)
				require.Equal(t, tr.Sent*4, tr.Expected)
				require.Equal(t, tr.Expected, tr.Delivered)
				require.Equal(t, tr.Sent, tr.AcksOK)
				require.Empty(t, rep.Errors)
			},
		},
		{
			name:       "closed loop goes on past refused sends",
			rejectSend: "RATE_LIMITED",
			args: []string{"--scenario", "fanout", "--clients", "2", "--senders", "1", "--closed-loop",
				"--warmup", "20ms", "--duration", "100ms"},
			check: func(t *testing.T, h *fakeHub, rep *Report) {
				tr := rep.Traffic
				require.Greater(t, tr.Sent, int64(1), "a refusal frees the slot too")
				require.Equal(t, tr.Sent, tr.AcksFailed)
				require.Zero(t, tr.Delivered)
			},
		},
		{
			name: "crowd: a fan-out next to idle connections spread over source addresses",
			args: []string{"--scenario", "crowd", "--clients", "30", "--rooms", "3", "--members", "10", "--senders", "2",
				"--closed-loop", "--warmup", "50ms", "--duration", "300ms", "--settle", "10ms",
				"--source-addrs", "127.0.0.2-127.0.0.3,127.0.0.4", "--server-pid", strconv.Itoa(os.Getpid())},
			check: func(t *testing.T, h *fakeHub, rep *Report) {
				c := rep.Crowd
				require.NotNil(t, c)
				require.Equal(t, 30, c.Idle)
				require.Equal(t, 30, c.HeldAtEnd)
				require.Equal(t, int64(30), c.PingsAnswered, "the fake hub pings each client once")
				require.Equal(t, "bench-3", c.FanoutRoom)
				require.Positive(t, c.RSSAtEndBytes)
				require.Equal(t, 30, rep.Connect.Opened)
				require.NotNil(t, rep.Memory)
				require.Equal(t, int64(40), h.joined.Load())
				require.Equal(t, int64(40), h.pongs.Load())
				tr := rep.Traffic
				require.Equal(t, 2, tr.Senders)
				require.Positive(t, tr.Sent)
				require.Equal(t, tr.Sent*10, tr.Expected, "only the fan-out room's members receive")
				require.Equal(t, tr.Expected, tr.Delivered)
				require.Equal(t, tr.Sent, tr.AcksOK)
				require.Empty(t, rep.Errors)
				h.mu.Lock()
				defer h.mu.Unlock()
				require.Equal(t, map[string]int{"127.0.0.2": 14, "127.0.0.3": 13, "127.0.0.4": 13}, h.sources)
			},
		},
		{
			name:       "refused sends are counted by code",
			rejectSend: "RATE_LIMITED",
			args: []string{"--scenario", "fanout", "--clients", "3", "--senders", "1", "--rate", "50",
				"--warmup", "50ms", "--duration", "300ms", "--drain", "2s"},
			check: func(t *testing.T, h *fakeHub, rep *Report) {
				tr := rep.Traffic
				require.Positive(t, tr.Sent)
				require.Zero(t, tr.AcksOK)
				require.Equal(t, tr.Sent, tr.AcksFailed)
				require.Zero(t, tr.Delivered)
				require.GreaterOrEqual(t, int64(rep.Errors["send: RATE_LIMITED"]), tr.Sent)
			},
		},
		{
			name: "idle reports memory of the given pid and answers pings",
			args: []string{"--scenario", "idle", "--clients", "30", "--rooms", "3", "--settle", "10ms",
				"--server-pid", strconv.Itoa(os.Getpid())},
			check: func(t *testing.T, h *fakeHub, rep *Report) {
				require.Equal(t, 30, rep.Connect.Opened)
				require.Equal(t, int64(30), h.joined.Load())
				require.NotNil(t, rep.Memory)
				require.Positive(t, rep.Memory.BeforeBytes)
				require.Positive(t, rep.Memory.AfterBytes)
				require.Equal(t, int64(30), h.pongs.Load())
			},
		},
		{
			name: "connect opens every client",
			args: []string{"--scenario", "connect", "--clients", "40", "--concurrency", "8"},
			check: func(t *testing.T, h *fakeHub, rep *Report) {
				require.Equal(t, 40, rep.Connect.Opened)
				require.Zero(t, rep.Connect.Failed)
				require.Positive(t, rep.Connect.PerSec)
				require.Equal(t, uint64(40), rep.Connect.LatencyMs.Count)
				require.Zero(t, h.joined.Load())
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := startFakeHub(t, secret)
			h.rejectSend = tc.rejectSend
			h.ackDelay = tc.ackDelay
			rep := runReport(t, append([]string{"--url", h.url(), "--token-secret", secret}, tc.args...)...)
			tc.check(t, h, rep)
		})
	}
}

func TestConnectErrorsAreCountedByKind(t *testing.T) {
	h := startFakeHub(t, "right")
	tests := []struct {
		name string
		url  string
		kind string
	}{
		{name: "wrong secret", url: h.url(), kind: "connect_error: Invalid token"},
		{name: "no server", url: "ws://127.0.0.1:1", kind: "dial: connection refused"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rep := runReport(t, "--url", tc.url, "--token-secret", "wrong", "--scenario", "connect", "--clients", "5")
			require.Zero(t, rep.Connect.Opened)
			require.Equal(t, 5, rep.Connect.Failed)
			require.Equal(t, map[string]int{tc.kind: 5}, rep.Errors)
		})
	}
}

func TestTextReport(t *testing.T) {
	h := startFakeHub(t, "s")
	var out bytes.Buffer
	err := run(context.Background(), []string{"--url", h.url(), "--token-secret", "s", "--scenario", "fanout",
		"--clients", "4", "--rate", "40", "--warmup", "10ms", "--duration", "200ms"}, &out, io.Discard)
	require.NoError(t, err)
	for _, want := range []string{"scenario fanout", "deliveries/s", "latency p50", "persisted/s", "errors    none",
		"machine   load average"} {
		require.Contains(t, out.String(), want)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "defaults", args: nil},
		{name: "unknown scenario", args: []string{"--scenario", "storm"}, wantErr: `--scenario "storm"`},
		{name: "too many senders", args: []string{"--clients", "2", "--senders", "3"}, wantErr: "--senders"},
		{name: "rooms not a divisor", args: []string{"--scenario", "rooms", "--clients", "10", "--rooms", "3"},
			wantErr: "multiple of --rooms"},
		{name: "zero rate", args: []string{"--rate", "0"}, wantErr: "--rate"},
		{name: "closed loop needs no rate", args: []string{"--closed-loop", "--rate", "0", "--inflight", "8"}},
		{name: "closed loop inflight zero", args: []string{"--closed-loop", "--inflight", "0"}, wantErr: "--inflight"},
		{name: "closed loop inflight too large", args: []string{"--closed-loop", "--inflight", "100000"},
			wantErr: "--inflight"},
		{name: "gc signal without pid", args: []string{"--scenario", "idle", "--gc-signal", "USR2"}, wantErr: "--server-pid"},
		{name: "admin url without pid", args: []string{"--scenario", "idle", "--admin-url", "http://h"}, wantErr: "--server-pid"},
		{name: "unknown gc signal", args: []string{"--scenario", "idle", "--server-pid", "1", "--gc-signal", "KILL"},
			wantErr: `--gc-signal "KILL"`},
		{name: "crowd senders above members", args: []string{"--scenario", "crowd", "--members", "5", "--senders", "6"},
			wantErr: "--members"},
		{name: "source range backwards", args: []string{"--source-addrs", "127.0.0.5-127.0.0.2"}, wantErr: "--source-addrs"},
		{name: "source not an address", args: []string{"--source-addrs", "localhost"}, wantErr: "--source-addrs"},
		{name: "closed loop on idle", args: []string{"--scenario", "idle", "--closed-loop"},
			wantErr: "fanout, rooms and crowd only"},
		{name: "idle ignores rate", args: []string{"--scenario", "idle", "--rate", "0"}},
		{name: "stray argument", args: []string{"extra"}, wantErr: "unexpected arguments"},
		{name: "unknown flag", args: []string{"--nope"}, wantErr: "nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args, io.Discard)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, errUsage)
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestParseSources(t *testing.T) {
	tests := []struct {
		spec    string
		want    []string
		wantErr bool
	}{
		{spec: "", want: nil},
		{spec: "127.0.0.2", want: []string{"127.0.0.2"}},
		{spec: "127.0.0.2-127.0.0.4, 10.0.0.1", want: []string{"127.0.0.2", "127.0.0.3", "127.0.0.4", "10.0.0.1"}},
		{spec: "127.0.0.250-127.0.0.255", want: []string{"127.0.0.250", "127.0.0.251", "127.0.0.252",
			"127.0.0.253", "127.0.0.254", "127.0.0.255"}},
		{spec: "127.0.0.2-127.0.1.4", wantErr: true},
		{spec: "::1", wantErr: true},
		{spec: "127.0.0.2-", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := parseSources(tc.spec)
			if tc.wantErr {
				require.ErrorIs(t, err, errUsage)
				return
			}
			require.NoError(t, err)
			var s []string
			for _, ip := range got {
				s = append(s, ip.String())
			}
			require.Equal(t, tc.want, s)
		})
	}
}

func TestSocketURL(t *testing.T) {
	tests := []struct {
		base, path, want string
		wantErr          bool
	}{
		{base: "ws://127.0.0.1:9/", path: "/socket.io/", want: "ws://127.0.0.1:9/socket.io/?EIO=4&transport=websocket"},
		{base: "http://h:1", path: "rt", want: "ws://h:1/rt/?EIO=4&transport=websocket"},
		{base: "https://h", path: "/socket.io", want: "wss://h/socket.io/?EIO=4&transport=websocket"},
		{base: "tcp://h", path: "/", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.base, func(t *testing.T) {
			got, err := socketURL(tc.base, tc.path)
			if tc.wantErr {
				require.ErrorIs(t, err, errUsage)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseVmRSS(t *testing.T) {
	tests := []struct {
		name, status string
		want         int64
		wantErr      bool
	}{
		{name: "linux status", status: "Name:\thubd\nVmPeak:\t  9 kB\nVmRSS:\t   12345 kB\nThreads: 4\n", want: 12345 * 1024},
		{name: "missing", status: "Name:\tx\n", wantErr: true},
		{name: "bad unit", status: "VmRSS:\t 1 MB\n", wantErr: true},
		{name: "bad number", status: "VmRSS:\t x kB\n", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseVmRSS(strings.NewReader(tc.status))
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{name: "plain", stat: "42 (hubd) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 1000 200",
			want: 3 * time.Second},
		{name: "name with spaces and parens", stat: "7 (a (b) c) R 1 7 7 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 1 1",
			want: 30 * time.Millisecond},
		{name: "truncated", stat: "7 (x) R 1 2 3", wantErr: true},
		{name: "no name", stat: "garbage", wantErr: true},
		{name: "bad number", stat: "7 (x) R 1 7 7 0 -1 0 0 0 0 0 x 2 0", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tc.stat))
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}
