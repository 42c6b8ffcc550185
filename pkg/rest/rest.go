// Package rest serves the REST API of the hubs under /{hubName}/... and the
// OpenAPI 3.1 document generated from each hub's spec. Callers are
// authorized exactly as socket members are: the token gives the session,
// and Hub.ActorFor runs the layered room authorization.
package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/spec"
)

// Hub is what the REST layer needs from a running hub; *hub.Hub implements
// it. Errors are *hub.Error; any other error is answered as INTERNAL.
type Hub interface {
	Spec() *spec.Hub
	// Admit is the pre-check of a protocol event for an actor (toggle,
	// permission, rate class, moderation), the one the socket dispatcher
	// runs; routes with a socket twin call it before the Hub method.
	Admit(ctx context.Context, e *hub.Inbound, a *hub.Actor) error
	// ActorFor runs the layered authorization of the user for the room.
	ActorFor(ctx context.Context, sess *authz.Session, roomID string) (*hub.Actor, error)
	Send(ctx context.Context, a *hub.Actor, in hub.SendInput) (*msgstore.Message, error)
	ListMessages(ctx context.Context, a *hub.Actor, in hub.ListInput) ([]*msgstore.Message, error)
	// MessageRoom returns the room of a message, to authorize /messages/{id}.
	MessageRoom(ctx context.Context, messageID string) (string, error)
	GetMessage(ctx context.Context, a *hub.Actor, id string) (*msgstore.Message, error)
	EditMessage(ctx context.Context, a *hub.Actor, id string, content json.RawMessage) (*msgstore.Message, error)
	DeleteMessage(ctx context.Context, a *hub.Actor, id string) (*msgstore.Message, error)
	React(ctx context.Context, a *hub.Actor, id, emoji string) (*msgstore.Message, error)
	Presence(ctx context.Context, a *hub.Actor) ([]hub.PresenceEntry, error)
	Receipts(ctx context.Context, a *hub.Actor) ([]hub.Receipt, error)
	Unread(ctx context.Context, a *hub.Actor) (int64, error)
	// Deliveries returns the stored delivery receipts of a message of the
	// actor's room.
	Deliveries(ctx context.Context, a *hub.Actor, messageID string) ([]hub.Delivery, error)
	// EmitServerEvent emits a custom event to the room (toUserID "") or to
	// one user's sockets in the room.
	EmitServerEvent(ctx context.Context, roomID, event string, data json.RawMessage, toUserID string) error
	PendingMessages(ctx context.Context, a *hub.Actor) ([]*msgstore.Message, error)
	Approve(ctx context.Context, a *hub.Actor, id string) (*msgstore.Message, error)
	Reject(ctx context.Context, a *hub.Actor, id, reason string) (*msgstore.Message, error)
	Block(ctx context.Context, a *hub.Actor, userID, reason string, d time.Duration) error
	Unblock(ctx context.Context, a *hub.Actor, userID string) error
	Silence(ctx context.Context, a *hub.Actor, userID string) error
	Unsilence(ctx context.Context, a *hub.Actor, userID string) error
	Kick(ctx context.Context, a *hub.Actor, userID, reason string) error
	UpdateRoom(ctx context.Context, a *hub.Actor, settings json.RawMessage) (json.RawMessage, error)
}

var _ Hub = (*hub.Hub)(nil)

// Verifier turns a token into a session (*authz.Verifier).
type Verifier interface {
	Verify(token string) (*authz.Session, error)
}

// Defaults applied by NewHandler when Options leaves a field zero.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultServiceRole  = "service"
)

// Options configures the REST handler.
type Options struct {
	// Hubs looks a hub up in the live registry (it changes on reload).
	Hubs     func(name string) (Hub, bool)
	Verifier Verifier
	// ServiceRoles are the session roleIds allowed to call the service
	// endpoints (server events). Default [DefaultServiceRole].
	ServiceRoles []string
	// MaxBodyBytes bounds request bodies; larger ones get 413. Default
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// Logger is used as given (the caller names it); default zap.NewNop().
	Logger *zap.Logger
	// Observer, when set, is called once for every request after its
	// response is written: the hub name ("" when the path names no
	// existing hub), the route pattern (one of RoutePatterns, or
	// RouteUnmatched), the error code ("" on success), the HTTP status and
	// the time spent. All labels are bounded sets.
	Observer func(hub, route, code string, status int, d time.Duration)
	// Origins, when set, is the CORS policy of every route (cors.go); nil
	// sends no CORS headers.
	Origins Origins
}

// RouteUnmatched is the route label of requests no route matches (unknown
// hubs and paths, wrong methods).
const RouteUnmatched = "unmatched"

// RoutePatterns lists the route labels Options.Observer can receive besides
// RouteUnmatched, e.g. "GET /{hub}/rooms/{roomId}/messages".
func RoutePatterns() []string {
	out := make([]string, 0, len(routes))
	for _, rt := range routes {
		out = append(out, rt.pattern())
	}
	return out
}

// pattern is the route's ServeMux pattern, also its metric label.
func (rt *route) pattern() string { return rt.method + " /{hub}" + rt.path }

// observedWriter records what a request was answered with, for
// Options.Observer.
type observedWriter struct {
	http.ResponseWriter
	hub, route, code string
	status           int
}

func (o *observedWriter) WriteHeader(status int) {
	if o.status == 0 {
		o.status = status
	}
	o.ResponseWriter.WriteHeader(status)
}

func (o *observedWriter) Write(b []byte) (int, error) {
	if o.status == 0 {
		o.status = http.StatusOK
	}
	return o.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (o *observedWriter) Unwrap() http.ResponseWriter { return o.ResponseWriter }

// observe notes the hub and route of the request on w when it is observed.
func observe(w http.ResponseWriter, hubName, route string) {
	if o, ok := w.(*observedWriter); ok {
		o.hub, o.route = hubName, route
	}
}

// handler serves the REST routes of every hub.
type handler struct {
	opts Options
	log  *zap.Logger
	mux  *http.ServeMux

	docsMu sync.Mutex
	docs   map[string]cachedDoc // by hub name
}

// cachedDoc is the OpenAPI document generated for one spec. Specs are
// immutable and a reload installs a new one, so the pointer is the key.
type cachedDoc struct {
	spec *spec.Hub
	doc  []byte
}

// openAPI returns the hub's document, generating it once per spec.
func (h *handler) openAPI(name string, s *spec.Hub) ([]byte, error) {
	h.docsMu.Lock()
	defer h.docsMu.Unlock()
	if c, ok := h.docs[name]; ok && c.spec == s {
		return c.doc, nil
	}
	doc, err := OpenAPI(s)
	if err != nil {
		return nil, err
	}
	h.docs[name] = cachedDoc{spec: s, doc: doc}
	return doc, nil
}

// NewHandler returns the REST handler. It is mounted as a fallback at "/":
// it serves only /{hubName}/... paths of hubs that exist and answers every
// other path with a JSON 404.
func NewHandler(opts Options) http.Handler {
	if len(opts.ServiceRoles) == 0 {
		opts.ServiceRoles = []string{DefaultServiceRole}
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.Hubs == nil {
		opts.Hubs = func(string) (Hub, bool) { return nil, false }
	}
	h := &handler{opts: opts, log: opts.Logger, mux: http.NewServeMux(), docs: map[string]cachedDoc{}}
	for _, rt := range routes {
		h.mux.Handle(rt.pattern(), h.wrap(rt))
	}
	h.mux.HandleFunc("/", h.unmatched)
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.cors(w, r) {
		return
	}
	if h.opts.Observer == nil {
		h.serve(w, r)
		return
	}
	start := time.Now()
	o := &observedWriter{ResponseWriter: w, route: RouteUnmatched}
	h.serve(o, r)
	if o.status == 0 {
		o.status = http.StatusOK
	}
	h.opts.Observer(o.hub, o.route, o.code, o.status, time.Since(start))
}

func (h *handler) serve(w http.ResponseWriter, r *http.Request) {
	// ServeMux would redirect unclean paths ("/a/../b", "//a"); an API
	// answers them as unknown routes instead.
	p := r.URL.Path
	if clean := path.Clean(p); clean != p && (clean == "/" || clean+"/" != p) {
		writeError(w, http.StatusNotFound, &hub.Error{Code: hub.CodeNotFound, Message: "no such route"})
		return
	}
	h.mux.ServeHTTP(w, r)
}

// unmatched answers paths no route matches: 405 when the path exists with
// another method, 404 otherwise.
func (h *handler) unmatched(w http.ResponseWriter, r *http.Request) {
	name, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if _, ok := h.opts.Hubs(name); !ok {
		writeError(w, http.StatusNotFound, &hub.Error{Code: hub.CodeNotFound, Message: "no such route"})
		return
	}
	observe(w, name, RouteUnmatched)
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := h.mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, http.StatusMethodNotAllowed, &hub.Error{Code: hub.CodeBadRequest, Message: "method " + r.Method + " not allowed"})
		return
	}
	writeError(w, http.StatusNotFound, &hub.Error{Code: hub.CodeNotFound, Message: "no such route"})
}

// call is one request being served.
type call struct {
	w       http.ResponseWriter
	r       *http.Request
	hubName string
	hub     Hub
	spec    *spec.Hub
	rt      *route
	sess    *authz.Session // nil for routes without auth
	maxBody int64
	handler *handler
}

// wrap resolves the hub, checks the route is enabled for it, authenticates
// and runs the route, then writes the result or the error.
func (h *handler) wrap(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("hub")
		hb, ok := h.opts.Hubs(name)
		if !ok {
			observe(w, "", rt.pattern())
			writeError(w, http.StatusNotFound, &hub.Error{Code: hub.CodeNotFound, Message: "unknown hub " + quote(name)})
			return
		}
		observe(w, name, rt.pattern())
		c := &call{w: w, r: r, hubName: name, hub: hb, rt: rt, spec: hb.Spec(), maxBody: h.opts.MaxBodyBytes, handler: h}
		// A twin route's toggle is refused as the socket event is.
		if rt.inbound != nil {
			if err := rt.inbound.Allowed(c.spec); err != nil {
				h.fail(c, err)
				return
			}
		}
		if rt.enabled != nil && !rt.enabled(c.spec) {
			writeError(w, http.StatusNotFound, &hub.Error{Code: hub.CodeNotFound, Message: rt.disabledMsg})
			return
		}
		if rt.auth != authNone {
			sess, err := h.authenticate(r)
			if err != nil {
				h.fail(c, err)
				return
			}
			if rt.auth == authService && !slices.Contains(h.opts.ServiceRoles, sess.RoleID) {
				h.fail(c, &hub.Error{Code: hub.CodeForbidden, Message: "service credentials required"})
				return
			}
			c.sess = sess
		}
		res, err := rt.serve(c)
		if err != nil {
			h.fail(c, err)
			return
		}
		if res.raw != nil {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(res.status)
			_, _ = w.Write(res.raw)
			return
		}
		writeJSON(w, res.status, res.body)
	})
}

// authenticate verifies the request's token.
func (h *handler) authenticate(r *http.Request) (*authz.Session, error) {
	tok := authz.TokenFromHTTP(r)
	if tok == "" {
		return nil, &hub.Error{Code: hub.CodeAuthRequired, Message: "Authentication required"}
	}
	if h.opts.Verifier == nil {
		return nil, &hub.Error{Code: hub.CodeInvalidToken, Message: "Invalid token"}
	}
	sess, err := h.opts.Verifier.Verify(tok)
	if err != nil || sess == nil {
		return nil, &hub.Error{Code: hub.CodeInvalidToken, Message: "Invalid token"}
	}
	return sess, nil
}

// fail writes err as a JSON error and logs the internal ones.
func (h *handler) fail(c *call, err error) {
	ce := clientError(err)
	status := StatusOf(ce.Code)
	if status >= 500 {
		h.log.Warn("request failed", zap.String("hub", c.hubName), zap.String("method", c.r.Method),
			zap.String("path", c.r.URL.Path), zap.String("code", ce.Code), zap.Error(err))
	}
	if ce.Code == hub.CodeAuthRequired || ce.Code == hub.CodeInvalidToken {
		c.w.Header().Set("WWW-Authenticate", `Bearer realm="hubd"`)
	}
	writeError(c.w, status, ce)
}
