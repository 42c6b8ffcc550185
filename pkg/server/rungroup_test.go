package server

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
	"go.uber.org/zap"
)

// TestRunLeavesNoGoroutine: after Run returns, no goroutine it started
// (HTTP servers, the timer wheel, hubs' loops, sockets) is left.
func TestRunLeavesNoGoroutine(t *testing.T) {
	srv := runningServer(t, nil)
	before := goleak.IgnoreCurrent()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	require.Eventually(t, func() bool { return srv.Addr() != nil }, 10*time.Second, 10*time.Millisecond)
	// Some traffic: a polling session and a REST request.
	code, _ := httpDo(t, "GET", "http://"+srv.Addr().String()+"/socket.io/?EIO=4&transport=polling")
	require.Equal(t, http.StatusOK, code)
	code, _ = httpDo(t, "GET", "http://"+srv.Addr().String()+"/alpha/rooms/r1/messages")
	require.Equal(t, http.StatusUnauthorized, code)
	http.DefaultClient.CloseIdleConnections()
	cancel()
	require.NoError(t, <-done)
	goleak.VerifyNone(t, before)
}

// TestRunGroupStopsInReverseOrder: components stop last-started first,
// each finished before the next is stopped; one ending on its own is
// reported.
func TestRunGroupStopsInReverseOrder(t *testing.T) {
	g := newRunGroup(zapNop())
	var order []string
	for _, name := range []string{"a", "b", "c"} {
		g.start(onStop(name, func() { order = append(order, name) }))
	}
	g.start(component{name: "d", run: func(context.Context) error { return context.DeadlineExceeded }})
	require.ErrorIs(t, <-g.failed(), context.DeadlineExceeded)
	g.stop(context.Background())
	require.Equal(t, []string{"c", "b", "a"}, order)
}

func zapNop() *zap.Logger { return zap.NewNop() }
