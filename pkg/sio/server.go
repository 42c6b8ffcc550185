package sio

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/deadline"
)

// Server is a Socket.IO v4 server. Mount it at Options.Path.
type Server struct {
	opts   Options
	engine *Engine
	log    *zap.Logger
	lim    Limits

	mu       sync.RWMutex
	nsps     map[string]*Namespace
	resolver func(name string) *Namespace

	// names interns the namespace and event names of the clients' packets.
	names interner

	sockets atomic.Int64
	// connects holds each client's deadline for its first CONNECT
	// (Options.ConnectTimeout).
	connects *deadline.Queue[client]
}

var _ EngineHandler = (*Server)(nil)
var _ http.Handler = (*Server)(nil)

// NewServer returns a Server with opts (defaults applied).
func NewServer(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{
		opts: opts,
		log:  opts.Logger.Named("sio"),
		lim:  Limits{MaxDepth: opts.MaxDepth, MaxAttachments: opts.MaxAttachments},
		nsps: make(map[string]*Namespace),
	}
	s.connects = deadline.New(func(cl *client) *deadline.Slot { return &cl.connectBy }, (*client).connectTimedOut)
	s.engine = NewEngine(opts, s)
	return s
}

// ServeHTTP serves Engine.IO requests.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

func normNsp(name string) string {
	if !strings.HasPrefix(name, "/") {
		return "/" + name
	}
	return name
}

// Of returns the static namespace name, creating it on first use.
func (s *Server) Of(name string) *Namespace {
	name = normNsp(name)
	s.mu.Lock()
	defer s.mu.Unlock()
	ns, ok := s.nsps[name]
	if !ok {
		ns = NewNamespace(name)
		s.nsps[name] = ns
		s.attach(ns)
	}
	return ns
}

// Attach ties a namespace made with NewNamespace to the server's Adapter,
// so its broadcasts reach the other nodes and theirs reach its sockets. A
// namespace returned by the resolver is attached when a client first
// connects to it; Attach it right away when it may broadcast before that.
// Attaching twice is a no-op.
func (s *Server) Attach(ns *Namespace) error {
	ns.stats.CompareAndSwap(nil, s.engine.stats)
	return ns.attach(s.opts.Adapter)
}

// Detach stops a namespace's cross-node broadcasts (a removed hub). Its
// local broadcasts keep working.
func (s *Server) Detach(ns *Namespace) { ns.detach() }

// attach is Attach for internal callers, which log instead of failing.
func (s *Server) attach(ns *Namespace) {
	if err := s.Attach(ns); err != nil {
		s.log.Warn("attach namespace to adapter", zap.String("namespace", ns.Name()), zap.Error(err))
	}
}

// NodeID is the Adapter's id of this node.
func (s *Server) NodeID() string { return s.opts.Adapter.NodeID() }

// SetNamespaceResolver is consulted for a CONNECT to a name that is not
// static; returning nil => CONNECT_ERROR {"message":"Invalid namespace"}.
// The same *Namespace may be returned for several names; its rooms are
// shared and packets to a socket carry the name the client used.
func (s *Server) SetNamespaceResolver(fn func(name string) *Namespace) {
	s.mu.Lock()
	s.resolver = fn
	s.mu.Unlock()
}

func (s *Server) lookup(name string) *Namespace {
	s.mu.RLock()
	ns, ok := s.nsps[name]
	fn := s.resolver
	s.mu.RUnlock()
	if ok {
		return ns
	}
	if fn != nil {
		if ns := fn(name); ns != nil {
			if ns.bound.Load() == nil {
				s.attach(ns)
			}
			return ns
		}
	}
	return nil
}

// ConnCount is the number of open Engine.IO connections.
func (s *Server) ConnCount() int { return s.engine.ConnCount() }

// SetAllowedOrigins replaces Options.AllowedOrigins for the requests that
// follow.
func (s *Server) SetAllowedOrigins(origins []string) { s.engine.SetAllowedOrigins(origins) }

// Stats returns a snapshot of the counters.
func (s *Server) Stats() Stats {
	c := s.engine.stats
	return Stats{
		Connections:             s.engine.ConnCount(),
		ConnectionsTotal:        c.connsTotal.Load(),
		Sockets:                 int(s.sockets.Load()),
		PacketsIn:               c.packetsIn.Load(),
		PacketsOut:              c.packetsOut.Load(),
		BytesIn:                 c.bytesIn.Load(),
		BytesOut:                c.bytesOut.Load(),
		Writes:                  c.writes.Load(),
		SlowConsumerDisconnects: c.slowConsumers.Load(),
		ParseErrors:             c.parseErrors.Load(),
		OversizeEvents:          c.oversizeEvents.Load(),
		Broadcasts:              c.broadcasts.Load(),
		RemoteBroadcasts:        c.remoteBroadcasts.Load(),
		AdapterErrors:           c.adapterErrors.Load(),
	}
}

// Close disconnects every socket with reason "server shutting down",
// flushes and closes the connections, and waits for them until ctx ends.
// Each socket is sent a namespace DISCONNECT first: clients take it as
// "io server disconnect" and do not reconnect by themselves.
func (s *Server) Close(ctx context.Context) error { return s.close(ctx, true) }

// Shutdown is Close without the namespace DISCONNECT packets: the sockets
// end with reason "server shutting down" on this side, and clients see
// only a lost connection, so socket.io-client and python-socketio
// reconnect by themselves (to another node behind a load balancer, or to
// this address once a new process listens). A WebSocket gets a close
// frame; a polling client gets a noop instead of the Engine.IO close
// packet (after which python-socketio would not reconnect), then finds its
// session gone.
func (s *Server) Shutdown(ctx context.Context) error { return s.close(ctx, false) }

func (s *Server) close(ctx context.Context, sendDisconnect bool) error {
	s.engine.mu.Lock()
	s.engine.closing.Store(true)
	conns := make([]*EngineConn, 0, len(s.engine.conns))
	for _, c := range s.engine.conns {
		conns = append(conns, c)
	}
	s.engine.mu.Unlock()
	for _, c := range conns {
		c.quiet.Store(!sendDisconnect)
		if cl, ok := c.Data.(*client); ok {
			cl.disconnectAll("server shutting down", sendDisconnect)
		}
	}
	s.connects.Close() // every connection ends here: none is refused for want of a CONNECT
	if err := s.engine.Close(ctx); err != nil {
		return errors.Join(ErrServerClosed, err)
	}
	return nil
}

// OnOpen implements EngineHandler.
func (s *Server) OnOpen(c *EngineConn) {
	cl := &client{s: s, conn: c}
	c.Data = cl
	s.connects.After(cl, s.opts.ConnectTimeout)
}

// connectTimedOut refuses a connection that opened no namespace within
// Options.ConnectTimeout; it runs on the connects queue's goroutine.
func (cl *client) connectTimedOut() {
	cl.mu.Lock()
	n := len(cl.sockets)
	cl.mu.Unlock()
	if n == 0 {
		// Off the queue's goroutine: closing runs the handlers.
		cl.s.engine.wg.Go(func() { cl.conn.refuse(RefuseConnectTimeout, nil) })
	}
}

// OnMessage implements EngineHandler.
func (s *Server) OnMessage(c *EngineConn, data []byte, binaryData bool) error {
	cl := c.Data.(*client)
	if err := cl.handle(data, binaryData); err != nil {
		if refusalOf(err) == RefuseParseError {
			s.engine.stats.parseErrors.Add(1)
		}
		return err
	}
	return nil
}

// OnClose implements EngineHandler.
func (s *Server) OnClose(c *EngineConn, reason string) {
	cl, ok := c.Data.(*client)
	if !ok {
		return
	}
	cl.stopConnectTimer()
	cl.stopBinaryTimer()
	cl.disconnectAll(reason, false)
}

// client is the Socket.IO state of one Engine.IO connection.
type client struct {
	s    *Server
	conn *EngineConn
	// connectBy is the client's place in s.connects until its first
	// CONNECT or its end.
	connectBy deadline.Slot

	mu sync.Mutex
	// sockets by the namespace name the client used (Socket.nsp): a short
	// list, at most Options.MaxNamespaces (a map cost a connection with one
	// namespace 256 bytes, the list 8)
	sockets []*Socket
	closed  bool // the connection ended; no new sockets

	// Binary packet being reassembled; read path only.
	pending *pendingBinary
	// binTimer closes the connection when the pending packet's attachments
	// take too long (guarded by mu).
	binTimer *time.Timer
}

// socket returns the socket of the namespace name nsp, or nil; cl.mu held.
func (cl *client) socket(nsp string) *Socket {
	for _, s := range cl.sockets {
		if s.nsp == nsp {
			return s
		}
	}
	return nil
}

// stopConnectTimer takes the client's connect deadline off s.connects.
func (cl *client) stopConnectTimer() { cl.s.connects.Stop(cl) }

// eventCap returns the socket for nsp and its namespace's event size cap,
// or nil when there is no socket or no cap.
func (cl *client) eventCap(nsp string) (*Socket, *eventCap) {
	cl.mu.Lock()
	sock := cl.socket(nsp)
	cl.mu.Unlock()
	if sock == nil {
		return nil, nil
	}
	c := sock.ns.eventCap.Load()
	if c == nil || c.limit <= 0 {
		return nil, nil
	}
	return sock, c
}

// oversize reports an event over the namespace cap; the connection stays open.
func (cl *client) oversize(sock *Socket, c *eventCap, p *Packet, size int) {
	cl.s.engine.stats.oversizeEvents.Add(1)
	cl.s.opts.OnRefuse(RefuseEventTooLarge)
	if c.onOversize != nil {
		c.onOversize(sock, &Event{Name: peekEventName(p.Data), sock: sock, id: p.ID}, size)
	}
}

// peekEventName returns the event name at the start of an unparsed event
// payload when it is a plain JSON string (no escapes) of at most 128 bytes,
// else "". It does not validate the rest of the payload.
func peekEventName(d []byte) string {
	i := 0
	for i < len(d) && isSpace(d[i]) {
		i++
	}
	if i >= len(d) || d[i] != '[' {
		return ""
	}
	i++
	for i < len(d) && isSpace(d[i]) {
		i++
	}
	if i >= len(d) || d[i] != '"' {
		return ""
	}
	i++
	for j := i; j < len(d) && j-i <= 128; j++ {
		switch c := d[j]; {
		case c == '"':
			if !utf8.Valid(d[i:j]) {
				return ""
			}
			return string(d[i:j])
		case c == '\\' || c < 0x20:
			return ""
		}
	}
	return ""
}

func (cl *client) dispatch(p *Packet, args []json.RawMessage, bufs [][]byte) error {
	if p.Type == pConnect {
		cl.connect(p)
		return nil
	}
	cl.mu.Lock()
	sock := cl.socket(p.Nsp)
	cl.mu.Unlock()
	if sock == nil {
		// Not connected to that namespace: ignored, as the reference does.
		return nil
	}
	switch p.Type {
	case pDisconnect:
		sock.close("client namespace disconnect", false)
	case pEvent, pBinaryEvent:
		name, ok := cl.s.eventName(args[0])
		if !ok {
			// Its own variable: one whose address Unmarshal takes lives on
			// the heap, for every event if it were name.
			var decoded string
			if err := json.Unmarshal(args[0], &decoded); err != nil {
				return sioErr("event name must be a string")
			}
			name = decoded
		}
		ev := &Event{Name: name, Args: args[1:], Attachments: bufs, sock: sock, id: p.ID}
		if h, ok := handler(&sock.ns.onEvent); ok && h != nil {
			h(sock, ev)
		}
	case pAck, pBinaryAck:
		sock.onAck(p.ID, args, bufs)
	}
	return nil
}

// eventName decodes a JSON string without escapes or control characters
// (every usual event name) without going through encoding/json, interned;
// ok is false for anything else, which the caller then decodes in full.
func (s *Server) eventName(b []byte) (string, bool) {
	if !isPlainString(b) {
		return "", false
	}
	return s.names.str(b[1 : len(b)-1]), true
}

// isPlainString reports whether b is a JSON string without escapes or
// control characters.
func isPlainString(b []byte) bool {
	n := len(b)
	if n < 2 || b[0] != '"' || b[n-1] != '"' {
		return false
	}
	for _, c := range b[1 : n-1] {
		if c == '"' || c == '\\' || c < 0x20 {
			return false
		}
	}
	return utf8.Valid(b[1 : n-1])
}

type invalidNamespaceError struct{}

func (invalidNamespaceError) Error() string { return "Invalid namespace" }

func (cl *client) connect(p *Packet) {
	cl.mu.Lock()
	dup := cl.socket(p.Nsp) != nil
	full := len(cl.sockets) >= cl.s.opts.MaxNamespaces
	cl.mu.Unlock()
	if dup {
		return
	}
	if full {
		cl.tooManyNamespaces(p.Nsp)
		return
	}
	ns := cl.s.lookup(p.Nsp)
	if ns == nil {
		cl.connectError(p.Nsp, invalidNamespaceError{})
		return
	}
	sock := &Socket{
		id:     newID(),
		nsp:    p.Nsp,
		ns:     ns,
		client: cl,
		done:   make(chan struct{}),
	}
	var auth json.RawMessage
	if len(p.Data) > 0 {
		auth = json.RawMessage(p.Data)
	}
	if h, ok := handler(&ns.onConnect); ok && h != nil {
		if err := h(sock, auth); err != nil {
			cl.connectError(p.Nsp, err)
			return
		}
	}
	// Registration happens under cl.mu so that a concurrent close of the
	// connection (disconnectAll) either sees the socket or refuses it.
	cl.mu.Lock()
	if cl.closed {
		cl.mu.Unlock()
		return
	}
	if len(cl.sockets) >= cl.s.opts.MaxNamespaces {
		cl.mu.Unlock()
		cl.tooManyNamespaces(p.Nsp)
		return
	}
	if sock.pid == "" && ns.rec.on.Load() {
		sock.pid = newID()
	}
	cl.sockets = append(cl.sockets, sock)
	cl.conn.admitted.Store(true)
	sock.connected.Store(true)
	cl.s.sockets.Add(1)
	ns.add(sock, cl.s.engine.stats)
	cl.mu.Unlock()
	cl.stopConnectTimer()
	if err := cl.conn.sendNow(controlPacket(pConnect, p.Nsp, connectReply(sock))); err != nil {
		return
	}
	if h, ok := handler(&ns.onConnection); ok && h != nil {
		h(sock)
	}
}

type tooManyNamespacesError struct{}

func (tooManyNamespacesError) Error() string { return "Too many namespaces" }

// tooManyNamespaces refuses a CONNECT past Options.MaxNamespaces; the
// connection and its other namespaces stay.
func (cl *client) tooManyNamespaces(nsp string) {
	cl.s.opts.OnRefuse(RefuseTooManyNamespaces)
	cl.connectError(nsp, tooManyNamespacesError{})
}

func (cl *client) connectError(nsp string, err error) {
	body := struct {
		Message string `json:"message"`
		Data    any    `json:"data,omitempty"`
	}{Message: err.Error()}
	var ed interface{ ErrorData() any }
	if errors.As(err, &ed) {
		body.Data = ed.ErrorData()
	}
	b, mErr := json.Marshal(body)
	if mErr != nil {
		b, _ = json.Marshal(struct {
			Message string `json:"message"`
		}{err.Error()})
	}
	_ = cl.conn.enqueue(&outbound{frames: []*frame{controlPacket(pConnectError, nsp, b)}})
}

func (cl *client) remove(sock *Socket) {
	cl.mu.Lock()
	if i := slices.Index(cl.sockets, sock); i >= 0 {
		cl.sockets = slices.Delete(cl.sockets, i, i+1)
	}
	cl.mu.Unlock()
}

func (cl *client) disconnectAll(reason string, sendPacket bool) {
	cl.mu.Lock()
	cl.closed = true
	socks := slices.Clone(cl.sockets)
	cl.mu.Unlock()
	for _, s := range socks {
		s.close(reason, sendPacket)
	}
}
