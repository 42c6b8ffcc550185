package sio

import (
	"encoding/binary"
	"sync/atomic"
)

// wsMaxHeader is the largest header of an unmasked server WebSocket frame.
const wsMaxHeader = 10

const (
	opText   = 0x1
	opBinary = 0x2
	opClose  = 0x8
	opPong   = 0xA
)

// frame is one Engine.IO packet ready for both transports. buf holds
// wsMaxHeader reserved bytes followed by the payload; finish writes the
// WebSocket header right-aligned into the reserved bytes, so the WebSocket
// frame and the polling payload share one buffer and are built once.
// A frame is immutable after finish and is shared by every recipient of a
// broadcast.
type frame struct {
	buf    []byte
	start  int // offset of the WebSocket frame in buf
	binary bool
	op     byte
	// deflated is the frame for permessage-deflate connections, made by
	// the first of them to write it (see deflatedWire).
	deflated atomic.Pointer[[]byte]
}

// newFrameBuf returns a buffer with the header space reserved and capacity
// for n payload bytes.
func newFrameBuf(n int) []byte {
	b := make([]byte, wsMaxHeader, wsMaxHeader+n)
	return b
}

// finish builds the WebSocket header for buf (as returned by newFrameBuf and
// appended to) and returns the frame.
func finish(buf []byte, binaryData bool) *frame {
	op := byte(opText)
	if binaryData {
		op = opBinary
	}
	return finishOp(buf, op, binaryData)
}

func finishOp(buf []byte, op byte, binaryData bool) *frame {
	var hdr [wsMaxHeader]byte
	h := appendWSHeader(hdr[:0], op, len(buf)-wsMaxHeader)
	start := wsMaxHeader - len(h)
	copy(buf[start:], h)
	return &frame{buf: buf, start: start, binary: binaryData, op: op}
}

// appendWSHeader appends the header of a final, unmasked frame of opcode
// op with an n-byte payload (RFC 6455 5.2) to b.
func appendWSHeader(b []byte, op byte, n int) []byte {
	switch {
	case n < 126:
		return append(b, 0x80|op, byte(n))
	case n < 1<<16:
		return binary.BigEndian.AppendUint16(append(b, 0x80|op, 126), uint16(n))
	}
	return binary.BigEndian.AppendUint64(append(b, 0x80|op, 127), uint64(n))
}

// payload is the Engine.IO packet (text) or raw data (binary).
func (f *frame) payload() []byte { return f.buf[wsMaxHeader:] }

// wire is the complete WebSocket frame.
func (f *frame) wire() []byte { return f.buf[f.start:] }

// textFrame builds a text frame for a small constant Engine.IO packet.
func textFrame(s string) *frame {
	b := newFrameBuf(len(s))
	b = append(b, s...)
	return finish(b, false)
}

// binaryFrame copies data into a binary frame.
func binaryFrame(data []byte) *frame {
	b := newFrameBuf(len(data))
	b = append(b, data...)
	return finish(b, true)
}

// Constant control frames, shared by all connections.
var (
	framePing      = textFrame("2")
	framePongProbe = textFrame("3probe")
	frameNoop      = textFrame("6")
	frameClose     = textFrame("1")
)

// wsCloseFrame is a WebSocket close frame with status 1000.
var wsCloseFrame = func() *frame {
	b := newFrameBuf(2)
	b = append(b, 0x03, 0xE8)
	return finishOp(b, opClose, false)
}()

// outbound is one queue item: a packet with its attachments, or a graceful
// close marker. Broadcast items are shared by all recipients.
type outbound struct {
	frames []*frame
	close  bool
}

var closeItem = &outbound{close: true}
