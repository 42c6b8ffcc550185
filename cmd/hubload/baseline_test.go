package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// startNodeBaseline runs bench/node/server.mjs and returns its URL. The test
// is skipped when node or the baseline's node_modules are missing.
func startNodeBaseline(t *testing.T, secret string) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("..", "..", "bench", "node"))
	require.NoError(t, err)
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not installed")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io")); err != nil {
		t.Skip("baseline not installed: run npm ci in bench/node")
	}
	cmd := exec.Command("node", "server.mjs", "--port", "0", "--secret", secret)
	cmd.Dir = dir
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "listening ") {
				lines <- sc.Text()
				return
			}
		}
		close(lines)
	}()
	select {
	case line, ok := <-lines:
		require.True(t, ok, "baseline exited before listening")
		return "ws://127.0.0.1:" + strings.TrimPrefix(line, "listening ")
	case <-time.After(20 * time.Second):
		t.Fatal("baseline did not print its port")
		return ""
	}
}

func TestNodeBaselineSpeaksTheHubProtocol(t *testing.T) {
	const secret = "baseline-secret"
	url := startNodeBaseline(t, secret)
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, rep *Report)
	}{
		{
			name: "fanout with acks",
			args: []string{"--token-secret", secret, "--scenario", "fanout", "--clients", "10", "--senders", "2",
				"--rate", "40", "--warmup", "100ms", "--duration", "500ms"},
			check: func(t *testing.T, rep *Report) {
				tr := rep.Traffic
				require.Positive(t, tr.Sent)
				require.Equal(t, tr.Sent*10, tr.Expected)
				require.Equal(t, tr.Expected, tr.Delivered)
				require.Equal(t, tr.Sent, tr.AcksOK)
				require.Empty(t, rep.Errors)
			},
		},
		{
			name: "bad token is refused",
			args: []string{"--token-secret", "wrong", "--scenario", "connect", "--clients", "3"},
			check: func(t *testing.T, rep *Report) {
				require.Equal(t, map[string]int{"connect_error: Invalid token": 3}, rep.Errors)
			},
		},
		{
			name: "missing token is refused",
			args: []string{"--scenario", "connect", "--clients", "2"},
			check: func(t *testing.T, rep *Report) {
				require.Equal(t, map[string]int{"connect_error: Authentication required": 2}, rep.Errors)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, runReport(t, append([]string{"--url", url}, tc.args...)...))
		})
	}
}
