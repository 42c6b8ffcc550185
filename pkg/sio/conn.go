package sio

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/deadline"
)

// EngineConn is one Engine.IO session. Writes go through a bounded queue
// drained by the active transport: the pending GET for polling, a writer
// goroutine for WebSocket.
type EngineConn struct {
	id          string
	e           *Engine
	hs          *handshake
	onWebSocket atomic.Bool // the transport: WebSocket (from the start or upgraded), else polling

	// Write queue: a FIFO slice that starts empty and grows on demand up
	// to Options.WriteQueueSize items, guarded by wmu. For WebSocket a
	// writer goroutine runs only while there is something to write.
	wmu     sync.Mutex
	q       []*outbound // items q[qh:] are queued
	qh      int
	spare   []*outbound // the writer's previous batch, reused when small
	writing bool        // a writer goroutine owns the socket's writes
	parked  bool        // that writer waits on ready for new items (cleared by the writer when it runs)
	// lingerDue: a linger tick passed that the writer has not handled
	// (writerSet).
	lingerDue bool
	wconn     net.Conn      // WebSocket transport, nil while polling
	ready     chan struct{} // cap 1: tells a pending poll or a parked writer that q is not empty (see writeLoop)
	wdl       time.Time     // write deadline last set (writer only)
	deflate   bool          // the WebSocket negotiated permessage-deflate (set with wconn)

	done  chan struct{} // closed when the session ends
	ended atomic.Bool   // set as done is closed: enqueue's check, without a channel operation
	wake  chan struct{} // polling sessions: asks a pending poll to return a noop

	pollActive   atomic.Bool
	refused      atomic.Bool  // a refusal closed the connection (reported once)
	slow         atomic.Bool  // the write queue overflowed (refused once)
	lingering    atomic.Bool  // its close frame is out: close with lingerClose
	admitted     atomic.Bool  // the handler accepted the client (a namespace joined)
	lastActivity atomic.Int64 // unix nanoseconds of the last packet received
	// quiet: the session ends without an Engine.IO close packet (a polling
	// client gets a noop, then finds the session gone), so that clients
	// reconnect as after a lost connection (Server.Shutdown).
	quiet  atomic.Bool
	readMu sync.Mutex // serializes incoming packets of polling POSTs

	// Inbound packets of the WebSocket transport, handled in order by a
	// dispatcher goroutine that runs only while there are some (see
	// inbox.go). A full inbox stops the reader. The channels are made when
	// first needed: an idle connection has none.
	imu         sync.Mutex
	inbox       []inbound
	dispatching bool                      // a dispatcher goroutine runs
	inParked    bool                      // it waits on inReady for packets
	inHandled   bool                      // it took a packet since the last linger tick
	inReady     chan struct{}             // cap 1: wakes a parked dispatcher
	inBytes     int                       // bytes of the packets in inbox
	inWaiting   bool                      // the reader waits for room in the inbox
	inDrained   chan struct{}             // cap 1: wakes a reader goroutine waiting
	nr          atomic.Pointer[netReader] // the reader on the network poller, if any

	mu           sync.Mutex
	upgrading    bool
	probed       bool     // the upgrade's probe was answered; "5" not yet received
	probeWS      net.Conn // the WebSocket of an upgrade in progress
	ws           net.Conn // the WebSocket transport's connection
	closing      bool
	clientClosed bool
	reason       string
	awaitingPong bool
	pongBy       int64         // when awaitingPong: the pong's deadline on the engine's clock
	hb           deadline.Slot // the next ping or pong deadline, in Engine.hb (heartbeat.go)

	// Data is a slot for the EngineHandler (Server keeps its client here).
	Data any
}

// ID is the Engine.IO session id.
func (c *EngineConn) ID() string { return c.id }

// Request is the handshake request as kept (see handshake): a new copy
// on each call, without a body.
func (c *EngineConn) Request() *http.Request { return c.hs.request() }

// Transport is "polling" or "websocket".
func (c *EngineConn) Transport() string {
	if c.onWebSocket.Load() {
		return "websocket"
	}
	return "polling"
}

// LastActivity is when the last packet of any kind (pongs included) was
// received on the connection; the handshake time before the first one.
func (c *EngineConn) LastActivity() time.Time { return time.Unix(0, c.lastActivity.Load()) }

// Done is closed when the connection has ended.
func (c *EngineConn) Done() <-chan struct{} { return c.done }

// SendMessage queues one message packet.
func (c *EngineConn) SendMessage(data []byte, binaryData bool) error {
	var f *frame
	if binaryData {
		f = binaryFrame(data)
	} else {
		b := newFrameBuf(len(data) + 1)
		b = append(b, '4')
		b = append(b, data...)
		f = finish(b, false)
	}
	return c.enqueue(&outbound{frames: []*frame{f}})
}

// enqueue never blocks: a full queue closes the connection.
func (c *EngineConn) enqueue(o *outbound) error {
	if c.ended.Load() {
		return ErrConnClosed
	}
	c.wmu.Lock()
	return c.enqueueLocked(o)
}

// pushLocked appends o, wakes whoever drains the queue and unlocks wmu.
func (c *EngineConn) pushLocked(o *outbound) {
	c.q = append(c.q, o)
	start := false
	if c.wconn != nil {
		switch {
		case !c.writing:
			c.writing = true
			start = true
		case c.parked:
			c.wakeParkedLocked()
		}
	} else if len(c.q)-c.qh == 1 {
		select {
		case c.ready <- struct{}{}:
		default:
		}
	}
	c.wmu.Unlock()
	if start {
		c.startWriter()
	}
}

// wakeWriter wakes a parked WebSocket writer so that it sees the end of
// the connection (writeLoop parks on ready alone). A writer about to park
// checks ended under wmu first.
func (c *EngineConn) wakeWriter() {
	c.wmu.Lock()
	c.wakeParkedLocked()
	c.wmu.Unlock()
}

// wakeParkedLocked wakes the WebSocket writer if it is parked; wmu held.
// parked stays set until the writer runs again and clears it: a polling
// GET that straddled the upgrade also waits on ready and may take the
// token, and then the next wake (an enqueue, a linger tick, the end of the
// connection) must send again.
func (c *EngineConn) wakeParkedLocked() {
	if c.parked {
		select {
		case c.ready <- struct{}{}:
		default:
		}
	}
}

// pop removes the oldest queued item, nil if none.
func (c *EngineConn) pop() *outbound {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.qh == len(c.q) {
		return nil
	}
	o := c.q[c.qh]
	c.q[c.qh] = nil
	c.qh++
	if c.qh == len(c.q) {
		c.qh = 0
		c.q = c.q[:0]
		if cap(c.q) > 64 {
			c.q = nil // a burst is over: give its memory back
		}
	}
	return o
}

// queued is the number of items waiting in the queue.
func (c *EngineConn) queued() int {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return len(c.q) - c.qh
}

// setWriter switches writes to the WebSocket nc and starts a writer for
// anything already queued.
func (c *EngineConn) setWriter(nc net.Conn) {
	c.wmu.Lock()
	c.wconn = nc
	start := len(c.q) > c.qh && !c.writing
	if start {
		c.writing = true
	}
	c.wmu.Unlock()
	if start {
		c.startWriter()
	}
}

// setDeflate records whether the WebSocket about to take the writes
// negotiated permessage-deflate; it precedes setWriter.
func (c *EngineConn) setDeflate(on bool) {
	c.wmu.Lock()
	c.deflate = on
	c.wmu.Unlock()
}

// CloseGraceful flushes what is queued, sends a close, then ends the session.
func (c *EngineConn) CloseGraceful() {
	c.wmu.Lock()
	if len(c.q)-c.qh >= c.e.opts.WriteQueueSize {
		c.wmu.Unlock()
		c.Close("server shutting down")
		return
	}
	c.pushLocked(closeItem)
}

// Close ends the session at once with the given reason.
func (c *EngineConn) Close(reason string) { c.closeWith(reason, false) }

func (c *EngineConn) closeWith(reason string, byClient bool) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return
	}
	c.closing = true
	c.clientClosed = byClient
	c.reason = reason
	ws, probe := c.ws, c.probeWS
	c.e.hb.Stop(c)
	c.ended.Store(true)
	close(c.done)
	c.mu.Unlock()
	c.wakeWriter()

	if r := c.nr.Load(); r != nil {
		r.stop() // off the poller before its socket is closed
	}
	c.e.remove(c, byClient && c.Transport() == "polling" && !c.pollActive.Load())
	switch {
	case ws != nil && c.lingering.Load():
		c.e.wg.Go(func() { c.lingerClose(ws) })
	case ws != nil:
		_ = ws.Close()
	}
	if probe != nil {
		_ = probe.Close()
	}
	c.e.log.Debug("connection closed", zap.String("sid", c.id), zap.String("reason", reason))
	c.e.h.OnClose(c, reason)
}

// handleOwnPacket is handlePacket for a packet that shares its buffer (a
// polling body's packets): a message gets a copy of its own, as OnMessage
// is promised, so that keeping one packet does not keep the whole body.
func (c *EngineConn) handleOwnPacket(typ byte, data []byte, binaryData bool) error {
	if typ == '4' && !binaryData { // binary ones are decoded into their own
		data = clone(data)
	}
	return c.handlePacket(typ, data, binaryData)
}

// handlePacket processes one decoded incoming Engine.IO packet; a message's
// data must be its own (see OnMessage).
func (c *EngineConn) handlePacket(typ byte, data []byte, binaryData bool) error {
	c.lastActivity.Store(time.Now().UnixNano())
	st := c.e.stats
	st.packetsIn.Add(1)
	st.bytesIn.Add(uint64(len(data) + 1))
	switch typ {
	case '4':
		if err := c.e.h.OnMessage(c, data, binaryData); err != nil {
			return err
		}
	case '3':
		c.onPong()
	case '1':
		c.closeWith("transport close", true)
	case '2', '5', '6':
		// ping from a client, stray upgrade, noop: ignored as in EIO 4.
	default:
		return eioErr("unknown packet type")
	}
	return nil
}

// upgradeNoopAfter is how long a GET arriving during an upgrade waits for
// the upgrade to complete before it is answered with a noop. A variable
// only so that tests on a loaded machine can wait longer.
var upgradeNoopAfter = 100 * time.Millisecond

// decodeEIOPacket splits one text packet into type and data.
func decodeEIOPacket(p []byte) (byte, []byte, error) {
	if len(p) == 0 {
		return 0, nil, eioErr("empty packet")
	}
	t := p[0]
	if t < '0' || t > '6' {
		return 0, nil, eioErr("unknown packet type")
	}
	return t, p[1:], nil
}

// DecodePayload splits an HTTP long-polling payload into packets and calls fn
// for each. Binary packets ("b" + base64) are decoded.
func DecodePayload(body []byte, fn func(typ byte, data []byte, binary bool) error) error {
	if len(body) == 0 {
		return eioErr("empty payload")
	}
	for len(body) > 0 {
		var p []byte
		if i := bytes.IndexByte(body, 0x1e); i >= 0 {
			p, body = body[:i], body[i+1:]
			if len(body) == 0 {
				return eioErr("trailing separator")
			}
		} else {
			p, body = body, nil
		}
		if len(p) > 0 && p[0] == 'b' {
			raw := make([]byte, base64.StdEncoding.DecodedLen(len(p)-1))
			n, err := base64.StdEncoding.Decode(raw, p[1:])
			if err != nil {
				return eioErr("bad base64")
			}
			if err := fn('4', raw[:n], true); err != nil {
				return err
			}
			continue
		}
		t, d, err := decodeEIOPacket(p)
		if err != nil {
			return err
		}
		if err := fn(t, d, false); err != nil {
			return err
		}
	}
	return nil
}

// post receives a polling payload.
// A POST is read only while no other POST of the session is: one session
// holds at most one body (MaxPayload) at a time. An overlapping POST is
// refused and closes the session, as the reference server does.
func (c *EngineConn) post(w http.ResponseWriter, r *http.Request) {
	if !c.readMu.TryLock() {
		c.refuse(RefuseRequestOverlap, nil)
		c.e.writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	defer c.readMu.Unlock()
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, c.e.opts.MaxPayload))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			c.refuse(RefusePayloadTooLarge, err)
			http.Error(w, "payload too large", http.StatusRequestEntityTooLarge)
			return
		}
		c.Close("transport error")
		c.e.writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	if !utf8.Valid(body) {
		// Polling payloads are text (binary is base64): as a WebSocket
		// text frame, a body that is not UTF-8 is refused.
		c.refuse(RefuseInvalidUTF8, nil)
		c.e.writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	if err := DecodePayload(body, c.handleOwnPacket); err != nil {
		c.refuse(refusalOf(err), err)
		c.e.writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/html")
	_, _ = w.Write([]byte("ok"))
}

// poll answers a long-polling GET with whatever is queued, waiting if empty.
func (c *EngineConn) poll(w http.ResponseWriter, r *http.Request) {
	if !c.pollActive.CompareAndSwap(false, true) {
		// Concurrent GET on one session: close it, as the reference does.
		c.Close("transport error")
		c.e.writeError(w, http.StatusBadRequest, codeBadRequest)
		return
	}
	defer c.pollActive.Store(false)
	var out []byte
	closeAfter := false
wait:
	for {
		if c.Transport() != "polling" {
			// Upgraded while this GET waited: as the reference does, HTTP
			// requests on an upgraded session are refused.
			c.e.writeError(w, http.StatusBadRequest, codeBadRequest)
			return
		}
		if o := c.pop(); o != nil {
			out, closeAfter = c.appendPolling(nil, o)
			max := int(c.e.opts.MaxPayload)
			for !closeAfter && len(out) < max {
				o := c.pop()
				if o == nil {
					break
				}
				out = append(out, 0x1e)
				out, closeAfter = c.appendPolling(out, o)
			}
			break
		}
		c.mu.Lock()
		probed := c.probed
		c.mu.Unlock()
		if probed {
			// A GET during an upgrade: if "5" follows soon the session is
			// upgraded and the GET refused (above); else it gets a noop, as
			// the reference does every 100ms while upgrading.
			t := time.NewTimer(upgradeNoopAfter)
			select {
			case <-c.ready:
				t.Stop()
				continue
			case <-c.wake:
			case <-t.C:
			case <-c.done:
				t.Stop()
				out = []byte("1")
				break wait
			case <-r.Context().Done():
				t.Stop()
				return
			}
			t.Stop()
			out = []byte("6")
			break wait
		}
		select {
		case <-c.ready:
			continue
		case <-c.wake:
			out = []byte("6")
		case <-c.done:
			c.mu.Lock()
			byClient := c.clientClosed
			c.mu.Unlock()
			if byClient || c.quiet.Load() {
				out = []byte("6")
			} else {
				out = []byte("1")
			}
		case <-r.Context().Done():
			return
		}
		break wait
	}
	c.e.writePolling(w, r, out)
	c.e.stats.bytesOut.Add(uint64(len(out)))
	if closeAfter {
		c.Close("server shutting down")
	}
}

func (c *EngineConn) appendPolling(out []byte, o *outbound) ([]byte, bool) {
	if o.close {
		c.e.stats.packetsOut.Add(1)
		if c.quiet.Load() {
			return append(out, '6'), true
		}
		return append(out, '1'), true
	}
	for i, f := range o.frames {
		if i > 0 {
			out = append(out, 0x1e)
		}
		p := f.payload()
		if f.binary {
			out = append(out, 'b')
			out = base64.StdEncoding.AppendEncode(out, p)
		} else {
			out = append(out, p...)
		}
	}
	c.e.stats.packetsOut.Add(uint64(len(o.frames)))
	return out, false
}

func (c *EngineConn) beginUpgrade() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing || c.upgrading || c.Transport() != "polling" {
		return false
	}
	c.upgrading = true
	return true
}

// probe runs the upgrade handshake on a new WebSocket: 2probe/3probe, then
// 5 switches the session to it and src reads it from then on.
func (c *EngineConn) probe(nc net.Conn, src probeSource) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		_ = nc.Close()
		return
	}
	c.probeWS = nc
	c.mu.Unlock()
	fail := func() {
		c.mu.Lock()
		c.upgrading, c.probed = false, false
		c.probeWS = nil
		c.mu.Unlock()
		_ = nc.Close()
	}
	_ = nc.SetReadDeadline(time.Now().Add(c.e.opts.PingInterval + c.e.opts.PingTimeout))
	for {
		text, msg, err := src.next()
		if err != nil || !text {
			fail()
			return
		}
		switch string(msg) {
		case "2probe":
			// Marked probed before "3probe" goes out: a GET the client
			// sends after it must find the session upgrading.
			c.mu.Lock()
			c.probed = true
			c.mu.Unlock()
			// Only a pending poll is answered with a noop at once; a GET
			// arriving later waits a little for the upgrade (see poll).
			if c.pollActive.Load() {
				select {
				case c.wake <- struct{}{}:
				default:
				}
			}
			_ = nc.SetWriteDeadline(time.Now().Add(c.e.opts.WriteTimeout))
			if _, err := nc.Write(framePongProbe.wire()); err != nil {
				fail()
				return
			}
		case "5":
			c.mu.Lock()
			if c.closing {
				c.mu.Unlock()
				_ = nc.Close()
				return
			}
			c.upgrading, c.probed = false, false
			c.probeWS = nil
			c.ws = nc
			c.onWebSocket.Store(true)
			c.mu.Unlock()
			// Drop a wake token that nobody consumed, and let a GET that
			// arrived during the upgrade see that polling is over.
			select {
			case <-c.wake:
			default:
			}
			select {
			case c.ready <- struct{}{}:
			default:
			}
			_ = nc.SetReadDeadline(time.Time{})
			c.setWriter(nc)
			src.established(c)
			return
		default:
			fail()
			return
		}
	}
}

// probeSource reads the messages of an upgrade probe, then the
// established WebSocket.
type probeSource interface {
	// next returns the next message and whether it is text.
	next() (text bool, msg []byte, err error)
	// established reads the upgraded session's WebSocket from now on.
	established(c *EngineConn)
}

// libraryProbe reads through the WebSocket library (inflateLimit: see
// readLibraryMessage).
type libraryProbe struct {
	ws           *websocket.Conn
	inflateLimit int64
}

func (p libraryProbe) next() (bool, []byte, error) {
	mt, msg, err := readLibraryMessage(p.ws, p.inflateLimit)
	return mt == websocket.TextMessage, msg, err
}

func (p libraryProbe) established(c *EngineConn) { c.readWebSocket(p.ws) }

// readWebSocket is the read loop of an established WebSocket transport. It
// only reads and splits frames: pongs are handled at once, everything else
// goes, in order, to a dispatcher goroutine that exists only while packets
// wait. Handlers (authorization, scripts, store writes) need deep stacks;
// kept off this goroutine, which every idle connection keeps parked, they
// leave it with a small stack.
func (c *EngineConn) readWebSocket(ws *websocket.Conn) {
	ws.SetReadLimit(c.e.opts.MaxPayload)
	ws.SetPingHandler(func(data string) error {
		c.lastActivity.Store(time.Now().UnixNano())
		b := newFrameBuf(len(data))
		b = append(b, data...)
		_ = c.enqueue(&outbound{frames: []*frame{finishOp(b, opPong, false)}})
		return nil
	})
	ws.SetCloseHandler(func(code int, _ string) error {
		c.echoClose(code)
		return nil
	})
	for {
		mt, msg, err := readLibraryMessage(ws, c.e.inflateLimit())
		if errors.Is(err, websocket.ErrReadLimit) {
			// The library has sent its close frame (1009).
			c.refuseClose(RefusePayloadTooLarge, err, false)
			return
		}
		if errors.Is(err, errInflatedTooLarge) {
			c.refuse(RefusePayloadTooLarge, err)
			return
		}
		if err != nil {
			reason := "transport close"
			var ce *websocket.CloseError
			if !errors.As(err, &ce) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				reason = "transport error"
			}
			c.dispatchInbound(inbound{closeReason: reason})
			return
		}
		in := inbound{typ: '4', data: msg, binary: true}
		if mt != websocket.BinaryMessage {
			in.binary = false
			if !utf8.Valid(msg) {
				c.refuse(RefuseInvalidUTF8, nil) // RFC 6455 8.1: fail with 1007
				return
			}
			if in.typ, in.data, err = decodeEIOPacket(msg); err != nil {
				c.dispatchInbound(inbound{refusal: RefuseParseError, err: err})
				return
			}
			if in.typ == '3' {
				// A pong only proves the connection alive: no need to queue.
				_ = c.handlePacket(in.typ, in.data, false)
				continue
			}
		}
		if !c.dispatchInbound(in) {
			return
		}
	}
}
