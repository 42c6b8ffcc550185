package sio

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/deadline"
	"github.com/hubd/hubd/pkg/origins"
)

// EngineHandler receives the messages of Engine.IO connections. Server
// implements it for Socket.IO; tests may plug a plain echo handler.
// Calls for one connection are never concurrent.
type EngineHandler interface {
	OnOpen(c *EngineConn)
	// OnMessage gets a message packet. A returned error closes the
	// connection with reason "parse error". data is the handler's to keep:
	// every transport hands over a buffer of the packet's own, which the
	// engine neither reads nor writes afterwards.
	OnMessage(c *EngineConn, data []byte, binary bool) error
	OnClose(c *EngineConn, reason string)
}

// Engine serves Engine.IO 4 over HTTP long-polling and WebSocket.
type Engine struct {
	opts    Options
	origins *origins.Policy // AllowedOrigins, replaced by SetAllowedOrigins
	h       EngineHandler
	log     *zap.Logger
	up      websocket.Upgrader
	stats   *counters
	closing atomic.Bool

	mu    sync.RWMutex
	conns map[string]*EngineConn
	// closedByClient remembers, briefly, polling sessions the client closed
	// with a "1" packet: a GET racing that POST gets a noop, not an error.
	closedByClient map[string]struct{}

	wg      sync.WaitGroup
	writers atomic.Int64                // running WebSocket writer goroutines
	pacer   *pacer                      // coalescing ticks shared by all writers
	hb      *deadline.Queue[EngineConn] // every connection's next ping or pong deadline (heartbeat.go)
	epoch   time.Time                   // the heartbeat's clock starts here
	pollers pollerSet                   // readers on the network poller (netpoll.go)
	linger  *pacer                      // ticks at which parked dispatchers with nothing to do exit
	// idleDispatchers: dispatcher goroutines without a connection wait
	// here for one (dispatchers.go); stopped ends their wait.
	idleDispatchers chan *EngineConn
	stopped         chan struct{}
	stopOnce        sync.Once
	// liveWriters: the WebSocket writer goroutines, told of the linger
	// ticks at which the idle ones exit.
	liveWriters *writerSet
}

// writerLinger is the interval of the linger ticks: an idle WebSocket
// writer goroutine exits at the first tick that finds its queue empty and
// nothing written since the tick before, so it stays parked at most two
// intervals.
const writerLinger = 100 * time.Millisecond

// wsReadBufferSize is the per-connection read buffer of an established
// WebSocket: room for a typical event, small for idle connections.
const wsReadBufferSize = 512

// Engine.IO error codes, as the protocol defines them.
const (
	codeTransportUnknown   = 0
	codeUnknownSID         = 1
	codeBadHandshakeMethod = 2
	codeBadRequest         = 3
	codeForbidden          = 4
	codeUnsupportedVersion = 5
)

var codeMessages = [...]string{
	"Transport unknown",
	"Session ID unknown",
	"Bad handshake method",
	"Bad request",
	"Forbidden",
	"Unsupported protocol version",
}

// NewEngine returns an Engine.IO server delivering messages to h.
func NewEngine(opts Options, h EngineHandler) *Engine {
	opts = opts.withDefaults()
	e := &Engine{
		opts:  opts,
		h:     h,
		log:   opts.Logger.Named("engineio"),
		stats: &counters{},
		conns: make(map[string]*EngineConn),

		closedByClient: make(map[string]struct{}),
		pacer:          &pacer{interval: opts.WriteDelay},
		linger:         &pacer{interval: writerLinger},
		liveWriters:    &writerSet{interval: writerLinger},
		epoch:          time.Now(),

		idleDispatchers: make(chan *EngineConn),
		stopped:         make(chan struct{}),
	}
	e.hb = deadline.New(func(c *EngineConn) *deadline.Slot { return &c.hb }, (*EngineConn).heartbeat)
	e.origins = opts.Origins
	if e.origins == nil {
		e.origins = origins.New(opts.AllowedOrigins)
	}
	e.up = websocket.Upgrader{
		// Frames are read through a small buffer (larger messages are
		// read straight into their destination), and gorilla's own
		// writer is never used (frames are written to the net.Conn), so
		// its write buffer comes from a pool and is never allocated.
		// Neither keeps the HTTP server's 4 KB reader after the hijack.
		ReadBufferSize:    wsReadBufferSize,
		WriteBufferPool:   &sync.Pool{},
		CheckOrigin:       func(r *http.Request) bool { return e.originAllowed(r.Header.Get("Origin")) },
		EnableCompression: opts.PerMessageDeflate,
	}
	return e
}

// SetAllowedOrigins replaces Options.AllowedOrigins for the requests that
// follow (open connections keep going).
func (e *Engine) SetAllowedOrigins(list []string) { e.origins.Set(list) }

// ConnCount is the number of open Engine.IO connections.
func (e *Engine) ConnCount() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return len(e.conns)
}

func (e *Engine) originAllowed(origin string) bool { return e.origins.Allowed(origin) }

func (e *Engine) writeError(w http.ResponseWriter, status, code int) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, codeMessages[code]})
	_, _ = w.Write(b)
}

// setCORS answers a browser request from an allowed origin
// (origins.Policy.WriteHeaders: tokens travel in the handshake, not in
// cookies).
func (e *Engine) setCORS(w http.ResponseWriter, r *http.Request) {
	e.origins.WriteHeaders(w.Header(), r.Header.Get("Origin"))
}

// ServeHTTP handles every Engine.IO request under Options.Path.
func (e *Engine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	if p != e.opts.Path && p != strings.TrimSuffix(e.opts.Path, "/") {
		http.NotFound(w, r)
		return
	}
	origins.Vary(w.Header())
	if !e.originAllowed(r.Header.Get("Origin")) {
		e.opts.OnRefuse(RefuseOrigin)
		e.writeError(w, http.StatusForbidden, codeForbidden)
		return
	}
	if r.Method == http.MethodOptions {
		e.setCORS(w, r)
		h := w.Header()
		h.Set("Access-Control-Allow-Methods", "GET, POST")
		if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
			h.Set("Access-Control-Allow-Headers", rh)
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	e.setCORS(w, r)
	q := parseEngineQuery(r.URL.RawQuery)
	transport := q.transport
	if transport != "polling" && transport != "websocket" {
		e.writeError(w, http.StatusBadRequest, codeTransportUnknown)
		return
	}
	if q.eio != "4" {
		e.writeError(w, http.StatusBadRequest, codeUnsupportedVersion)
		return
	}
	sid := q.sid
	if sid == "" {
		if transport == "websocket" {
			e.handshakeWebSocket(w, r)
			return
		}
		if r.Method != http.MethodGet {
			e.writeError(w, http.StatusBadRequest, codeBadHandshakeMethod)
			return
		}
		e.handshakePolling(w, r)
		return
	}
	c := e.lookup(sid)
	if c == nil {
		if transport == "polling" && r.Method == http.MethodGet && e.takeClosedByClient(sid) {
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			_, _ = w.Write([]byte("6"))
			return
		}
		e.writeError(w, http.StatusBadRequest, codeUnknownSID)
		return
	}
	if c.expired() {
		c.Close("ping timeout")
		e.writeError(w, http.StatusBadRequest, codeUnknownSID)
		return
	}
	if transport == "websocket" {
		e.upgrade(w, r, c)
		return
	}
	if c.Transport() != "polling" {
		e.writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	switch r.Method {
	case http.MethodGet:
		c.poll(w, r)
	case http.MethodPost:
		c.post(w, r)
	default:
		e.writeError(w, http.StatusBadRequest, codeBadRequest)
	}
}

func (e *Engine) lookup(sid string) *EngineConn {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.conns[sid]
}

// newID returns 15 random bytes as 20 base64url characters.
func newID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func (e *Engine) newConn(r *http.Request, transport string) *EngineConn {
	c := &EngineConn{
		id:   newID(),
		e:    e,
		hs:   newHandshake(r, e.opts.RequestHeaders, e.opts.Path),
		done: make(chan struct{}),
	}
	if transport == "polling" {
		c.wake = make(chan struct{}, 1)
		c.ready = make(chan struct{}, 1)
	}
	c.onWebSocket.Store(transport == "websocket")
	c.lastActivity.Store(time.Now().UnixNano())
	return c
}

func (e *Engine) register(c *EngineConn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing.Load() {
		return false
	}
	e.conns[c.id] = c
	e.stats.connsTotal.Add(1)
	return true
}

// appendHandshake appends the open packet's JSON body (the sid is
// base64url, so it needs no escaping).
func (e *Engine) appendHandshake(b []byte, c *EngineConn, upgrades bool) []byte {
	b = append(b, `{"sid":"`...)
	b = append(b, c.id...)
	if upgrades {
		b = append(b, `","upgrades":["websocket"],"pingInterval":`...)
	} else {
		b = append(b, `","upgrades":[],"pingInterval":`...)
	}
	b = strconv.AppendInt(b, e.opts.PingInterval.Milliseconds(), 10)
	b = append(b, `,"pingTimeout":`...)
	b = strconv.AppendInt(b, e.opts.PingTimeout.Milliseconds(), 10)
	b = append(b, `,"maxPayload":`...)
	b = strconv.AppendInt(b, e.opts.MaxPayload, 10)
	return append(b, '}')
}

func (e *Engine) handshakePolling(w http.ResponseWriter, r *http.Request) {
	c := e.newConn(r, "polling")
	e.start(c)
	if !e.register(c) {
		c.Close("server shutting down")
		http.Error(w, "server closing", http.StatusServiceUnavailable)
		return
	}
	body := e.appendHandshake(append(make([]byte, 0, 160), '0'), c, true)
	e.writePolling(w, r, body)
	e.stats.packetsOut.Add(1)
	e.stats.bytesOut.Add(uint64(len(body)))
}

func (e *Engine) handshakeWebSocket(w http.ResponseWriter, r *http.Request) {
	if key, ok := e.plainUpgrade(r); ok {
		e.handshakePlain(w, r, key) // upgrade.go
		return
	}
	e.handshakeLibrary(w, r)
}

// handshakeLibrary answers a WebSocket handshake through the WebSocket
// library.
func (e *Engine) handshakeLibrary(w http.ResponseWriter, r *http.Request) {
	hw := &holdingHijacker{ResponseWriter: w}
	ws, err := e.up.Upgrade(hw, r, nil)
	if err != nil {
		e.log.Debug("websocket upgrade failed", zap.Error(err))
		return
	}
	c := e.newConn(r, "websocket")
	// The 101 response and the open packet go out in one write.
	open := newFrameBuf(160)
	open = append(open, '0')
	open = e.appendHandshake(open, c, false)
	f := finish(open, false)
	hc := hw.conn
	c.setDeflate(negotiatedDeflate(hc.held))
	out := append(hc.held, f.wire()...)
	hc.held, hc.holding = nil, false
	if _, err := hc.Conn.Write(out); err != nil {
		_ = ws.Close()
		return
	}
	if !e.establish(c, hc.Conn, len(f.wire())) {
		return
	}
	if e.onPoller(r, hc.Conn) {
		// The library's connection (and its buffers) is dropped: the
		// poller reads the socket from here on.
		c.startNetReader(hc.Conn, nil)
		return
	}
	e.wg.Go(func() { c.readWebSocket(ws) })
}

// establish counts the open packet (openBytes) written on the upgraded
// connection nc and hands nc to c: the engine starts and registers c and
// its writer writes to nc. false: the engine is closing, and c is closed.
func (e *Engine) establish(c *EngineConn, nc net.Conn, openBytes int) bool {
	e.stats.packetsOut.Add(1)
	e.stats.bytesOut.Add(uint64(openBytes))
	c.mu.Lock()
	c.ws = nc
	c.mu.Unlock()
	e.start(c)
	if !e.register(c) {
		c.Close("server shutting down")
		return false
	}
	c.setWriter(nc)
	return true
}

// holdingHijacker hands the WebSocket library a connection that holds back
// what is written to it (the 101 response) until the handshake sends it
// together with the Engine.IO open packet: one system call instead of two.
type holdingHijacker struct {
	http.ResponseWriter
	conn *holdingConn
}

func (h *holdingHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := h.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("sio: response writer cannot be hijacked")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, fmt.Errorf("sio: hijack: %w", err)
	}
	h.conn = &holdingConn{Conn: nc, holding: true}
	return h.conn, brw, nil
}

// holdingConn buffers writes while holding is set (only during the
// upgrade, on the handshake goroutine); reads and everything else go
// straight to the connection. Frames are written to Conn directly, so
// vectored writes are kept.
type holdingConn struct {
	net.Conn
	holding bool
	held    []byte
}

func (h *holdingConn) Write(p []byte) (int, error) {
	if h.holding {
		h.held = append(h.held, p...)
		return len(p), nil
	}
	return h.Conn.Write(p)
}

// start arms the heartbeat and tells the handler, before the session is
// reachable by other requests.
func (e *Engine) start(c *EngineConn) {
	c.mu.Lock()
	e.hb.After(c, e.opts.PingInterval)
	c.mu.Unlock()
	e.h.OnOpen(c)
}

// upgrade handles a WebSocket request carrying the sid of a polling session.
func (e *Engine) upgrade(w http.ResponseWriter, r *http.Request, c *EngineConn) {
	hw := &holdingHijacker{ResponseWriter: w}
	ws, err := e.up.Upgrade(hw, r, nil)
	if err != nil {
		e.log.Debug("websocket upgrade failed", zap.Error(err))
		return
	}
	hc := hw.conn
	deflate := negotiatedDeflate(hc.held)
	_, err = hc.Conn.Write(hc.held)
	hc.held, hc.holding = nil, false
	if err != nil {
		_ = ws.Close()
		return
	}
	if !c.beginUpgrade() {
		// Already upgraded or upgrading: accept then close, as the
		// reference server does.
		_, _ = hc.Conn.Write(wsCloseFrame.wire())
		_ = ws.Close()
		return
	}
	// Read by the writer only once "5" switches the session to nc.
	c.setDeflate(deflate)
	nc := hc.Conn
	if e.onPoller(r, nc) {
		e.wg.Go(func() { c.probe(nc, &rawProbe{nc: nc, limit: e.opts.MaxPayload}) })
		return
	}
	ws.SetReadLimit(e.opts.MaxPayload)
	e.wg.Go(func() { c.probe(nc, libraryProbe{ws: ws, inflateLimit: e.inflateLimit()}) })
}

// closeDrain bounds how long Close waits for sessions to take their close
// packet before it drops them.
const closeDrain = time.Second

// Close closes every connection gracefully (pending packets are flushed) and
// waits until they are gone, closeDrain has passed or ctx ends, then closes
// the rest.
func (e *Engine) Close(ctx context.Context) error {
	defer e.stopPollers()
	e.stopOnce.Do(func() { close(e.stopped) })
	defer e.hb.Close()
	e.mu.Lock()
	e.closing.Store(true)
	all := make([]*EngineConn, 0, len(e.conns))
	for _, c := range e.conns {
		all = append(all, c)
	}
	e.mu.Unlock()
	for _, c := range all {
		c.CloseGraceful()
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	// A polling session whose client is not polling right now cannot be
	// told goodbye; after a short drain every remaining session is closed
	// at once rather than holding shutdown for the whole ctx.
	drain := time.NewTimer(closeDrain)
	defer drain.Stop()
	for e.ConnCount() > 0 {
		select {
		case <-ctx.Done():
			for _, c := range all {
				c.Close("server shutting down")
			}
			e.wg.Wait()
			return ctx.Err()
		case <-drain.C:
			for _, c := range all {
				c.Close("server shutting down")
			}
		case <-t.C:
		}
	}
	e.wg.Wait()
	for e.writers.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

func (e *Engine) remove(c *EngineConn, byClient bool) {
	e.mu.Lock()
	delete(e.conns, c.id)
	if byClient {
		e.closedByClient[c.id] = struct{}{}
	}
	e.mu.Unlock()
	if byClient {
		time.AfterFunc(time.Second, func() { e.takeClosedByClient(c.id) })
	}
}

func (e *Engine) takeClosedByClient(sid string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	_, ok := e.closedByClient[sid]
	delete(e.closedByClient, sid)
	return ok
}
