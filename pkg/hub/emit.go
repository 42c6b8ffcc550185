package hub

import (
	"encoding/json"
	"fmt"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/sio"
)

// The emit helpers: the only code of the package that hands events to
// sockets (TestOnlyTheEmitHelpersEmit). Each takes an Event, which only a
// declaration (outbound.go) makes.

// Event is one outbound event with its payload encoded: made by Out[P].Of,
// by arrivedEvent, or rebuilt from what another node encoded that way.
type Event struct {
	name    string
	payload json.RawMessage
	err     error
}

// Name is the event's name.
func (e Event) Name() string { return e.name }

// Payload is the encoded payload (nil when it could not be encoded).
func (e Event) Payload() json.RawMessage { return e.payload }

func encodeEvent(name string, p any) Event {
	raw, err := json.Marshal(p)
	if err != nil {
		return Event{name: name, err: fmt.Errorf("encode %s payload: %w", name, err)}
	}
	return Event{name: name, payload: raw}
}

// relayed is an event another node encoded from a declaration and sent in
// a room operation.
func relayed(name string, payload json.RawMessage) Event {
	return Event{name: name, payload: payload}
}

// arrivedEvent is hub:messageArrived of m, written in one buffer by the
// message's own encoder: the hot path of every broadcast.
func arrivedEvent(m *msgstore.Message) Event {
	return Event{name: outMessageArrived.Name(), payload: appendArrived(make([]byte, 0, arrivedSize(m)), m)}
}

// ok reports whether e can be sent, logging why not.
func (h *Hub) ok(e Event) bool {
	if e.err != nil || e.payload == nil {
		h.log.Error("event not sent", zap.String("event", e.name), zap.Error(e.err))
		return false
	}
	return true
}

// emitSocket sends e to one socket.
func (h *Hub) emitSocket(s *sio.Socket, e Event) {
	if h.ok(e) {
		_ = s.Emit(e.name, e.payload)
	}
}

// emitSocketOffset sends e to one socket with a recovery offset.
func (h *Hub) emitSocketOffset(s *sio.Socket, offset string, e Event) {
	if h.ok(e) {
		_ = s.EmitOffset(offset, e.name, e.payload)
	}
}

// emitRoom sends e to every reader of a room, on every node.
func (h *Hub) emitRoom(roomID string, e Event) {
	h.emitReaders(roomID, e)
}

// emitReaders sends e to the readers of a room but the sockets except
// names, on every node.
func (h *Hub) emitReaders(roomID string, e Event, except ...string) {
	if !h.ok(e) {
		return
	}
	b := h.ns.To(readers(roomID))
	if len(except) > 0 {
		b = b.Except(except...)
	}
	_ = b.Emit(e.name, e.payload)
}

// emitReadersLocal sends e to the readers of a room on this node (the sio
// room readersRoom, readers(roomID)), with a recovery offset ("" none).
func (h *Hub) emitReadersLocal(roomID, readersRoom, offset string, e Event) {
	if !h.ok(e) {
		return
	}
	var key any // the parsed offset, nil when it has none
	if k := offsetKey(offset, roomID); k != nil {
		key = k
	}
	_ = h.ns.LocalTo(readersRoom, offset, key).Emit(e.name, e.payload)
}

// emitReplay sends a replayed event to one socket with its offset; the
// socket's offset gate is told it is a replay.
func (h *Hub) emitReplay(s *sio.Socket, offset string, e Event) {
	if h.ok(e) {
		_ = s.ReplayOffset(offset, e.name, e.payload)
	}
}
