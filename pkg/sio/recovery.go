package sio

import "sync/atomic"

// Connection state recovery, as socket.io-client v4 speaks it (the
// reference server's connectionStateRecovery): the CONNECT reply carries a
// private session id (pid) next to the sid; events that carry an offset
// have it appended as their last argument; a reconnecting client sends
// {pid, offset} in its CONNECT auth and reports socket.recovered when the
// reply has the same pid. What a session holds and how it is restored is
// the application's: its OnConnect hook reads the auth and calls
// Socket.Resume to adopt the previous sid and pid.

// recovery is a namespace's recovery switch.
type recovery struct{ on atomic.Bool }

// SetRecovery turns connection state recovery on or off: with it on, every
// CONNECT reply carries a pid and offsets are appended to the events that
// carry one; with it off, offsets are dropped and no pid is sent (what a
// client without recovery expects).
func (n *Namespace) SetRecovery(on bool) { n.rec.on.Store(on) }

// Recovery reports whether connection state recovery is on.
func (n *Namespace) Recovery() bool { return n.rec.on.Load() }

// Resume makes a socket being admitted (call it from the OnConnect hook)
// the continuation of a previous session: it takes that session's sid and
// pid, and Recovered reports true. It does nothing once the socket is
// connected.
func (s *Socket) Resume(sid, pid string) {
	if s.connected.Load() || sid == "" || pid == "" {
		return
	}
	s.id, s.pid, s.recovered = sid, pid, true
}

// PID is the socket's private session id ("" when recovery is off).
func (s *Socket) PID() string { return s.pid }

// Recovered reports whether the socket continues a previous session.
func (s *Socket) Recovered() bool { return s.recovered }

// OffsetGate decides whether an event with an offset is queued to a
// socket; replay is true for ReplayOffset. key is the broadcast's offset
// key (Broadcast.OffsetKey: what the application parsed from the offset
// once for all recipients), nil for the other events. A socket's gate
// calls and the queueing of the events they pass are serialized, so a
// gate sees the socket's offset events in the order they are queued (the
// order the client receives them). It runs on the emitting goroutine,
// under the namespace's read lock for broadcasts: it must be quick,
// allocation-free on its common path, and must not call back into the
// namespace or the socket.
type OffsetGate func(offset string, key any, replay bool) bool

// SetOffsetGate installs the socket's gate; nil removes it.
func (s *Socket) SetOffsetGate(gate OffsetGate) {
	if gate == nil {
		s.gate.Store(nil)
		return
	}
	s.gate.Store(&gate)
}

// queueOffset queues a broadcast's frames to s when its gate passes them.
func (s *Socket) queueOffset(offset string, key any, o *outbound) {
	g := s.gate.Load()
	if offset == "" || g == nil {
		_ = s.client.conn.enqueue(o)
		return
	}
	s.offMu.Lock()
	if (*g)(offset, key, false) {
		_ = s.client.conn.enqueue(o)
	}
	s.offMu.Unlock()
}

// EmitOffset sends an event with its offset appended as the last argument
// (when recovery is on), through the socket's offset gate.
func (s *Socket) EmitOffset(offset, event string, args ...any) error {
	return s.emitOffset(offset, false, event, args)
}

// ReplayOffset is EmitOffset for an event sent again (a replay of missed
// events): the gate is told so, and may pass it where it holds back the
// live one.
func (s *Socket) ReplayOffset(offset, event string, args ...any) error {
	return s.emitOffset(offset, true, event, args)
}

func (s *Socket) emitOffset(offset string, replay bool, event string, args []any) error {
	if offset != "" && s.ns.rec.on.Load() {
		args = append(args[:len(args):len(args)], offset)
	}
	g := s.gate.Load()
	if offset == "" || g == nil {
		return s.Emit(event, args...)
	}
	s.offMu.Lock()
	defer s.offMu.Unlock()
	if !(*g)(offset, nil, replay) {
		return nil
	}
	return s.Emit(event, args...)
}

// Offset sets the offset of a broadcast: with recovery on it is appended
// to the event as its last argument, and each local recipient's offset gate
// decides whether it gets the event. Other nodes receive the event with the
// offset but do not consult gates: use offsets with Local broadcasts.
func (b *Broadcast) Offset(offset string) *Broadcast { return b.OffsetKey(offset, nil) }

// OffsetKey is Offset with the offset's key: what the application parsed
// from offset, handed to every local recipient's gate so that it is not
// parsed again for each of them. The gates must not modify it.
func (b *Broadcast) OffsetKey(offset string, key any) *Broadcast {
	nb := *b
	nb.offset, nb.key = offset, key
	return &nb
}

// connectReply is the CONNECT packet's payload: {"sid":...} and, with
// recovery on, "pid".
func connectReply(s *Socket) []byte {
	payload := make([]byte, 0, 80)
	payload = append(payload, `{"sid":`...)
	payload = appendJSONString(payload, s.id)
	if s.pid != "" {
		payload = append(payload, `,"pid":`...)
		payload = appendJSONString(payload, s.pid)
	}
	return append(payload, '}')
}
