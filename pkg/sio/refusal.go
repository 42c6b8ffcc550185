package sio

import (
	"errors"
	"io"
	"net"
	"time"

	"go.uber.org/zap"
)

// Refusal reasons: why the server refused an input to protect itself or its
// other clients. Each refusal is reported once to Options.OnRefuse (hubd
// counts them in hubd_refusals_total{reason}). The set is fixed: these
// constants are every value OnRefuse can get.
const (
	RefuseParseError          = "parse_error"           // malformed Engine.IO or Socket.IO packet
	RefusePayloadTooLarge     = "payload_too_large"     // WebSocket message or polling body over MaxPayload
	RefuseTooManyAttachments  = "too_many_attachments"  // binary packet announcing more than MaxAttachments
	RefuseBinaryTooLarge      = "binary_too_large"      // binary packet (text and attachments) over MaxPayload or the namespace's event cap
	RefuseBinaryBeforeConnect = "binary_before_connect" // binary packet over preConnectBytes for a namespace not joined
	RefuseBinaryTimeout       = "binary_timeout"        // attachments not all received within AttachmentTimeout
	RefuseTooManyNamespaces   = "too_many_namespaces"   // CONNECT past MaxNamespaces
	RefuseNamespaceTooLong    = "namespace_too_long"    // namespace name over MaxNamespaceLen bytes
	RefuseInvalidUTF8         = "invalid_utf8"          // text frame or polling body that is not UTF-8
	RefuseRequestOverlap      = "request_overlap"       // a polling POST while another one is read
	RefuseSlowConsumer        = "slow_consumer"         // write queue full
	RefuseOrigin              = "origin"                // Origin not in AllowedOrigins
	RefuseEventTooLarge       = "event_too_large"       // event over the namespace's event cap (answered, connection kept)
	RefuseConnectTimeout      = "connect_timeout"       // no namespace joined within ConnectTimeout
)

// MaxNamespaceLen is the longest namespace name accepted, in bytes. A
// packet naming a longer one closes the connection; the name is not echoed.
const MaxNamespaceLen = 256

// preConnectBytes is the most data a connection may hold before it joins
// a namespace: received packets waiting for their handler (WebSocket) and
// a binary packet for a namespace it has not joined.
const preConnectBytes = 64 << 10

// refusal is the server's reaction to one reason.
type refusal struct {
	// closeReason is the reason the connection is closed with; "" when it
	// stays open (the refusal is answered, or no session exists yet).
	closeReason string
	// wsCode is the WebSocket close code sent before the connection is
	// closed; 0 sends none (the TCP connection is closed, as the
	// reference server does on a parse error).
	wsCode int
}

// WebSocket close codes (RFC 6455, section 7.4.1).
const (
	wsPolicyViolation  = 1008
	wsInvalidPayload   = 1007
	wsMessageTooBig    = 1009
	closeFrameWriteTTL = time.Second
	// After a close frame, what the client still sends is read and
	// dropped for up to closeLinger and closeLingerBytes before the TCP
	// connection is closed: closed at once with unread data, it would be
	// reset, and the reset may destroy the close frame before the client
	// reads it.
	closeLinger      = time.Second
	closeLingerBytes = 4 << 20
)

// refusals is the reaction to every reason, in one place.
var refusals = map[string]refusal{
	RefuseParseError:          {closeReason: "parse error"},
	RefusePayloadTooLarge:     {closeReason: "transport error", wsCode: wsMessageTooBig},
	RefuseTooManyAttachments:  {closeReason: "parse error"},
	RefuseBinaryTooLarge:      {closeReason: "transport error", wsCode: wsMessageTooBig},
	RefuseBinaryBeforeConnect: {closeReason: "transport error", wsCode: wsMessageTooBig},
	RefuseBinaryTimeout:       {closeReason: "transport error", wsCode: wsPolicyViolation},
	RefuseTooManyNamespaces:   {},
	RefuseNamespaceTooLong:    {closeReason: "parse error", wsCode: wsPolicyViolation},
	RefuseInvalidUTF8:         {closeReason: "transport error", wsCode: wsInvalidPayload},
	RefuseRequestOverlap:      {closeReason: "transport error"},
	RefuseSlowConsumer:        {closeReason: "slow consumer"},
	RefuseOrigin:              {},
	RefuseEventTooLarge:       {},
	RefuseConnectTimeout:      {closeReason: "connect timeout"},
}

// RefusalReasons lists every reason OnRefuse may be called with, so that
// a counter can start each at zero.
func RefusalReasons() []string {
	out := make([]string, 0, len(refusals))
	for r := range refusals {
		out = append(out, r)
	}
	return out
}

// refusalOf is the reason a packet error counts as.
func refusalOf(err error) string {
	var pe *PacketError
	if errors.As(err, &pe) && pe.Refusal != "" {
		return pe.Refusal
	}
	return RefuseParseError
}

// refuse reports reason and closes the connection as refusals says. Only
// the first refusal of a connection closing it is reported.
func (c *EngineConn) refuse(reason string, err error) { c.refuseClose(reason, err, true) }

// refuseClose is refuse; sendCode false when the WebSocket close frame
// is already out (the library answers an oversize frame itself).
func (c *EngineConn) refuseClose(reason string, err error, sendCode bool) {
	r := refusals[reason]
	if r.closeReason == "" {
		c.e.opts.OnRefuse(reason)
		return
	}
	if !c.refused.CompareAndSwap(false, true) {
		return
	}
	select {
	case <-c.done:
		return // ended meanwhile: nothing refused
	default:
	}
	c.e.opts.OnRefuse(reason)
	c.e.log.Debug("connection refused", zap.String("sid", c.id), zap.String("reason", reason), zap.Error(err))
	if r.wsCode != 0 {
		if sendCode {
			c.writeWSClose(r.wsCode)
		}
		c.lingering.Store(true)
	}
	c.Close(r.closeReason)
}

// writeWSClose writes a close frame with code straight to the WebSocket,
// when the session has one. A frame write is one system call under the
// connection's write lock, so it cannot split a frame of the writer.
func (c *EngineConn) writeWSClose(code int) { c.sendClose(code, false) }

// echoClose answers a client's close frame with one (RFC 6455 5.5.1): the
// status code it sent, or none when it sent none. It is skipped while the
// writer has data in flight: that write may wait for a slow client's
// window, and the caller (a network poller goroutine, which serves many
// connections) must not; the connection closes either way.
func (c *EngineConn) echoClose(code int) { c.sendClose(code, true) }

// sendClose writes a close frame with code (closeNoStatus: none), unless
// ifIdle and the writer is busy.
func (c *EngineConn) sendClose(code int, ifIdle bool) {
	c.wmu.Lock()
	nc := c.wconn
	busy := c.writing && !(c.parked && c.qh == len(c.q))
	c.wmu.Unlock()
	if nc == nil || ifIdle && busy {
		return
	}
	frame := []byte{0x80 | opClose, 0}
	if code != closeNoStatus {
		frame = []byte{0x80 | opClose, 2, byte(code >> 8), byte(code)}
	}
	_ = nc.SetWriteDeadline(time.Now().Add(closeFrameWriteTTL))
	_, _ = nc.Write(frame)
}

// closeNoStatus is the status of a close frame that carries none (RFC
// 6455 7.4.1: never sent on the wire).
const closeNoStatus = 1005

// lingerClose shuts the write side of the WebSocket (its close frame is
// out), drops what the client still sends for a bounded time and amount,
// then closes it.
func (c *EngineConn) lingerClose(ws net.Conn) {
	c.wmu.Lock()
	nc := c.wconn
	c.wmu.Unlock()
	if nc == nil {
		_ = ws.Close()
		return
	}
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	deadline := time.Now().Add(closeLinger)
	_ = nc.SetReadDeadline(deadline)
	if n, err := io.CopyN(io.Discard, nc, closeLingerBytes); n == closeLingerBytes && err == nil {
		// Still sending: stop reading (TCP pushes back on the client) and
		// leave it the rest of the time to read the close frame.
		time.Sleep(time.Until(deadline))
	}
	_ = ws.Close()
}
