package sio

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Socket is one client connected to one namespace.
type Socket struct {
	id     string
	nsp    string // the namespace name the client used
	ns     *Namespace
	client *client
	done   chan struct{}

	connected atomic.Bool
	closeOnce sync.Once

	pid       string // recovery session id; "" when recovery is off
	recovered bool
	gate      atomic.Pointer[OffsetGate]
	offMu     sync.Mutex // serializes gate calls with queueing (recovery.go)

	// rooms the socket joined, its own id room aside (a short list: a hub
	// socket is in at most maxRoomsPerUser rooms); guarded by ns.mu
	rooms []string

	ackMu   sync.Mutex
	nextAck int64
	acks    map[int64]chan []json.RawMessage

	dataMu sync.RWMutex
	data   any
}

// ID is the socket id (also the name of its own room).
func (s *Socket) ID() string { return s.id }

// Namespace is the namespace the socket is connected to.
func (s *Socket) Namespace() *Namespace { return s.ns }

// NamespaceName is the namespace name the client used (an alias may differ
// from Namespace().Name()).
func (s *Socket) NamespaceName() string { return s.nsp }

// Request is the handshake request: headers (those of
// Options.RequestHeaders when set), query, RemoteAddr (body not usable).
func (s *Socket) Request() *http.Request { return s.client.conn.Request() }

// Transport is the current transport, "polling" or "websocket".
func (s *Socket) Transport() string { return s.client.conn.Transport() }

// LastActivity is when the last packet of any kind (pongs included) was
// received on the socket's Engine.IO connection. It is shared by the sockets
// of all namespaces on that connection.
func (s *Socket) LastActivity() time.Time { return s.client.conn.LastActivity() }

// Connected reports whether the socket is still connected.
func (s *Socket) Connected() bool { return s.connected.Load() }

// Done is closed when the socket disconnects.
func (s *Socket) Done() <-chan struct{} { return s.done }

// SetData stores an application value.
func (s *Socket) SetData(v any) {
	s.dataMu.Lock()
	s.data = v
	s.dataMu.Unlock()
}

// Data returns the application value.
func (s *Socket) Data() any {
	s.dataMu.RLock()
	defer s.dataMu.RUnlock()
	return s.data
}

// Emit sends an event to this socket. []byte args become binary attachments,
// json.RawMessage args are inserted as is, others go through encoding/json.
func (s *Socket) Emit(event string, args ...any) error {
	if !s.connected.Load() {
		return ErrSocketClosed
	}
	frames, err := encodePacket(s.nsp, pEvent, -1, event, true, args)
	if err != nil {
		return fmt.Errorf("emit %q: %w", event, err)
	}
	return s.client.conn.enqueue(&outbound{frames: frames})
}

// EmitWithAck sends an event and waits for the client's ack. Without a ctx
// deadline, Options.AckTimeout applies.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) ([]json.RawMessage, error) {
	if !s.connected.Load() {
		return nil, ErrSocketClosed
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.client.s.opts.AckTimeout)
		defer cancel()
	}
	ch := make(chan []json.RawMessage, 1)
	s.ackMu.Lock()
	id := s.nextAck
	s.nextAck++
	if s.acks == nil {
		s.acks = make(map[int64]chan []json.RawMessage)
	}
	s.acks[id] = ch
	s.ackMu.Unlock()
	drop := func() {
		s.ackMu.Lock()
		delete(s.acks, id)
		s.ackMu.Unlock()
	}
	frames, err := encodePacket(s.nsp, pEvent, id, event, true, args)
	if err != nil {
		drop()
		return nil, fmt.Errorf("emit %q: %w", event, err)
	}
	if err := s.client.conn.enqueue(&outbound{frames: frames}); err != nil {
		drop()
		return nil, err
	}
	select {
	case res := <-ch:
		return res, nil
	case <-ctx.Done():
		drop()
		return nil, fmt.Errorf("emit %q: %w: %w", event, ErrAckTimeout, ctx.Err())
	case <-s.done:
		drop()
		return nil, ErrSocketClosed
	}
}

func (s *Socket) onAck(id int64, args []json.RawMessage, _ [][]byte) {
	s.ackMu.Lock()
	ch, ok := s.acks[id]
	delete(s.acks, id)
	s.ackMu.Unlock()
	if ok {
		ch <- args
	}
}

// Join adds the socket to rooms.
func (s *Socket) Join(rooms ...string) {
	if !s.connected.Load() {
		return
	}
	s.ns.mu.Lock()
	for _, r := range rooms {
		s.ns.joinLocked(s, r)
	}
	s.ns.mu.Unlock()
}

// Leave removes the socket from rooms.
func (s *Socket) Leave(rooms ...string) {
	s.ns.mu.Lock()
	for _, r := range rooms {
		s.ns.leaveLocked(s, r)
	}
	s.ns.mu.Unlock()
}

// Rooms lists the rooms the socket is in, its own id room included. It
// cannot leave that one: it is in it for as long as it is connected.
func (s *Socket) Rooms() []string {
	s.ns.mu.RLock()
	defer s.ns.mu.RUnlock()
	out := make([]string, 0, len(s.rooms)+1)
	if !slices.Contains(s.rooms, s.id) {
		out = append(out, s.id)
	}
	for _, r := range s.rooms {
		out = append(out, r)
	}
	return out
}

// Disconnect sends DISCONNECT for this namespace and removes the socket.
// The Engine.IO connection stays open for other namespaces.
func (s *Socket) Disconnect(reason string) {
	if reason == "" {
		reason = "server namespace disconnect"
	}
	s.close(reason, true)
}

func (s *Socket) close(reason string, sendPacket bool) {
	s.closeOnce.Do(func() {
		s.connected.Store(false)
		if sendPacket {
			_ = s.client.conn.enqueue(&outbound{frames: []*frame{controlPacket(pDisconnect, s.nsp, nil)}})
		}
		s.client.remove(s)
		s.ns.remove(s)
		s.client.s.sockets.Add(-1)
		close(s.done)
		if h, ok := handler(&s.ns.onDisconnect); ok && h != nil {
			h(s, reason)
		}
	})
}

// Event is an incoming EVENT or BINARY_EVENT.
type Event struct {
	Name string
	// Args excludes the name. In a binary event a placeholder argument
	// {"_placeholder":true,"num":N} stays in Args; its bytes are
	// Attachments[N] (see Binary).
	//
	// Every argument of an Event the server hands to a handler is valid
	// JSON (json.Valid accepts it): a client's packet is validated whole
	// before it is split (client.handle, for every transport), and a
	// server-side event of another node likewise (deliverServerSide).
	// Handlers rely on it and do not check again; an Event built by hand
	// must hold the same (FuzzEventArgsAreValidJSON).
	Args        []json.RawMessage
	Attachments [][]byte

	sock  *Socket
	id    int64
	acked atomic.Bool
}

// Socket is the sender.
func (e *Event) Socket() *Socket { return e.sock }

// Binary returns the attachment for argument i when it is a placeholder.
func (e *Event) Binary(i int) ([]byte, bool) {
	if i < 0 || i >= len(e.Args) || len(e.Attachments) == 0 {
		return nil, false
	}
	n, ok := placeholderNum(e.Args[i])
	if !ok || n < 0 || n >= len(e.Attachments) {
		return nil, false
	}
	return e.Attachments[n], true
}

// HasAck reports whether the client asked for an ack.
func (e *Event) HasAck() bool { return e.id >= 0 }

// Ack answers the client's ack callback. Safe to call once, from any goroutine.
func (e *Event) Ack(args ...any) error {
	s, err := e.acking()
	if err != nil {
		return err
	}
	frames, err := encodePacket(s.nsp, pAck, e.id, "", false, args)
	if err != nil {
		return fmt.Errorf("ack %q: %w", e.Name, err)
	}
	return s.client.conn.enqueue(&outbound{frames: frames})
}

// acking marks the event acked and returns the socket to ack it on; an
// error when it cannot be acked (again).
func (e *Event) acking() (*Socket, error) {
	if e.id < 0 {
		return nil, ErrNoAck
	}
	if !e.acked.CompareAndSwap(false, true) {
		return nil, ErrAckSent
	}
	if s := e.sock; s.connected.Load() {
		return s, nil
	}
	return nil, ErrSocketClosed
}

// AckJSON acks the event with one argument, the JSON that write appends
// to the packet as it is built (size estimates its length): the packet
// of Ack(json.RawMessage(write(nil))), byte for byte, without a buffer of
// its own for the argument. write must append valid JSON (nothing: null)
// and must not keep the slice it is given.
func (e *Event) AckJSON(size int, write func([]byte) []byte) error {
	s, err := e.acking()
	if err != nil {
		return err
	}
	buf := append(appendPacketHead(newFrameBuf(24+len(s.nsp)+size), pAck, 0, s.nsp, e.id), '[')
	n := len(buf)
	if buf = write(buf); len(buf) == n {
		buf = append(buf, "null"...)
	}
	f := finish(append(buf, ']'), false)
	return s.client.conn.enqueue(&outbound{frames: []*frame{f}})
}
