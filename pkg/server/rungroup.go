package server

import (
	"context"
	"errors"
	"net"
	"net/http"

	"go.uber.org/zap"
)

// component is a long-running part of the daemon: run blocks until its
// context ends (then it stops and returns nil) or until it fails.
type component struct {
	name string
	run  func(ctx context.Context) error
}

// runGroup runs the daemon's components, each on its own context, and
// stops them in the reverse order of their start, each one finished
// before the next is stopped. No goroutine of the group outlives stop.
type runGroup struct {
	log     *zap.Logger
	parts   []*runningPart
	failure chan error // the first component that ended on its own
}

type runningPart struct {
	name   string
	cancel context.CancelFunc
	done   chan error
}

func newRunGroup(log *zap.Logger) *runGroup {
	return &runGroup{log: log, failure: make(chan error, 1)}
}

// start runs c until stop.
func (g *runGroup) start(c component) {
	ctx, cancel := context.WithCancel(context.Background())
	p := &runningPart{name: c.name, cancel: cancel, done: make(chan error, 1)}
	g.parts = append(g.parts, p)
	go func() {
		err := c.run(ctx)
		if ctx.Err() == nil {
			// Ended before it was stopped: the daemon stops.
			if err == nil {
				err = errors.New(c.name + " stopped")
			}
			select {
			case g.failure <- err:
			default:
			}
		}
		p.done <- err
	}()
}

// failed delivers the error of the first component that ended on its own.
func (g *runGroup) failed() <-chan error { return g.failure }

// stop stops every component, the last started first, waiting for each
// until ctx ends. It returns once all have returned, or ctx has ended.
func (g *runGroup) stop(ctx context.Context) {
	for i := len(g.parts) - 1; i >= 0; i-- {
		p := g.parts[i]
		p.cancel()
		select {
		case err := <-p.done:
			if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
				g.log.Warn("component stopped with an error", zap.String("component", p.name), zap.Error(err))
			}
		case <-ctx.Done():
			g.log.Warn("component did not stop within the shutdown timeout", zap.String("component", p.name))
		}
	}
}

// httpComponent serves ln until stopped, then shuts the server down
// gracefully within the shutdown context shutdownCtx returns.
func httpComponent(name string, srv *http.Server, ln net.Listener, shutdownCtx func() context.Context) component {
	return component{name: name, run: func(ctx context.Context) error {
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		select {
		case err := <-errc:
			return err
		case <-ctx.Done():
		}
		if err := srv.Shutdown(shutdownCtx()); err != nil {
			return err
		}
		return <-errc
	}}
}

// onStop is a component that does nothing until stopped, then runs stop
// (work that must happen at its place in the shutdown order).
func onStop(name string, stop func()) component {
	return component{name: name, run: func(ctx context.Context) error {
		<-ctx.Done()
		stop()
		return nil
	}}
}
