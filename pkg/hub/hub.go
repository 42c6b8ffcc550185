// Package hub runs one RealtimeHub: it serves the hub's Socket.IO namespace,
// authorizes joins, validates, persists and broadcasts messages, and keeps
// the live room state that survives spec reloads.
package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/deadline"
	"github.com/hubd/hubd/pkg/lease"
	"github.com/hubd/hubd/pkg/metrics"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/presence"
	"github.com/hubd/hubd/pkg/ratelimit"
	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/resume"
	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/sio"
	"github.com/hubd/hubd/pkg/spec"
	"github.com/hubd/hubd/pkg/timerwheel"
)

// TokenVerifier turns a handshake token into a session (*authz.Verifier,
// or one whose keys a reload replaces).
type TokenVerifier interface {
	Verify(token string) (*authz.Session, error)
}

var _ TokenVerifier = (*authz.Verifier)(nil)

// Deps are the shared services a hub uses.
type Deps struct {
	Store    msgstore.Store
	Records  records.Source
	Verifier TokenVerifier
	Metrics  *metrics.Metrics
	Logger   *zap.Logger
	// Wheel runs the scheduled actions of every hub; nil disables them.
	Wheel *timerwheel.Wheel
	// Presence is the cluster-wide record of room members, for presence
	// lists and events and the room and per-user limits across nodes; nil:
	// this node's own members only.
	Presence presence.Registry
	// Leases picks the one node that runs a room's scheduled actions when
	// the room has members on several nodes; nil: this node runs them.
	Leases lease.Leaser
	// DataEvents receives committed message changes (nil: none).
	DataEvents DataEvents
	// Cache holds authorization decisions for authCacheTTL; nil disables.
	Cache authz.Cache
	// Sessions resolves a verified token to its session (claims, a Redis
	// session record, or an introspection endpoint); nil means the claims.
	Sessions SessionResolver
	// Limiter enforces the rate guardrails; nil means the node-local one.
	// A shared (Redis) limiter makes limits hold across nodes.
	Limiter ratelimit.Limiter
	// OpTimeout bounds one client operation (authorization, store write).
	OpTimeout time.Duration
	// Resume keeps the records of resumable sessions; with
	// MaxDisconnection > 0 it turns connection state recovery on.
	Resume           resume.Store
	MaxDisconnection time.Duration
	// Node names this node in session records; it must keep a liveness
	// stamp in Resume (resume.Liveness) while it runs.
	Node string
}

// SessionResolver turns a verified token into the session scripts and
// authorization see (the authz resolvers implement it).
type SessionResolver interface {
	Resolve(ctx context.Context, token string, claims *authz.Session) (*authz.Session, error)
}

// Definition is the compiled, immutable form of a hub spec. Reloads build a
// new Definition and swap it into the running Hub.
type Definition struct {
	Spec    *spec.Hub
	Policy  *authz.Policy
	Scripts *scripting.Engine
	state   *scripting.Program
	logic   *compiledLogic
}

// NewDefinition compiles every script of h that the hub runs.
func NewDefinition(h *spec.Hub, eng *scripting.Engine) (*Definition, error) {
	pol, err := authz.Compile(h)
	if err != nil {
		return nil, err
	}
	d := &Definition{Spec: h, Policy: pol, Scripts: eng}
	if h.HubLogic.StateScript != "" {
		if d.state, err = scripting.Compile(string(h.HubLogic.StateScript)); err != nil {
			return nil, fmt.Errorf("hubLogic.stateScript: %w", err)
		}
		d.state.Name = ScriptKindState
	}
	if d.logic, err = compileLogic(&h.HubLogic); err != nil {
		return nil, err
	}
	return d, nil
}

// Hub is a running hub.
type Hub struct {
	name string
	def  atomic.Pointer[Definition]
	// presenceLog is when a presence registry failure was last logged (unix ns).
	presenceLog atomic.Int64
	// presenceMu are the stripes of presenceLock.
	presenceMu [64]sync.Mutex
	deps       Deps
	ns         *sio.Namespace
	log        *zap.Logger
	auth       *authz.Authorizer
	// logic holds the handler queues and scheduled actions (logic.go).
	logic logicState
	owner ownerState
	// takeovers are the claims waiting for another node to end a resumed
	// session's old socket (recovery_takeover.go).
	takeovers takeoverWaits
	// localLimiter stands in when the configured limiter fails.
	localLimiter *ratelimit.Local
	// hot is reused by every client event (hotpath.go).
	hot hotPath

	mu        sync.Mutex
	rooms     map[string]*room
	userRooms map[string]int         // userID -> number of rooms joined
	offline   map[string]*time.Timer // pending hub:offline by presenceKey
	closed    bool
	// tasks are the hub's background goroutines; Close waits for them.
	tasks *tasks
	// expiries are the token expiry deadlines of the sockets (session.go).
	expiries *deadline.Queue[client]
}

// New starts a hub for def. The namespace is named /hub/<name>; aliases
// with a prefix are routed to it by the server.
func New(def *Definition, deps Deps) *Hub {
	if deps.OpTimeout <= 0 {
		deps.OpTimeout = 5 * time.Second
	}
	if deps.Logger == nil {
		deps.Logger = zap.NewNop()
	}
	name := def.Spec.Name()
	local := ratelimit.NewLocal()
	if deps.Limiter == nil {
		deps.Limiter = local
	}
	h := &Hub{
		localLimiter: local,
		name:         name,
		deps:         deps,
		ns:           sio.NewNamespace("/hub/" + name),
		log:          deps.Logger.Named("hub").With(zap.String("hub", name)),
		rooms:        make(map[string]*room),
		userRooms:    make(map[string]int),
		offline:      make(map[string]*time.Timer),
	}
	h.def.Store(def)
	h.auth = &authz.Authorizer{Records: deps.Records, Scripts: def.Scripts}
	h.applyGuardrails(def)
	h.ns.SetRecovery(h.recoveryOn())
	h.tasks = newTasks()
	h.expiries = deadline.New(func(c *client) *deadline.Slot { return &c.expiry }, h.tokenDeadline)
	h.spawn(func(ctx context.Context) { h.idleLoop(ctx.Done()) })
	h.ns.OnConnect(h.onConnect)
	h.ns.OnConnection(h.onConnection)
	h.ns.OnEvent(h.onEvent)
	h.ns.OnDisconnect(h.onDisconnect)
	h.ns.OnServerSideEvent(h.onServerSideEvent)
	return h
}

// Name returns the hub name.
func (h *Hub) Name() string { return h.name }

// Namespace returns the hub's Socket.IO namespace.
func (h *Hub) Namespace() *sio.Namespace { return h.ns }

// Definition returns the active definition.
func (h *Hub) Definition() *Definition { return h.def.Load() }

// Update swaps in a new definition; live rooms and sockets are kept.
// Members keep the permissions they joined with until they rejoin.
func (h *Hub) Update(def *Definition) {
	h.def.Store(def)
	h.applyGuardrails(def)
	h.mu.Lock()
	h.auth = &authz.Authorizer{Records: h.deps.Records, Scripts: def.Scripts}
	h.mu.Unlock()
}

// Close disconnects every socket of the hub (the hub was removed) and
// ends its background work, waiting for it: once Close returns, nothing
// of the hub uses the store or the other backends any more.
func (h *Hub) Close(reason string) {
	h.mu.Lock()
	h.closed = true
	h.mu.Unlock()
	h.ns.DisconnectAll(reason)
	h.expiries.Close()
	h.stopTasks()
}

func (h *Hub) authorizer() *authz.Authorizer {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.auth
}

// client is the per-socket state.
type client struct {
	mu     sync.Mutex
	sock   *sio.Socket
	sess   *authz.Session // replaced by hub:refreshToken
	rooms  joinedRooms    // joined rooms of this socket
	expiry deadline.Slot  // ends the session when its token expires (Hub.expiries)

	// Connection state recovery: owner names this socket's hold on its
	// session record; restoredAt (Unix ms, by room) the join times of the
	// rooms a recovered session brings back; restore is the session to
	// bring back once connected.
	owner      string
	restoredAt map[string]int64
	restore    *pendingRestore
	// wlog is what the socket was written; restoring holds live messages
	// back while rooms are replayed (recovery.go).
	wlog      writeLog
	restoring atomic.Pointer[gates]
}

func clientOf(s *sio.Socket) *client {
	c, _ := s.Data().(*client)
	return c
}

func (h *Hub) onConnect(s *sio.Socket, auth json.RawMessage) error {
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		return &connectError{msg: "Invalid namespace", code: CodeNotFound}
	}
	tok := authz.TokenFromAuth(auth)
	if tok == "" {
		// The handshake's headers and query, rebuilt only when needed.
		tok = authz.TokenFromHTTP(s.Request())
	}
	if tok == "" {
		h.countConnectError("auth_required")
		return &connectError{msg: "Authentication required", code: CodeAuthRequired}
	}
	resume := h.recoveryOn() && claimsResume(auth)
	ctx, cancel := h.connectContext(resume)
	defer cancel()
	sess, err := h.resolveSession(ctx, tok)
	if err != nil {
		ce := asClientError(err)
		h.countConnectError(strings.ToLower(ce.Code))
		// Why, for operators (log.level debug); never the token itself.
		h.log.Debug("connect refused", zap.String("code", ce.Code), zap.Error(err))
		if ce.Code == CodeUnavailable {
			return &connectError{msg: "Session backend unavailable", code: CodeUnavailable}
		}
		return &connectError{msg: "Invalid token", code: CodeInvalidToken}
	}
	// The expiry timer starts once the socket is connected (onConnection),
	// so that its warning cannot be lost on a socket not yet connected.
	c := &client{sock: s, sess: sess}
	h.claimSession(ctx, s, c, auth, resume)
	if h.recoveryOn() {
		s.SetOffsetGate(c.offsetGate)
	}
	s.SetData(c)
	if m := h.deps.Metrics; m != nil {
		m.SocketConnections.WithLabelValues(h.name).Inc()
	}
	return nil
}

// connectContext bounds the backend calls of a CONNECT. One that makes
// none (no session resolver, no session to resume) gets no timer.
func (h *Hub) connectContext(resume bool) (context.Context, context.CancelFunc) {
	if h.deps.Sessions == nil && !resume {
		return context.Background(), func() {}
	}
	return context.WithTimeout(context.Background(), h.deps.OpTimeout)
}

// onConnection runs once the client has its CONNECT reply.
func (h *Hub) onConnection(s *sio.Socket) {
	c := clientOf(s)
	if c == nil {
		return
	}
	c.mu.Lock()
	h.armExpiry(c)
	p := c.restore
	c.restore = nil
	c.mu.Unlock()
	if p != nil {
		h.restore(s, c, p)
	}
}

func (h *Hub) countConnectError(reason string) {
	if m := h.deps.Metrics; m != nil {
		m.ConnectErrorsTotal.WithLabelValues(h.name, reason).Inc()
	}
}

func (h *Hub) onDisconnect(s *sio.Socket, reason string) {
	c := clientOf(s)
	if c == nil {
		return
	}
	if m := h.deps.Metrics; m != nil {
		m.SocketConnections.WithLabelValues(h.name).Dec()
	}
	h.sessionEnded(s, c, reason)
	c.mu.Lock()
	h.expiries.Stop(c)
	ids := make([]string, 0, len(c.rooms))
	for _, jr := range c.rooms {
		ids = append(ids, jr.id)
	}
	c.mu.Unlock()
	for _, id := range ids {
		h.leave(s, c, id, false)
	}
}

// call is one client event being handled.
type call struct {
	s *sio.Socket
	c *client
	// payload is the event's first argument: valid JSON or empty, as
	// sio.Event.Args guarantees, so the decoders do not check it again.
	payload json.RawMessage
	// actor is the member's actor, admitted by dispatch for an event of a
	// room: act, held in the call instead of an allocation of its own.
	actor *Actor
	act   Actor
	after func() // runs after the ack is written
	// send is a hub:send payload decoded whole by the dispatcher (sendRoomID)
	// when decoded is set, so that handleSend does not walk it again;
	// sendErr is that decode's error when it failed.
	send    sendRequest
	decoded bool
	sendErr error
	// sent is the message a hub:send stored: onEvent writes its ack from
	// it (appendSendAck), straight into the ack packet, instead of from a
	// result map.
	sent *msgstore.Message
}

func (h *Hub) onEvent(s *sio.Socket, ev *sio.Event) {
	c := clientOf(s)
	if c == nil {
		return
	}
	start := time.Now()
	name := ev.Name
	metricName := name
	entry := InboundEvent(name)
	if entry == nil {
		metricName = "unknown"
	}
	var series *eventSeries
	if m := h.deps.Metrics; m != nil {
		series = h.hot.eventSeries(m, h.name, metricName)
		series.total.Inc()
	}
	var payload json.RawMessage
	if len(ev.Args) > 0 {
		payload = ev.Args[0]
	}
	var (
		res map[string]any
		err error
		in  *call
	)
	if entry != nil {
		in = &call{s: s, c: c, payload: payload}
		res, err = h.dispatch(h.hot.ctxs.get(start, h.deps.OpTimeout), entry, in)
		if err == nil && in.after != nil {
			defer in.after()
		}
	} else {
		err = errorf(CodeUnknownEvent, "unknown event %q", name)
	}
	if series != nil {
		series.duration.Observe(time.Since(start).Seconds())
	}
	if err != nil {
		h.fail(s, ev, metricName, payload, err)
		return
	}
	if !ev.HasAck() {
		return
	}
	if in != nil && in.sent != nil {
		m := in.sent
		// Written straight into the ack packet: nothing to fail.
		_ = ev.AckJSON(arrivedSize(m)+32, func(b []byte) []byte { return appendSendAck(b, m) })
		return
	}
	ack, err := appendAck(make([]byte, 0, ackSize(res)), res)
	if err != nil {
		h.fail(s, ev, metricName, payload, wrapError(CodeInternal, "reply could not be encoded", err))
		return
	}
	_ = ev.Ack(json.RawMessage(ack))
}

// fail acks the error (when an ack was asked for) and emits hub:error.
func (h *Hub) fail(s *sio.Socket, ev *sio.Event, metricName string, payload json.RawMessage, err error) {
	ce := asClientError(err)
	if ce.Code == CodeInternal || ce.Code == CodeUnavailable {
		h.log.Warn("event failed", zap.String("event", ev.Name), zap.String("code", ce.Code), zap.Error(err))
	} else {
		h.log.Debug("event rejected", zap.String("event", ev.Name), zap.String("code", ce.Code), zap.Error(err))
	}
	if m := h.deps.Metrics; m != nil {
		m.EventErrorsTotal.WithLabelValues(h.name, metricName, ce.Code).Inc()
	}
	// hub:error goes out before the ack, so that a client has seen it by
	// the time its ack callback runs.
	h.emitSocket(s, errorEvent(ce, ev.Name, roomIDOf(payload)))
	if ev.HasAck() {
		_ = ev.Ack(map[string]any{"ok": false, "error": ce})
	}
}

func roomIDOf(payload json.RawMessage) string {
	var p struct {
		RoomID any `json:"roomId"`
	}
	if json.Unmarshal(payload, &p) != nil {
		return ""
	}
	if s, ok := p.RoomID.(string); ok {
		return s
	}
	return ""
}

// decode parses an event payload into v; a payload that is not a JSON
// object is a BAD_REQUEST.
func decode(payload json.RawMessage, v any) error {
	if len(payload) == 0 || payload[0] != '{' {
		return newError(CodeBadRequest, "payload must be an object")
	}
	if err := json.Unmarshal(payload, v); err != nil {
		return wrapError(CodeBadRequest, "malformed payload", err)
	}
	return nil
}

// session returns the socket's current session.
func (c *client) session() *authz.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}
