package server

import (
	"net/http"
	"net/http/pprof"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hubd/hubd/pkg/console"
)

// Route is one HTTP endpoint of a listener: a net/http ServeMux pattern
// ("GET /metrics", "/debug/pprof/") and its handler.
type Route struct {
	Pattern string
	Handler http.Handler
}

// adminRoutes is what the admin listener serves (admin.listen): operator
// endpoints that must not be reachable from the public address. Routes
// added with HandleAdmin follow them.
func (s *Server) adminRoutes() []Route {
	routes := []Route{
		{"GET /-/healthy", http.HandlerFunc(s.serveHealthy)},
		{"GET /-/ready", http.HandlerFunc(s.serveReady)},
		{"POST /-/reload", http.HandlerFunc(s.serveReload)},
		{"POST /-/gc", http.HandlerFunc(serveGC)},
		{"GET /metrics", promhttp.HandlerFor(s.metrics.Registry, promhttp.HandlerOpts{})},
		{"/debug/pprof/", http.HandlerFunc(pprof.Index)},
		{"/debug/pprof/cmdline", http.HandlerFunc(pprof.Cmdline)},
		{"/debug/pprof/profile", http.HandlerFunc(pprof.Profile)},
		{"/debug/pprof/symbol", http.HandlerFunc(pprof.Symbol)},
		{"/debug/pprof/trace", http.HandlerFunc(pprof.Trace)},
	}
	if s.console != nil {
		routes = append(routes, Route{console.Prefix, s.console}, Route{console.Prefix + "/", s.console})
	}
	return append(routes, s.extraAdmin...)
}

// adminOnly are the admin paths the public listener answers with 404, so
// that no hub's REST API can be reached under them either.
var adminOnly = []string{"/-/reload", "/-/gc", "/metrics", "/debug/pprof/", console.Prefix + "/"}

// HandleAdmin adds an endpoint to the admin listener (a web console, a
// debugging view). It must be called before Run; the pattern follows
// net/http.ServeMux and must not clash with the built-in admin routes.
func (s *Server) HandleAdmin(pattern string, h http.Handler) {
	s.extraAdmin = append(s.extraAdmin, Route{Pattern: pattern, Handler: h})
}

// AdminHandler returns the admin listener's handler.
func (s *Server) AdminHandler() http.Handler { return mux(s.adminRoutes()) }

func mux(routes []Route) *http.ServeMux {
	m := http.NewServeMux()
	for _, r := range routes {
		m.Handle(r.Pattern, r.Handler)
	}
	return m
}

func (s *Server) serveHealthy(w http.ResponseWriter, _ *http.Request) {
	_, _ = w.Write([]byte("ok\n"))
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "not ready", http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

func (s *Server) serveReload(w http.ResponseWriter, _ *http.Request) {
	if err := s.Reload(); err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	_, _ = w.Write([]byte("reloaded\n"))
}

// serveGC runs a garbage collection and returns the freed memory to the
// operating system before it answers, so that a memory reading taken right
// after it (RSS, /metrics) shows what is live. It stops the world for the
// length of a collection: a benchmarking and debugging aid.
func serveGC(w http.ResponseWriter, _ *http.Request) {
	debug.FreeOSMemory()
	_, _ = w.Write([]byte("collected\n"))
}
