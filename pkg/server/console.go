package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hubd/hubd/pkg/console"
	"github.com/hubd/hubd/pkg/spec"
)

func (c ConsoleConfig) validate(auth AuthConfig) []error {
	var errs []error
	if c.DevTokens && auth.JWTSecret == "" {
		errs = append(errs, errors.New("console.devTokens: needs auth.jwtSecret (development tokens are HS256)"))
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("console.publicURL: %q is not an http(s) URL", c.PublicURL))
		}
	}
	return errs
}

// newConsole builds the web console served on the admin listener, or nil
// when console.enabled is off.
func (s *Server) newConsole() http.Handler {
	if !s.cfg.Console.Enabled {
		return nil
	}
	return console.New(console.Options{
		Hubs:       s.hubSpecs,
		Reload:     s.Reload,
		LastReload: s.LastReload,
		Metrics:    s.metrics.Registry,
		// The console's REST calls take the public routes, token checks
		// included.
		Public:         http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }),
		PublicURL:      s.cfg.Console.PublicURL,
		PublicAddr:     s.Addr,
		SocketPath:     s.cfg.SocketIO.Path,
		DevTokenSecret: s.cfg.Auth.JWTSecret,
		DevTokens:      s.cfg.Console.DevTokens,
		Logger:         s.log,
	})
}

// hubSpecs lists the specs of the running hubs.
func (s *Server) hubSpecs() []*spec.Hub {
	reg := s.reg.Load()
	out := make([]*spec.Hub, 0, len(reg.hubs))
	for _, h := range reg.hubs {
		out = append(out, h.Spec())
	}
	return out
}

// LastReload returns the result of the latest load of the hub directory
// (the one at start-up until a reload runs).
func (s *Server) LastReload() console.ReloadResult {
	if r := s.lastReload.Load(); r != nil {
		return *r
	}
	return console.ReloadResult{}
}

func (s *Server) recordReload(err error, initial bool) {
	s.lastReload.Store(&console.ReloadResult{At: time.Now(), Errors: console.SplitErrors(err), Initial: initial})
}

// registerConnGauge exposes the number of open Engine.IO connections.
func (s *Server) registerConnGauge() {
	s.metrics.Registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "hubd_sio_connections", Help: "Open Engine.IO connections (every hub, every transport).",
	}, func() float64 { return float64(s.sio.ConnCount()) }))
}
