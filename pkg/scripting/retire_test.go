package scripting

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// gate is an HTTP endpoint a script call blocks on until the test opens it.
func gate(t *testing.T) (host string, entered <-chan struct{}, open func()) {
	t.Helper()
	in, release := make(chan struct{}, 8), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		in <- struct{}{}
		<-release
		_, _ = w.Write([]byte("done"))
	}))
	t.Cleanup(srv.Close)
	var opened bool
	return strings.TrimPrefix(srv.URL, "http://"), in, func() {
		if !opened {
			opened = true
			close(release)
		}
	}
}

func TestRetireWaitsForTheLastCall(t *testing.T) {
	host, entered, open := gate(t)
	t.Cleanup(open)
	e := newEngine(t, Options{Runtimes: 2, HTTPAllow: []string{host}, CallTimeout: 10 * time.Second})
	long := MustCompile(`http.get(base).body`)
	short := MustCompile(`1 + 1`)
	vars := map[string]any{"base": "http://" + host + "/"}

	type out struct {
		v   any
		err error
	}
	done := make(chan out, 1)
	go func() {
		v, err := e.Eval(context.Background(), long, "room-a", vars)
		done <- out{v, err}
	}()
	<-entered
	require.Equal(t, 1, e.InFlight())

	e.Retire()
	require.False(t, e.Closed(), "retired while a call runs: must stay open")
	// A call that still holds the retired engine runs normally.
	v, err := e.Eval(context.Background(), short, "room-b", nil)
	require.NoError(t, err)
	require.Equal(t, int64(2), v)
	require.False(t, e.Closed(), "a short call leaving must not close while the long one runs")

	open()
	r := <-done
	require.NoError(t, r.err)
	require.Equal(t, "done", r.v)
	require.Eventually(t, e.Closed, 5*time.Second, 5*time.Millisecond, "idle retired engine closes")
	require.Zero(t, e.InFlight())

	_, err = e.Eval(context.Background(), short, "", nil)
	requireKind(t, err, KindClosed)
}

func TestRetireIdleClosesAtOnce(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1})
	e.Retire()
	require.True(t, e.Closed())
	e.Retire()
	e.Close()
	_, err := e.Eval(context.Background(), MustCompile(`1`), "", nil)
	requireKind(t, err, KindClosed)
}

func TestRetireAfterClose(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1})
	e.Close()
	e.Retire()
	require.True(t, e.Closed())
	require.Zero(t, e.InFlight())
}

// Calls racing a retire either run to completion or are refused as closed;
// none is cut off by the close.
func TestRetireRacingCalls(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 2})
	p := MustCompile(`let s = 0; for (let i = 0; i < 200; i++) s += i; s`)
	errs := make(chan error, 64)
	for i := 0; i < cap(errs); i++ {
		go func() {
			_, err := e.Eval(context.Background(), p, "", nil)
			errs <- err
		}()
		if i == cap(errs)/2 {
			e.Retire()
		}
	}
	for i := 0; i < cap(errs); i++ {
		if err := <-errs; err != nil {
			requireKind(t, err, KindClosed)
		}
	}
	require.Eventually(t, e.Closed, 5*time.Second, 5*time.Millisecond)
}
