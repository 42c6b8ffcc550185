package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

// stageError is a failure at one stage of a client's life; Kind is a short,
// bounded label used to count errors by kind.
type stageError struct {
	Stage string // dial, handshake, connect, join, read, write
	Kind  string
	Err   error
}

func (e *stageError) Error() string {
	if e.Err == nil {
		return e.Stage + ": " + e.Kind
	}
	return fmt.Sprintf("%s: %s: %v", e.Stage, e.Kind, e.Err)
}

func (e *stageError) Unwrap() error { return e.Err }

// label is the counter key for an error: "stage: kind".
func label(err error) string {
	var se *stageError
	if errors.As(err, &se) {
		return se.Stage + ": " + se.Kind
	}
	return "other: " + classify(err)
}

// classify maps network errors to a bounded set of names.
func classify(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "none"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local port"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files"
	case errors.Is(err, websocket.ErrBadHandshake):
		return "bad websocket handshake"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case websocket.IsUnexpectedCloseError(err):
		return "closed by server"
	default:
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return "closed by server"
		}
		return "other"
	}
}

// errorCounts counts errors by label; safe for concurrent use.
type errorCounts struct {
	mu sync.Mutex
	m  map[string]int
}

func (e *errorCounts) add(kind string) {
	e.mu.Lock()
	if e.m == nil {
		e.m = make(map[string]int)
	}
	e.m[kind]++
	e.mu.Unlock()
}

func (e *errorCounts) snapshot() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.m))
	for k, v := range e.m {
		out[k] = v
	}
	return out
}

// window is the measurement interval in Unix nanoseconds, set once before
// any message is sent.
type window struct {
	start atomic.Int64
	end   atomic.Int64
}

func (w *window) contains(t int64) bool { return t >= w.start.Load() && t < w.end.Load() }

// sendRing remembers the send time of recent acked emits by ack id.
const sendRingSize = 1 << 13

// maxInflight bounds --inflight well inside the send ring, so an ack never
// finds its slot reused by a later send.
const maxInflight = sendRingSize / 4

// recvStats is written by one connection's reader goroutine. Counters that
// the drain loop polls are atomic; the histograms are read only after the
// reader has exited.
type recvStats struct {
	deliveredInWindow atomic.Int64 // deliveries received while the window was open
	deliveredOfWindow atomic.Int64 // deliveries of messages sent inside the window
	acksOKInWindow    atomic.Int64 // ok acks received while the window was open
	acksOfWindow      atomic.Int64 // acks (ok or not) for sends inside the window
	acksOKOfWindow    atomic.Int64
	unparsed          atomic.Int64
	latency           histogram // delivery latency, received in window
	ackLatency        histogram // send to ack, received in window
}

// client is one Socket.IO client connection on one namespace.
type client struct {
	id   int
	ws   *websocket.Conn
	p    *packets
	errs *errorCounts

	wmu     sync.Mutex
	wbuf    []byte
	nextAck atomic.Uint64

	pongs     atomic.Int64 // pings answered
	closing   atomic.Bool
	closeOnce sync.Once
	done      chan struct{}

	// set when the client measures traffic
	win     *window
	stats   *recvStats
	sentAt  []atomic.Int64
	started bool
	// slots holds one token per unacked send in closed loop (nil in open
	// loop): the sender puts one before a send, the reader takes one per ack.
	slots chan struct{}
}

// dialConfig is what every client needs to reach the server.
type dialConfig struct {
	URL       string // ws://host:port/socket.io/?EIO=4&transport=websocket
	Namespace string
	Timeout   time.Duration
}

// dialClient opens the WebSocket, completes the Engine.IO handshake and the
// namespace CONNECT with token. The reader goroutine is not started yet.
func dialClient(ctx context.Context, d *websocket.Dialer, cfg dialConfig, p *packets, id int, token string,
	errs *errorCounts) (*client, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	ws, resp, err := d.DialContext(ctx, cfg.URL, http.Header{})
	if resp != nil && resp.Body != nil {
		_ = resp.Body.Close()
	}
	if err != nil {
		return nil, &stageError{Stage: "dial", Kind: classify(err), Err: err}
	}
	c := &client{id: id, ws: ws, p: p, errs: errs, done: make(chan struct{})}
	if deadline, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(deadline)
	}
	if err := c.handshake(token); err != nil {
		_ = ws.Close()
		return nil, err
	}
	return c, nil
}

func (c *client) handshake(token string) error {
	_, frame, err := c.ws.ReadMessage()
	if err != nil {
		return &stageError{Stage: "handshake", Kind: classify(err), Err: err}
	}
	if len(frame) == 0 || frame[0] != eioOpen {
		return &stageError{Stage: "handshake", Kind: "unexpected open packet", Err: fmt.Errorf("got %.40q", frame)}
	}
	pkt, err := c.p.connectPacket(token)
	if err != nil {
		return &stageError{Stage: "connect", Kind: "encode", Err: err}
	}
	if err := c.write(pkt); err != nil {
		return err
	}
	for {
		_, frame, err := c.ws.ReadMessage()
		if err != nil {
			return &stageError{Stage: "connect", Kind: classify(err), Err: err}
		}
		switch {
		case len(frame) == 1 && frame[0] == eioPing:
			if err := c.pong(); err != nil {
				return err
			}
		case bytes.HasPrefix(frame, c.p.connect):
			return nil
		case bytes.HasPrefix(frame, c.p.connErr):
			msg := connectErrorMessage(frame[len(c.p.connErr):])
			return &stageError{Stage: "connect_error", Kind: msg}
		}
	}
}

func (c *client) write(frame []byte) error {
	c.wmu.Lock()
	err := c.ws.WriteMessage(websocket.TextMessage, frame)
	c.wmu.Unlock()
	if err != nil {
		return &stageError{Stage: "write", Kind: classify(err), Err: err}
	}
	return nil
}

// pong answers an Engine.IO ping.
func (c *client) pong() error {
	if err := c.write([]byte{eioPong}); err != nil {
		return err
	}
	c.pongs.Add(1)
	return nil
}

// join emits hub:join and reads frames until its ack arrives. It must run
// before the reader goroutine starts.
func (c *client) join(roomID string) error {
	id := c.nextAck.Add(1)
	payload := []byte(`{"roomId":` + quote(roomID) + `}`)
	if err := c.write(c.p.appendEmit(nil, id, "hub:join", payload)); err != nil {
		return err
	}
	for {
		_, frame, err := c.ws.ReadMessage()
		if err != nil {
			return &stageError{Stage: "join", Kind: classify(err), Err: err}
		}
		if len(frame) == 1 && frame[0] == eioPing {
			if err := c.pong(); err != nil {
				return err
			}
			continue
		}
		ackID, args, ok := c.p.parseAck(frame)
		if !ok || ackID != id {
			continue
		}
		if good, code := ackOutcome(args); !good {
			return &stageError{Stage: "join", Kind: code}
		}
		return nil
	}
}

// measure prepares the client to record deliveries and acks; inflight > 0
// makes its sends closed loop with that many unacked at most.
func (c *client) measure(win *window, withSends bool, inflight int) {
	c.win = win
	c.stats = &recvStats{}
	if withSends {
		c.sentAt = make([]atomic.Int64, sendRingSize)
		if inflight > 0 {
			c.slots = make(chan struct{}, inflight)
		}
	}
}

// start runs the reader goroutine; done closes when it exits.
func (c *client) start() {
	_ = c.ws.SetReadDeadline(time.Time{})
	c.started = true
	go c.readLoop()
}

func (c *client) readLoop() {
	defer close(c.done)
	buf := make([]byte, 0, 1024)
	for {
		_, r, err := c.ws.NextReader()
		if err != nil {
			if !c.closing.Load() {
				c.errs.add("read: " + classify(err))
			}
			return
		}
		buf, err = readAll(r, buf[:0])
		if err != nil {
			if !c.closing.Load() {
				c.errs.add("read: " + classify(err))
			}
			return
		}
		c.handle(buf)
	}
}

// readAll reads r into buf, growing it only when a frame is larger than any
// seen before on this connection.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func (c *client) handle(frame []byte) {
	if len(frame) == 0 {
		return
	}
	switch frame[0] {
	case eioPing:
		if err := c.pong(); err != nil && !c.closing.Load() {
			c.errs.add(label(err))
		}
		return
	case eioMsg:
	default:
		return
	}
	if c.stats == nil {
		if bytes.HasPrefix(frame, c.p.disc) {
			c.errs.add("read: disconnected by server")
		}
		return
	}
	now := time.Now().UnixNano()
	switch {
	case c.p.isArrived(frame):
		ts, ok := sendStamp(frame[len(c.p.arrived):])
		if !ok {
			c.stats.unparsed.Add(1)
			return
		}
		if c.win.contains(now) {
			c.stats.deliveredInWindow.Add(1)
			c.stats.latency.record(time.Duration(now - ts))
		}
		if c.win.contains(ts) {
			c.stats.deliveredOfWindow.Add(1)
		}
	case c.sentAt != nil:
		id, args, ok := c.p.parseAck(frame)
		if !ok {
			if bytes.HasPrefix(frame, c.p.disc) {
				c.errs.add("read: disconnected by server")
			}
			return
		}
		if c.slots != nil {
			select {
			case <-c.slots:
			default:
			}
		}
		good, code := ackOutcome(args)
		if !good {
			c.errs.add("send: " + code)
		}
		ts := c.sentAt[id&(sendRingSize-1)].Load()
		if good && c.win.contains(now) {
			c.stats.acksOKInWindow.Add(1)
			if ts > 0 {
				c.stats.ackLatency.record(time.Duration(now - ts))
			}
		}
		if c.win.contains(ts) {
			c.stats.acksOfWindow.Add(1)
			if good {
				c.stats.acksOKOfWindow.Add(1)
			}
		}
	}
}

// send emits one hub:send stamped with the current time and returns that time.
// roomJSON is the room id already quoted as JSON.
func (c *client) send(roomJSON []byte) (int64, error) {
	id := c.nextAck.Add(1)
	now := time.Now().UnixNano()
	c.sentAt[id&(sendRingSize-1)].Store(now)
	c.wmu.Lock()
	c.wbuf = c.p.appendSend(c.wbuf[:0], id, roomJSON, now)
	err := c.ws.WriteMessage(websocket.TextMessage, c.wbuf)
	c.wmu.Unlock()
	if err != nil {
		return now, &stageError{Stage: "write", Kind: classify(err), Err: err}
	}
	return now, nil
}

// close shuts the connection and waits for the reader to exit. It is
// idempotent.
func (c *client) close() {
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		c.wmu.Lock()
		_ = c.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.wmu.Unlock()
		_ = c.ws.Close()
	})
	if c.started {
		<-c.done
	}
}

// quote returns s as a JSON string literal.
func quote(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
