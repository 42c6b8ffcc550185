package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseMetrics(t *testing.T) {
	const exposition = `# HELP go_goroutines Number of goroutines that currently exist.
# TYPE go_goroutines gauge
go_goroutines 1042
go_memstats_heap_inuse_bytes 1.2345e+07
go_memstats_heap_inuse_bytes_total_not_this 7
hubd_sio_sockets{hub="chat"} 3
`
	tests := []struct {
		name    string
		want    []string
		got     map[string]float64
		wantErr string
	}{
		{name: "present", want: []string{"go_goroutines", "go_memstats_heap_inuse_bytes"},
			got: map[string]float64{"go_goroutines": 1042, "go_memstats_heap_inuse_bytes": 12345000}},
		{name: "missing", want: []string{"go_memstats_stack_inuse_bytes"}, wantErr: "go_memstats_stack_inuse_bytes"},
		{name: "labelled samples are not read", want: []string{"hubd_sio_sockets"}, wantErr: "hubd_sio_sockets"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMetrics(strings.NewReader(exposition), tc.want...)
			if tc.wantErr != "" {
				require.ErrorIs(t, err, errNoMetric)
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.got, got)
		})
	}
}

// TestGCSignalBeforeEachReading runs idle against the fake hub with a shell
// standing in for the server: it records every SIGUSR2 it gets.
func TestGCSignalBeforeEachReading(t *testing.T) {
	marks := filepath.Join(t.TempDir(), "signals")
	sh := exec.Command("sh", "-c", `trap 'echo usr2 >> "$1"' USR2; echo ready >> "$1"; while :; do sleep 0.05; done`, "sh", marks)
	require.NoError(t, sh.Start())
	t.Cleanup(func() {
		_ = sh.Process.Kill()
		_ = sh.Wait()
	})
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(marks)
		return strings.HasPrefix(string(b), "ready")
	}, 10*time.Second, 10*time.Millisecond, "the trap is set before the first signal")

	h := startFakeHub(t, "s")
	rep := runReport(t, "--url", h.url(), "--token-secret", "s", "--scenario", "idle", "--clients", "5",
		"--settle", "10ms", "--server-pid", strconv.Itoa(sh.Process.Pid), "--gc-signal", "USR2")
	require.Equal(t, "signal USR2", rep.Memory.GC)
	require.Zero(t, rep.Memory.AfterHeapInuseBytes, "no /metrics without --admin-url")
	require.Eventually(t, func() bool {
		b, _ := os.ReadFile(marks)
		return string(b) == "ready\nusr2\nusr2\n"
	}, 10*time.Second, 10*time.Millisecond, "one signal before the ramp, one after the settle")
}
