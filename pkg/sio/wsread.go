package sio

import (
	"encoding/binary"
	"errors"
	"unicode/utf8"
)

// This file parses the client's side of an established WebSocket (RFC 6455)
// for the readers that do not use the WebSocket library: the network poller
// (netpoll.go) and the upgrade probe. It checks what the library checks, with
// the same outcome: a protocol violation is answered with close code 1002
// and closes the connection ("transport error"), a message over MaxPayload
// with 1009 (refusal payload_too_large).

const (
	opContinuation = 0x0
	opPing         = 0x9

	wsFinBit  = 0x80
	wsRSVBits = 0x70
	wsMaskBit = 0x80

	wsProtocolError  = 1002
	wsMaxControlSize = 125
	// wsMaxClientHeader is the largest header of a masked client frame.
	wsMaxClientHeader = 14
)

var (
	errWSProtocol = errors.New("websocket protocol error")
	errWSTooLarge = errors.New("websocket message over the read limit")
)

// wsEventKind is what one parsed frame amounts to.
type wsEventKind uint8

const (
	wsNone    wsEventKind = iota // a fragment of a message not yet complete
	wsMessage                    // a complete text or binary message
	wsPing
	wsPong
	wsClose
)

// wsEvent is one parsed frame. data points into the parsed buffer (or into
// the reassembled message) and is only valid until the next parse.
type wsEvent struct {
	kind   wsEventKind
	binary bool
	data   []byte
}

// wsIn is the state kept between reads of one connection: the fragments of
// a message not complete yet. It is empty (no allocation) between messages.
type wsIn struct {
	msg    []byte // payload of the fragmented message in progress
	msgOp  byte   // its opcode; 0 when no message is in progress
	msgLen int64  // its length so far, for the read limit
}

// next parses the frame at the start of p. n is the number of bytes the
// frame spans, 0 when p does not hold all of it; need is then the size of
// the whole frame when its header is complete (0 when not even that). The
// payload is unmasked in place. A message longer than limit is refused as
// soon as its header says so.
func (w *wsIn) next(p []byte, limit int64) (ev wsEvent, n, need int, err error) {
	if len(p) < 2 {
		return ev, 0, 0, nil
	}
	b0, b1 := p[0], p[1]
	fin, op := b0&wsFinBit != 0, b0&0x0f
	if b0&wsRSVBits != 0 || b1&wsMaskBit == 0 {
		return ev, 0, 0, errWSProtocol
	}
	size := int64(b1 & 0x7f)
	hdr := 2
	switch size {
	case 126:
		if len(p) < 4 {
			return ev, 0, 0, nil
		}
		size, hdr = int64(binary.BigEndian.Uint16(p[2:])), 4
	case 127:
		if len(p) < 10 {
			return ev, 0, 0, nil
		}
		u := binary.BigEndian.Uint64(p[2:])
		if u>>63 != 0 {
			return ev, 0, 0, errWSProtocol
		}
		size, hdr = int64(u), 10
	}
	if err := w.checkHeader(op, fin, size, limit); err != nil {
		return ev, 0, 0, err
	}
	hdr += 4 // masking key
	total := int64(hdr) + size
	if int64(len(p)) < total {
		return ev, 0, int(total), nil
	}
	payload := p[hdr:total]
	maskWS(p[hdr-4:hdr], payload)
	return w.event(op, fin, payload), int(total), 0, nil
}

// checkHeader applies RFC 6455's rules on opcodes, fragmentation and
// control frames, and the read limit on the message's total length.
func (w *wsIn) checkHeader(op byte, fin bool, size, limit int64) error {
	switch op {
	case opClose, opPing, opPong:
		if size > wsMaxControlSize || !fin {
			return errWSProtocol
		}
		return nil
	case opText, opBinary:
		if w.msgOp != 0 {
			return errWSProtocol // a new message inside a fragmented one
		}
		w.msgLen = 0
	case opContinuation:
		if w.msgOp == 0 {
			return errWSProtocol // nothing to continue
		}
	default:
		return errWSProtocol
	}
	if size > limit || w.msgLen+size > limit {
		return errWSTooLarge
	}
	return nil
}

// event turns a complete frame into what it means for the connection.
func (w *wsIn) event(op byte, fin bool, payload []byte) wsEvent {
	switch op {
	case opPing:
		return wsEvent{kind: wsPing, data: payload}
	case opPong:
		return wsEvent{kind: wsPong}
	case opClose:
		return wsEvent{kind: wsClose, data: payload}
	}
	if op != opContinuation && fin {
		return wsEvent{kind: wsMessage, binary: op == opBinary, data: payload}
	}
	if op != opContinuation {
		w.msgOp = op
	}
	w.msgLen += int64(len(payload))
	w.msg = append(w.msg, payload...)
	if !fin {
		return wsEvent{kind: wsNone}
	}
	ev := wsEvent{kind: wsMessage, binary: w.msgOp == opBinary, data: w.msg}
	w.msg, w.msgOp, w.msgLen = nil, 0, 0
	return ev
}

// validClose reports whether a received close frame's payload is one the
// WebSocket library accepts: empty, or a valid code and a UTF-8 reason.
func validClose(p []byte) bool {
	if len(p) == 0 {
		return true
	}
	if len(p) == 1 {
		return false
	}
	code := int(binary.BigEndian.Uint16(p))
	valid := (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)
	return valid && utf8.Valid(p[2:])
}

// maskWS applies the 4-byte masking key to p in place.
func maskWS(key []byte, p []byte) {
	k := binary.LittleEndian.Uint32(key)
	k64 := uint64(k) | uint64(k)<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		v := binary.LittleEndian.Uint64(p[i:])
		binary.LittleEndian.PutUint64(p[i:], v^k64)
	}
	for ; i < len(p); i++ {
		p[i] ^= key[i&3]
	}
}
