package sio

import (
	"encoding/json"
	"time"
)

// pendingBinary is a binary packet whose attachments are being received.
// Its size is bounded as each attachment arrives, before it is kept: past
// limit the connection is closed (see binaryLimit).
type pendingBinary struct {
	p      *Packet
	args   []json.RawMessage
	bufs   [][]byte
	size   int    // bytes so far, text part included
	limit  int    // most bytes the packet may total
	refuse string // the refusal reason when size passes limit
}

// handle takes one Socket.IO message: a text packet, or an attachment of
// the binary packet being reassembled.
func (cl *client) handle(data []byte, binaryData bool) error {
	if binaryData {
		return cl.attachment(data)
	}
	if cl.pending != nil {
		return sioErr("text packet while reassembling a binary packet")
	}
	p, err := decodeHeader(data, cl.s.lim, &cl.s.names)
	if err != nil {
		return err
	}
	if p.Type == pEvent || p.Type == pBinaryEvent {
		// The event cap is checked on the raw packet, before any JSON work.
		if sock, c := cl.eventCap(p.Nsp); c != nil && len(data) > c.limit {
			if p.Attachments > 0 {
				// Its attachments would have to be read: refused at once.
				return refusedErr(RefuseBinaryTooLarge, "binary packet over the event cap")
			}
			cl.oversize(sock, c, &p, len(data))
			return nil
		}
	}
	if err := p.validate(cl.s.lim); err != nil {
		return err
	}
	var args []json.RawMessage
	if p.Type == pEvent || p.Type == pAck || p.Type == pBinaryEvent || p.Type == pBinaryAck {
		if args, err = splitValidArray(p.Data); err != nil { // validate checked p.Data
			return err
		}
	}
	if p.Attachments > 0 {
		if err := checkPlaceholders(args, p.Attachments); err != nil {
			return err
		}
		return cl.startBinary(p, args, len(data))
	}
	return cl.dispatch(&p, args, nil)
}

// startBinary begins the reassembly of p, whose text part is size bytes,
// and arms the attachment timeout. p comes by value: the packet of every
// other message stays off the heap.
func (cl *client) startBinary(p Packet, args []json.RawMessage, size int) error {
	limit, reason := cl.binaryLimit(&p)
	if size > limit {
		return refusedErr(reason, "binary packet too large")
	}
	cl.pending = &pendingBinary{p: &p, args: args, size: size, limit: limit, refuse: reason,
		bufs: make([][]byte, 0, p.Attachments)}
	conn := cl.conn
	t := time.AfterFunc(cl.s.opts.AttachmentTimeout, func() {
		conn.refuse(RefuseBinaryTimeout, nil)
	})
	cl.mu.Lock()
	cl.binTimer = t
	cl.mu.Unlock()
	return nil
}

// binaryLimit is the most bytes a binary packet p may total, text part
// included, and the reason it is refused past that: MaxPayload, lowered to
// the namespace's event cap for an event, or preConnectBytes when the
// client has not joined p's namespace (the packet would be ignored).
func (cl *client) binaryLimit(p *Packet) (int, string) {
	cl.mu.Lock()
	sock := cl.socket(p.Nsp)
	cl.mu.Unlock()
	if sock == nil {
		return preConnectBytes, RefuseBinaryBeforeConnect
	}
	limit := int(cl.s.opts.MaxPayload)
	if c := sock.ns.eventCap.Load(); p.Type == pBinaryEvent && c != nil && c.limit > 0 {
		limit = min(limit, c.limit)
	}
	return limit, RefuseBinaryTooLarge
}

// attachment takes one binary attachment of the packet being reassembled.
func (cl *client) attachment(data []byte) error {
	pb := cl.pending
	if pb == nil {
		return sioErr("unexpected binary attachment")
	}
	pb.size += len(data)
	if pb.size > pb.limit {
		cl.pending = nil
		cl.stopBinaryTimer()
		return refusedErr(pb.refuse, "binary packet too large")
	}
	pb.bufs = append(pb.bufs, data)
	if len(pb.bufs) < pb.p.Attachments {
		return nil
	}
	cl.pending = nil
	cl.stopBinaryTimer()
	return cl.dispatch(pb.p, pb.args, pb.bufs)
}

// stopBinaryTimer stops the attachment timeout of the packet that was
// being reassembled.
func (cl *client) stopBinaryTimer() {
	cl.mu.Lock()
	t := cl.binTimer
	cl.binTimer = nil
	cl.mu.Unlock()
	if t != nil {
		t.Stop()
	}
}
