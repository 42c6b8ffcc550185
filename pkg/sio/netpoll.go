package sio

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// Readers on the network poller. An established WebSocket is not read by a
// goroutine of its own parked in the WebSocket library: a few poller
// goroutines (netpoll_linux.go) watch every socket and, when one is
// readable, read what it has into the poller's buffer, split it into frames
// (wsread.go) and hand the packets to the connection's dispatcher (inbox.go).
// An idle connection then holds no goroutine, no stack and no read buffer;
// only the bytes of a frame not complete yet are kept between reads.
//
// A full inbox pauses the connection: its socket is not read (TCP pushes
// back on the client) until the dispatcher has taken a packet out and wakes
// the reader. Connections that negotiated a WebSocket extension, sockets
// without a file descriptor, Options.GoroutineReaders and platforms without
// a poller keep the library's reader goroutine.

// netReadRounds is how many reads one readable socket gets before the
// poller serves the others (it comes back to it after them).
const netReadRounds = 4

// pollerSet starts an Engine's pollers when the first WebSocket needs them
// and stops them with the Engine.
type pollerSet struct {
	mu      sync.Mutex
	ps      *netPollers
	stopped bool
}

var errPollersStopped = errors.New("sio: network pollers stopped")

// onPoller reports whether the established WebSocket nc, upgraded by r, is
// read on the network poller.
func (e *Engine) onPoller(r *http.Request, nc net.Conn) bool {
	if e.opts.GoroutineReaders || !netpollSupported {
		return false
	}
	if e.up.EnableCompression && strings.Contains(strings.ToLower(r.Header.Get("Sec-WebSocket-Extensions")), "permessage-deflate") {
		return false // the library reads compressed messages
	}
	_, ok := nc.(syscall.Conn)
	return ok
}

func (e *Engine) netPollers() (*netPollers, error) {
	e.pollers.mu.Lock()
	defer e.pollers.mu.Unlock()
	if e.pollers.stopped {
		return nil, errPollersStopped
	}
	if e.pollers.ps == nil {
		ps, err := newNetPollers(e.log)
		if err != nil {
			return nil, err
		}
		e.pollers.ps = ps
	}
	return e.pollers.ps, nil
}

// stopPollers stops the pollers once every connection is closed.
func (e *Engine) stopPollers() {
	e.pollers.mu.Lock()
	ps := e.pollers.ps
	e.pollers.ps, e.pollers.stopped = nil, true
	e.pollers.mu.Unlock()
	if ps != nil {
		ps.close()
	}
}

// netReader is the read side of one WebSocket on the poller. Every field
// but the poller's registration is used only by the poller goroutine that
// owns it.
type netReader struct {
	c  *EngineConn
	pr *netPoller
	rc syscall.RawConn
	id pollID // the registration in pr

	in      wsIn
	partial []byte   // bytes of a frame not complete yet; nil when none
	held    *inbound // a packet waiting for room in the inbox: reading paused
	ended   bool     // the read side is over
}

// startNetReader hands the established WebSocket nc to the poller;
// leftover is what was read past the upgrade's last message.
func (c *EngineConn) startNetReader(nc net.Conn, leftover []byte) {
	ps, err := c.e.netPollers()
	if err == nil {
		r := &netReader{c: c, partial: leftover}
		if err = ps.add(r, nc); err == nil {
			c.nr.Store(r)
			select {
			case <-c.done:
				r.stop() // closed meanwhile, and closeWith may not have seen r
			default:
				if leftover != nil {
					r.wake()
				}
			}
			return
		}
	}
	c.e.log.Debug("websocket not read on the poller")
	c.Close("transport error")
}

// serve reads what the socket has and handles it. It reports true when
// the socket may have more after netReadRounds reads.
func (r *netReader) serve(buf []byte) bool {
	for range netReadRounds {
		if r.held != nil || r.ended {
			return false
		}
		p, err := r.fill(buf)
		switch {
		case errors.Is(err, syscall.EAGAIN):
			return false
		case err != nil:
			r.readFailed(err)
			return false
		}
		r.consume(p)
	}
	return true
}

// fill reads from the socket: into the spare room of partial when a frame
// is under way and its size known, else into buf (appended to partial when
// there is one). It returns the bytes to parse.
func (r *netReader) fill(buf []byte) ([]byte, error) {
	if spare := cap(r.partial) - len(r.partial); spare > 0 {
		n, err := r.read(r.partial[len(r.partial):cap(r.partial)])
		if err != nil {
			return nil, err
		}
		r.partial = r.partial[:len(r.partial)+n]
		return r.partial, nil
	}
	n, err := r.read(buf)
	if err != nil {
		return nil, err
	}
	if r.partial != nil {
		r.partial = append(r.partial, buf[:n]...)
		return r.partial, nil
	}
	return buf[:n], nil
}

// errPeerClosed is a read of 0 bytes: the client closed its side.
var errPeerClosed = errors.New("sio: connection closed by peer")

// readFailed ends the read side after a failed read, as the library's
// reader does: end of stream is a close, anything else a transport error.
func (r *netReader) readFailed(err error) {
	switch {
	case errors.Is(err, net.ErrClosed):
		r.ended = true // closed by the server: nothing to report
	case errors.Is(err, errPeerClosed):
		r.end(inbound{closeReason: "transport close"})
	default:
		r.end(inbound{closeReason: "transport error"})
	}
}

// consume parses and handles the frames in p, keeping what is left of a
// frame not complete in partial.
func (r *netReader) consume(p []byte) {
	limit := r.c.e.opts.MaxPayload
	off := 0
	for off < len(p) && r.held == nil && !r.ended {
		ev, n, need, err := r.in.next(p[off:], limit)
		if err != nil {
			r.protocolFailed(err)
			break
		}
		if n == 0 {
			r.keep(p, off, need)
			return
		}
		off += n
		r.handle(ev)
	}
	r.keep(p, off, 0)
}

// partialReserve is the least room kept for the rest of a frame beyond
// the bytes received. The length a header declares (up to MaxPayload) is
// the client's word, not yet its bytes: a partial frame gets room for as
// many bytes again as it holds (at least partialReserve), and grows as its
// bytes arrive.
const partialReserve = 4 << 10

// partialRoom is the capacity for a partial frame of have bytes out of
// need (0: not known yet).
func partialRoom(have, need int) int {
	return max(have, min(need, max(2*have, have+partialReserve)))
}

// keep makes p[off:] the partial frame; need, when known, is the size of
// the whole frame, so that the rest of it is read in place as it comes
// (see partialRoom).
func (r *netReader) keep(p []byte, off, need int) {
	rest := p[off:]
	if len(rest) == 0 || r.ended {
		r.partial = nil
		return
	}
	if off == 0 && len(r.partial) > 0 && &p[0] == &r.partial[0] {
		return // partial itself, still at its start: fill grows it
	}
	kept := make([]byte, len(rest), partialRoom(len(rest), need))
	copy(kept, rest)
	r.partial = kept
}

// protocolFailed answers a frame the protocol forbids as the library does.
func (r *netReader) protocolFailed(err error) {
	if errors.Is(err, errWSTooLarge) {
		r.ended = true
		r.c.refuse(RefusePayloadTooLarge, err)
		return
	}
	r.c.writeWSClose(wsProtocolError)
	r.end(inbound{closeReason: "transport error"})
}

// handle acts on one parsed frame as readWebSocket does on a message.
func (r *netReader) handle(ev wsEvent) {
	c := r.c
	switch ev.kind {
	case wsPing:
		c.lastActivity.Store(time.Now().UnixNano())
		b := newFrameBuf(len(ev.data))
		b = append(b, ev.data...)
		_ = c.enqueue(&outbound{frames: []*frame{finishOp(b, opPong, false)}})
	case wsClose:
		if !validClose(ev.data) {
			r.protocolFailed(errWSProtocol)
			return
		}
		code := closeNoStatus
		if len(ev.data) >= 2 {
			code = int(ev.data[0])<<8 | int(ev.data[1])
		}
		c.echoClose(code)
		r.end(inbound{closeReason: "transport close"})
	case wsMessage:
		r.message(ev)
	}
}

// message handles one complete message.
func (r *netReader) message(ev wsEvent) {
	c := r.c
	if ev.binary {
		r.deliver(inbound{typ: '4', data: clone(ev.data), binary: true})
		return
	}
	if !utf8.Valid(ev.data) {
		r.ended = true
		c.refuse(RefuseInvalidUTF8, nil) // RFC 6455 8.1: fail with 1007
		return
	}
	typ, data, err := decodeEIOPacket(ev.data)
	if err != nil {
		r.end(inbound{refusal: RefuseParseError, err: err})
		return
	}
	if typ == '3' {
		// A pong only proves the connection alive: no need to queue.
		_ = c.handlePacket(typ, data, false)
		return
	}
	r.deliver(inbound{typ: typ, data: clone(data)})
}

func clone(p []byte) []byte { return append([]byte(nil), p...) }

// deliver hands a packet to the dispatcher, or holds it and pauses
// reading while the inbox is full.
func (r *netReader) deliver(in inbound) {
	switch r.c.offerInbound(in) {
	case inboxFull:
		r.held = &in
	case inboxClosed:
		r.ended = true
	}
}

// end delivers the last inbound of the read side.
func (r *netReader) end(in inbound) {
	r.deliver(in)
	r.ended = true
}

// resume runs on the poller after the dispatcher made room: the held
// packet goes first, then what was left unparsed, then the socket (its
// readiness was not consumed while paused). It reports as serve does.
func (r *netReader) resume(buf []byte) bool {
	if in := r.held; in != nil {
		switch r.c.offerInbound(*in) {
		case inboxFull:
			return false
		case inboxClosed:
			r.ended = true
		}
		r.held = nil
	}
	if r.partial != nil && !r.ended {
		r.consume(r.partial)
	}
	return r.serve(buf)
}

// done reports that the reader needs the poller no more.
func (r *netReader) done() bool { return r.ended && r.held == nil }

// rawProbe reads the messages of an upgrade probe with the frame parser
// (wsread.go), so that what the client sends right after "5" is not left
// in a library's buffer: it goes to the poller with the connection.
type rawProbe struct {
	nc    net.Conn
	limit int64
	in    wsIn
	buf   []byte // read but not parsed yet
}

func (p *rawProbe) next() (bool, []byte, error) {
	for {
		ev, n, need, err := p.in.next(p.buf, p.limit)
		if err != nil {
			return false, nil, err
		}
		if n == 0 {
			if err := p.readMore(need); err != nil {
				return false, nil, err
			}
			continue
		}
		data := ev.data
		p.buf = p.buf[n:]
		switch ev.kind {
		case wsMessage:
			return !ev.binary, data, nil
		case wsClose:
			return false, nil, net.ErrClosed
		case wsPing:
			b := newFrameBuf(len(data))
			b = append(b, data...)
			if _, err := p.nc.Write(finishOp(b, opPong, false).wire()); err != nil {
				return false, nil, err
			}
		}
	}
}

// readMore reads at least one more byte, with room for need in all as it
// comes (see partialRoom).
func (p *rawProbe) readMore(need int) error {
	if cap(p.buf) == len(p.buf) {
		b := make([]byte, len(p.buf), max(partialRoom(len(p.buf), need), 2*len(p.buf), 512))
		copy(b, p.buf)
		p.buf = b
	}
	n, err := p.nc.Read(p.buf[len(p.buf):cap(p.buf)])
	p.buf = p.buf[:len(p.buf)+n]
	return err
}

func (p *rawProbe) established(c *EngineConn) {
	var leftover []byte
	if len(p.buf) > 0 {
		leftover = clone(p.buf)
	}
	c.startNetReader(p.nc, leftover)
}
