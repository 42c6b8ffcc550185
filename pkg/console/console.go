// Package console serves hubd's web console on the admin listener: static
// pages embedded in the binary and the few JSON endpoints the pages need
// (hub specs at a glance, reload and its last result, the operations
// glance, development tokens). Everything a user does in a room goes
// through the public Socket.IO and REST endpoints with the user's token.
package console

import (
	"embed"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/spec"
)

// Prefix is the path the console is served under.
const Prefix = "/-/console"

//go:embed static
var staticFiles embed.FS

// ReloadResult is the outcome of one load of the hub directory.
type ReloadResult struct {
	At     time.Time
	Errors []string // empty: the load succeeded
	// Initial is true for the load at start-up.
	Initial bool
}

// Options are the daemon parts the console reads and drives.
type Options struct {
	// Hubs lists the specs of the running hubs.
	Hubs func() []*spec.Hub
	// Reload reloads the hub directory, as SIGHUP and POST /-/reload do.
	Reload func() error
	// LastReload returns the result of the latest load.
	LastReload func() ReloadResult
	// Metrics is the daemon's registry, read by the operations glance.
	Metrics prometheus.Gatherer
	// Public is the public listener's handler; the console's REST calls
	// are handed to it unchanged (same routes, same token checks).
	Public http.Handler
	// PublicURL is the base URL browsers use for the public listener; when
	// empty the page uses its own host name with PublicAddr's port.
	PublicURL string
	// PublicAddr returns the public listener's bound address (nil until
	// it listens).
	PublicAddr func() net.Addr
	// SocketPath is the Socket.IO handshake path (socketio.path).
	SocketPath string
	// DevTokenSecret is the HS256 secret development tokens are signed
	// with; the mint form exists only when it is set and DevTokens is on.
	DevTokenSecret string
	DevTokens      bool
	Logger         *zap.Logger
	// Now is the clock of the operations glance (tests); nil is time.Now.
	Now func() time.Time
}

// Console is the console's HTTP handler.
type Console struct {
	opts    Options
	log     *zap.Logger
	mux     *http.ServeMux
	rates   *sampler
	reloadM sync.Mutex
}

// New builds the console.
func New(o Options) *Console {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SocketPath == "" {
		o.SocketPath = "/socket.io/"
	}
	c := &Console{opts: o, log: o.Logger.Named("console"), rates: newSampler(o.Now)}
	c.mux = c.routes()
	return c
}

func (c *Console) routes() *http.ServeMux {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the embedded tree is part of the binary
	}
	files := http.StripPrefix(Prefix+"/", http.FileServer(http.FS(sub)))
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/", http.StatusMovedPermanently)
	})
	mux.Handle("GET "+Prefix+"/", files)
	mux.HandleFunc("GET "+Prefix+"/api/config", c.serveConfig)
	mux.HandleFunc("GET "+Prefix+"/api/hubs", c.serveHubs)
	mux.HandleFunc("POST "+Prefix+"/api/reload", c.guard(c.serveReload))
	mux.HandleFunc("POST "+Prefix+"/api/token", c.guard(c.serveToken))
	mux.HandleFunc("GET "+Prefix+"/api/ops", c.serveOps)
	fwd := c.forward()
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete} {
		mux.Handle(m+" "+Prefix+"/rest/", fwd)
	}
	return mux
}

// ServeHTTP serves everything under Prefix.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	// Scripts and styles only from the console itself; messages may show
	// media from anywhere and the page talks to the public listener.
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; "+
		"img-src * data: blob:; media-src *; connect-src *; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
	c.mux.ServeHTTP(w, r)
}

// guard lets a state-changing request through only when it comes from the
// console's own pages: it must carry the X-Hubd-Console header (which a
// cross-site form cannot set, and a cross-site script cannot send without
// a preflight the console never answers) and, when the browser names an
// origin, that origin must be the console's own host.
func (c *Console) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Hubd-Console") == "" {
			writeError(w, http.StatusForbidden, "FORBIDDEN", "missing X-Hubd-Console header")
			return
		}
		if o := r.Header.Get("Origin"); o != "" && !sameHost(o, r.Host) {
			writeError(w, http.StatusForbidden, "FORBIDDEN", "cross-origin request refused")
			return
		}
		next(w, r)
	}
}

// sameHost reports whether origin (scheme://host[:port]) names host.
func sameHost(origin, host string) bool {
	_, rest, ok := strings.Cut(origin, "://")
	return ok && strings.EqualFold(rest, host)
}

// forward hands /-/console/rest/<path> to the public handler as /<path>:
// the hub REST API, with the caller's own token.
func (c *Console) forward() http.Handler {
	return http.StripPrefix(Prefix+"/rest", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if c.opts.Public == nil || strings.HasPrefix(p, "/-/") || strings.HasPrefix(p+"/", c.opts.SocketPath) {
			writeError(w, http.StatusNotFound, "NOT_FOUND", "not a hub REST path")
			return
		}
		c.opts.Public.ServeHTTP(w, r)
	}))
}
