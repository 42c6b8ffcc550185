package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/scripting"
)

// A script call running on a hub's engine when a reload swaps the hub's
// definition finishes on the old engine, which closes only then.
func TestReloadRetiresOldEngineAfterItsLastCall(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	gate := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
		_, _ = w.Write([]byte("finished"))
	}))
	t.Cleanup(gate.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})

	cfg := testConfig(t)
	cfg.Scripting.HTTPAllow = []string{strings.TrimPrefix(gate.URL, "http://")}
	cfg.Scripting.CallTimeout = 30 * time.Second // longer than any timer-based retirement would wait
	srv, err := New(cfg, zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(srv.release)

	old := srv.reg.Load().scripts["alpha"]
	type out struct {
		v   any
		err error
	}
	done := make(chan out, 1)
	go func() {
		v, err := old.Eval(context.Background(), scripting.MustCompile(`http.get(base).body`), "room", map[string]any{"base": gate.URL})
		done <- out{v, err}
	}()
	<-entered

	require.NoError(t, srv.Reload())
	next := srv.reg.Load().scripts["alpha"]
	require.NotSame(t, old, next)
	require.False(t, old.Closed(), "old engine closed while a call runs on it")
	require.Equal(t, 1, old.InFlight())
	require.False(t, next.Closed())

	close(release)
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, "finished", r.v)
	require.Eventually(t, old.Closed, 5*time.Second, 5*time.Millisecond, "old engine closes after its last call")
	require.False(t, next.Closed())
}

// TestReloadOnSignal: a value on the channel given to ReloadOn reloads the
// running daemon; the loop stops with Run (the package's leak check).
func TestReloadOnSignal(t *testing.T) {
	srv := runningServer(t, nil)
	sig := make(chan os.Signal, 1)
	srv.ReloadOn(sig)
	run(t, srv)
	writeHub(t, srv.cfg.Hubs, "b.yaml", "beta")
	sig <- syscall.SIGHUP
	require.Eventually(t, func() bool { return len(srv.HubNames()) == 2 }, 5*time.Second, 5*time.Millisecond)
}
