package rest

import (
	"net/http"
	"strings"

	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/origins"
)

// Origins decides which browser origins may read the API's answers
// (*origins.Policy, the socketio.allowedOrigins list shared with the
// Socket.IO transports).
type Origins interface {
	Allowed(origin string) bool
	WriteHeaders(h http.Header, origin string)
}

// corsHeaders are the request headers a call may carry.
const corsHeaders = "Authorization, Content-Type"

// corsMaxAge is how long, in seconds, a browser may cache a preflight.
const corsMaxAge = "600"

// routeMethods lists the methods of the route table, each once, in table
// order: the methods answered to every preflight.
func routeMethods() []string {
	var out []string
	seen := map[string]bool{}
	for _, rt := range routes {
		if !seen[rt.method] {
			seen[rt.method] = true
			out = append(out, rt.method)
		}
	}
	return out
}

// cors applies the origin policy to a request, the same way on every route
// (openapi.json and asyncapi.json included): an allowed Origin is echoed in
// Access-Control-Allow-Origin; any other gets no CORS header (the browser
// keeps the answer from the page), and its preflight is refused with 403.
// It answers preflights itself and reports whether it did.
func (h *handler) cors(w http.ResponseWriter, r *http.Request) bool {
	if h.opts.Origins == nil {
		return false
	}
	origins.Vary(w.Header())
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if !h.opts.Origins.Allowed(origin) {
		if preflight {
			writeError(w, http.StatusForbidden, &hub.Error{Code: hub.CodeForbidden, Message: "origin not allowed"})
		}
		return preflight
	}
	h.opts.Origins.WriteHeaders(w.Header(), origin)
	if !preflight {
		w.Header().Set("Access-Control-Expose-Headers", "Retry-After")
		return false
	}
	hd := w.Header()
	hd.Set("Access-Control-Allow-Methods", strings.Join(routeMethods(), ", "))
	hd.Set("Access-Control-Allow-Headers", corsHeaders)
	hd.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
	return true
}
