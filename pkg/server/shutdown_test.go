package server

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestShutdownDrainsBeforeClosing: once Run's context ends, /-/ready
// answers 503 on both listeners for shutdownDrain while the sockets stay
// open and the daemon keeps serving; then Run returns.
func TestShutdownDrainsBeforeClosing(t *testing.T) {
	srv := runningServer(t, func(c *Config) { c.ShutdownDrain = time.Second })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	require.Eventually(t, func() bool { return srv.Addr() != nil }, 10*time.Second, 10*time.Millisecond)
	public, admin := "http://"+srv.Addr().String(), "http://"+srv.AdminAddr().String()
	code, _ := httpDo(t, "GET", public+"/-/ready")
	require.Equal(t, http.StatusOK, code)
	code, body := httpDo(t, "GET", public+"/socket.io/?EIO=4&transport=polling")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, 1, srv.sio.ConnCount())

	start := time.Now()
	cancel()
	require.Eventually(t, func() bool {
		code, _ := httpDo(t, "GET", public+"/-/ready")
		return code == http.StatusServiceUnavailable
	}, 5*time.Second, 5*time.Millisecond)
	code, _ = httpDo(t, "GET", admin+"/-/ready")
	require.Equal(t, http.StatusServiceUnavailable, code)
	code, _ = httpDo(t, "GET", public+"/-/healthy")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 1, srv.sio.ConnCount(), "the transports stay open during the drain")
	code, _ = httpDo(t, "GET", public+"/socket.io/?EIO=4&transport=polling")
	require.Equal(t, http.StatusOK, code, "new handshakes are still served during the drain")

	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	require.GreaterOrEqual(t, time.Since(start), time.Second, "Run waited for the drain")
	require.Equal(t, 0, srv.sio.ConnCount())
}
