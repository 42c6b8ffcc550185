// Package origins holds the browser origin allow-list of the public
// listener (socketio.allowedOrigins) and the CORS rule every path applies
// with it: the Socket.IO transports and the hubs' REST APIs answer a
// browser the same way.
package origins

import (
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
)

// Policy is the allow-list, replaced at once on a config reload. The zero
// value is not usable; call New.
type Policy struct {
	list atomic.Pointer[[]string]
}

// New returns a policy with the given allow-list (empty: any origin,
// without credentials).
func New(list []string) *Policy {
	p := &Policy{}
	p.Set(list)
	return p
}

// Set replaces the allow-list for the requests that follow.
func (p *Policy) Set(list []string) {
	l := slices.Clone(list)
	p.list.Store(&l)
}

// Allowed reports whether a request from origin may be answered. A request
// without Origin (not from a browser) is not checked; an empty list allows
// every origin; "*" in the list allows every origin.
func (p *Policy) Allowed(origin string) bool {
	list := *p.list.Load()
	if origin == "" || len(list) == 0 {
		return true
	}
	for _, o := range list {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// WriteHeaders lets a browser page of origin read the answer: the origin
// is echoed in Access-Control-Allow-Origin, with
// Access-Control-Allow-Credentials only when the list is not empty (with an
// empty list any page may call, but never with the user's cookies).
// Callers check Allowed first; nothing is written without an Origin.
func (p *Policy) WriteHeaders(h http.Header, origin string) {
	if origin == "" {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	if len(*p.list.Load()) > 0 {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}

// Vary marks an answer as depending on the request's Origin, for caches:
// every answer of a path the policy governs carries it, allowed or not.
func Vary(h http.Header) { h.Add("Vary", "Origin") }
