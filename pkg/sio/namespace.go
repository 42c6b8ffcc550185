package sio

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Namespace groups sockets and rooms. Handlers may be set or replaced at any
// time; a nil handler is allowed.
//
// Lock order: client.mu, then Namespace.mu. While Namespace.mu is held only
// non-blocking channel sends happen; a full queue closes its connection from
// another goroutine.
type Namespace struct {
	name string

	// Handlers are swapped atomically so they may be replaced while the
	// namespace serves (a hub reload).
	onConnect    atomic.Pointer[func(s *Socket, auth json.RawMessage) error]
	onConnection atomic.Pointer[func(s *Socket)]
	onEvent      atomic.Pointer[func(s *Socket, ev *Event)]
	onDisconnect atomic.Pointer[func(s *Socket, reason string)]
	onServerSide atomic.Pointer[func(ev *Event)]

	stats    atomic.Pointer[counters]
	eventCap atomic.Pointer[eventCap]
	rec      recovery

	bindMu sync.Mutex // serializes attach/detach
	bound  atomic.Pointer[binding]

	mu      sync.RWMutex
	sockets map[*Socket]struct{}
	rooms   map[string]map[*Socket]struct{}
	// byID holds each socket's own room (its id) without a map per socket:
	// a room's sockets are rooms[room] plus byID[room] (see eachInLocked).
	// A socket whose id is still held by another (a recovered session's
	// old socket) joins its id room in rooms instead.
	byID map[string]*Socket
}

// NewNamespace returns a namespace not registered with any server, for
// SetNamespaceResolver.
func NewNamespace(name string) *Namespace {
	return &Namespace{
		name:    normNsp(name),
		sockets: make(map[*Socket]struct{}),
		rooms:   make(map[string]map[*Socket]struct{}),
		byID:    make(map[string]*Socket),
	}
}

// Name is the namespace name given at creation.
func (n *Namespace) Name() string { return n.name }

// OnConnect sets the admission hook, run before the client gets its CONNECT
// reply. A non-nil error => CONNECT_ERROR with message err.Error(); if err
// implements interface{ ErrorData() any } that is sent as "data".
func (n *Namespace) OnConnect(h func(s *Socket, auth json.RawMessage) error) { n.onConnect.Store(&h) }

// OnConnection sets a hook run after the client got its CONNECT reply (the
// place to emit a welcome).
func (n *Namespace) OnConnection(h func(s *Socket)) { n.onConnection.Store(&h) }

// OnEvent sets the catch-all for every EVENT/BINARY_EVENT; it runs on the
// socket's read goroutine, in arrival order per socket.
func (n *Namespace) OnEvent(h func(s *Socket, ev *Event)) { n.onEvent.Store(&h) }

// OnDisconnect sets the hook run once when a socket leaves the namespace.
func (n *Namespace) OnDisconnect(h func(s *Socket, reason string)) { n.onDisconnect.Store(&h) }

// eventCap is a namespace's application-level event size limit.
type eventCap struct {
	limit      int
	onOversize func(s *Socket, ev *Event, size int)
}

// SetMaxEventBytes caps incoming EVENT and BINARY_EVENT packets of the
// namespace at limit bytes: the Socket.IO packet as received (header, namespace,
// ack id and JSON) plus its binary attachments. The cap is checked on the raw
// packet before any JSON parsing. An event over the cap is not delivered to
// OnEvent; onOversize (may be nil) is called instead, on the socket's read
// goroutine, with an Event whose Args are empty but whose HasAck and Ack
// work, so the client's ack callback can be answered with an error. Its Name
// is the event name when it is a plain string (no escapes, at most 128
// bytes) at the start of the packet, else "". The
// connection stays open: this is an application limit, unlike
// Options.MaxPayload. limit <= 0 removes the cap.
func (n *Namespace) SetMaxEventBytes(limit int, onOversize func(s *Socket, ev *Event, size int)) {
	if limit <= 0 {
		n.eventCap.Store(nil)
		return
	}
	n.eventCap.Store(&eventCap{limit: limit, onOversize: onOversize})
}

func (n *Namespace) add(s *Socket, st *counters) {
	n.stats.CompareAndSwap(nil, st)
	n.mu.Lock()
	n.sockets[s] = struct{}{}
	if _, taken := n.byID[s.id]; taken {
		n.joinLocked(s, s.id)
	} else {
		n.byID[s.id] = s
	}
	n.mu.Unlock()
}

func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	delete(n.sockets, s)
	if n.byID[s.id] == s {
		delete(n.byID, s.id)
	}
	for _, r := range s.rooms {
		n.dropLocked(s, r)
	}
	s.rooms = nil
	n.mu.Unlock()
}

func (n *Namespace) joinLocked(s *Socket, room string) {
	m := n.rooms[room]
	if m == nil {
		m = make(map[*Socket]struct{})
		n.rooms[room] = m
	}
	m[s] = struct{}{}
	if !slices.Contains(s.rooms, room) {
		s.rooms = append(s.rooms, room)
	}
}

func (n *Namespace) leaveLocked(s *Socket, room string) {
	n.dropLocked(s, room)
	if i := slices.Index(s.rooms, room); i >= 0 {
		s.rooms = slices.Delete(s.rooms, i, i+1)
	}
}

// dropLocked takes s out of the room's socket map (not out of s.rooms).
func (n *Namespace) dropLocked(s *Socket, room string) {
	if m := n.rooms[room]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(n.rooms, room)
		}
	}
}

// eachInLocked calls fn once for every socket in room: those that joined
// it and the socket whose own room it is. n.mu must be held.
func (n *Namespace) eachInLocked(room string, fn func(*Socket)) {
	m := n.rooms[room]
	for s := range m {
		fn(s)
	}
	if s := n.byID[room]; s != nil {
		if _, dup := m[s]; !dup {
			fn(s)
		}
	}
}

// RoomSize is the number of sockets in room.
func (n *Namespace) RoomSize(room string) int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	size := 0
	n.eachInLocked(room, func(*Socket) { size++ })
	return size
}

// SocketsIn lists the sockets in room.
func (n *Namespace) SocketsIn(room string) []*Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Socket, 0, len(n.rooms[room])+1)
	n.eachInLocked(room, func(s *Socket) { out = append(out, s) })
	return out
}

// Sockets lists the sockets connected to the namespace on this node.
func (n *Namespace) Sockets() []*Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Socket, 0, len(n.sockets))
	for s := range n.sockets {
		out = append(out, s)
	}
	return out
}

// SocketCount is the number of sockets connected to the namespace.
func (n *Namespace) SocketCount() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

// DisconnectAll disconnects every socket of the namespace.
func (n *Namespace) DisconnectAll(reason string) {
	n.mu.RLock()
	all := make([]*Socket, 0, len(n.sockets))
	for s := range n.sockets {
		all = append(all, s)
	}
	n.mu.RUnlock()
	for _, s := range all {
		s.Disconnect(reason)
	}
}

// To starts a broadcast to the sockets in any of rooms.
func (n *Namespace) To(rooms ...string) *Broadcast { return &Broadcast{ns: n, to: rooms} }

// LocalTo is To(room).Local().OffsetKey(offset, key) (see OffsetKey;
// offset "" none) built in one allocation instead of one per step: the
// target of a room's broadcast on this node, once per message.
func (n *Namespace) LocalTo(room, offset string, key any) *Broadcast {
	b := &broadcastOne{}
	b.rooms[0] = room
	b.Broadcast = Broadcast{ns: n, to: b.rooms[:], local: true, offset: offset, key: key}
	return &b.Broadcast
}

// broadcastOne is a Broadcast with room for one room name.
type broadcastOne struct {
	Broadcast
	rooms [1]string
}

// Except starts a broadcast to every socket not in any of rooms.
func (n *Namespace) Except(rooms ...string) *Broadcast { return &Broadcast{ns: n, except: rooms} }

// Emit sends to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error {
	return (&Broadcast{ns: n}).Emit(event, args...)
}

// Broadcast is an immutable broadcast target; To and Except return copies.
type Broadcast struct {
	ns     *Namespace
	to     []string
	except []string
	local  bool
	offset string
	key    any // the offset's key (OffsetKey)
}

// To adds rooms to the target set (union).
func (b *Broadcast) To(rooms ...string) *Broadcast {
	nb := *b
	nb.to = append(slices.Clip(b.to), rooms...)
	return &nb
}

// Except excludes the sockets in rooms.
func (b *Broadcast) Except(rooms ...string) *Broadcast {
	nb := *b
	nb.except = append(slices.Clip(b.except), rooms...)
	return &nb
}

// Local restricts the broadcast to this node's sockets: nothing is
// published to the adapter (the caller carries it to the other nodes its
// own way).
func (b *Broadcast) Local() *Broadcast {
	nb := *b
	nb.local = true
	return &nb
}

// Emit encodes the event once and queues the same frames to every local
// recipient (one frame per namespace alias in use). It never blocks on a
// slow connection: a full queue disconnects that connection. When the
// namespace is attached to an Adapter, the encoded event is also published
// once for the other nodes; a failure there does not affect local delivery
// and is counted in Stats().AdapterErrors.
func (b *Broadcast) Emit(event string, args ...any) error {
	n := b.ns
	st := n.stats.Load()
	if st != nil {
		st.broadcasts.Add(1)
	}
	var extra string // the offset as the last argument
	if b.offset != "" && n.rec.on.Load() {
		extra = b.offset
	}
	enc := broadcastEncoder{offset: b.offset, key: b.key}
	bd := n.bound.Load()
	publish := bd != nil && !b.local && !bd.alone(n.name) // alone: nobody to publish to
	if !publish && encodable(args) {
		// Encoded for the first local recipient, if any (see forNsp).
		enc.event, enc.args, enc.extra, enc.lazy = event, args, extra, true
		n.deliver(b.to, b.except, &enc)
		return nil
	}
	f, body, atts, err := encodeEventFrame(n.name, event, args, extra)
	if err != nil {
		return fmt.Errorf("broadcast %q: %w", event, err)
	}
	if publish {
		m := BroadcastMessage{Node: bd.a.NodeID(), Namespace: n.name, Rooms: b.to, Except: b.except, Data: body, Attachments: atts}
		if err := bd.a.Publish(&m); err != nil && st != nil {
			st.adapterErrors.Add(1)
		}
	}
	enc.body, enc.atts = body, atts
	enc.first(n.name, f)
	n.deliver(b.to, b.except, &enc)
	return nil
}

// encodable reports that args encode without fail (appendArg): a
// broadcast of them may be encoded lazily, its error being none.
func encodable(args []any) bool {
	for _, a := range args {
		switch a.(type) {
		case nil, json.RawMessage, []byte, string, bool, int, int64:
		default:
			return false
		}
	}
	return true
}

// OnServerSideEvent sets the handler of the events other nodes send to this
// namespace with ServerSideEmit. It runs on the adapter's delivery
// goroutine, in the order the events were published by one node, so it
// must not block for long.
func (n *Namespace) OnServerSideEvent(h func(ev *Event)) { n.onServerSide.Store(&h) }

// ServerSideEmit sends an event to this namespace on every other node (not
// to any socket), where OnServerSideEvent receives it; as with broadcasts,
// delivery is at most once. Without an adapter it does nothing: there is
// no other node.
func (n *Namespace) ServerSideEmit(event string, args ...any) error {
	bd := n.bound.Load()
	if bd.alone(n.name) {
		return nil // no adapter, or a node on its own (the default adapter): nobody to tell
	}
	body, atts, err := encodeEventBody(event, args)
	if err != nil {
		return fmt.Errorf("server-side event %q: %w", event, err)
	}
	m := BroadcastMessage{Node: bd.a.NodeID(), Namespace: n.name, Data: body, Attachments: atts, ServerSide: true}
	if err := bd.a.Publish(&m); err != nil {
		if st := n.stats.Load(); st != nil {
			st.adapterErrors.Add(1)
		}
		return fmt.Errorf("server-side event %q: %w", event, err)
	}
	return nil
}

// Alone reports that no other node can receive this namespace's
// server-side events: it has no adapter, or an in-process one without
// peers (a node on its own). With a Redis adapter it is false.
func (n *Namespace) Alone() bool { return n.bound.Load().alone(n.name) }

func (bd *binding) alone(namespace string) bool {
	if bd == nil {
		return true
	}
	l, ok := bd.a.(interface{ alone(string) bool })
	return ok && l.alone(namespace)
}

// deliverServerSide hands a server-side event of another node to the
// handler. Events that do not decode are dropped.
func (n *Namespace) deliverServerSide(m *BroadcastMessage) {
	h, ok := handler(&n.onServerSide)
	if !ok {
		return
	}
	args, err := splitArray(m.Data)
	if err != nil || len(args) == 0 {
		return
	}
	var name string
	if json.Unmarshal(args[0], &name) != nil || name == "" {
		return
	}
	if len(m.Attachments) > 0 && checkPlaceholders(args[1:], len(m.Attachments)) != nil {
		return
	}
	// m aliases the adapter's buffer: the handler gets copies (splitArray's
	// already are).
	ev := &Event{Name: name, Args: args[1:]}
	for _, a := range m.Attachments {
		ev.Attachments = append(ev.Attachments, slices.Clone(a))
	}
	h(ev)
}

// deliverRemote delivers a broadcast published by another node to the
// local sockets.
func (n *Namespace) deliverRemote(m *BroadcastMessage) {
	if m.ServerSide {
		n.deliverServerSide(m)
		return
	}
	if st := n.stats.Load(); st != nil {
		st.remoteBroadcasts.Add(1)
	}
	n.deliver(m.Rooms, m.Except, &broadcastEncoder{body: m.Data, atts: m.Attachments})
}

// deliver queues the encoder's frames to the local sockets in any of to
// (all sockets if empty) and in none of except.
func (n *Namespace) deliver(to, except []string, enc *broadcastEncoder) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	var excluded map[*Socket]struct{}
	if len(except) > 0 {
		excluded = make(map[*Socket]struct{})
		for _, r := range except {
			n.eachInLocked(r, func(s *Socket) { excluded[s] = struct{}{} })
		}
	}
	send := func(s *Socket) {
		if _, skip := excluded[s]; skip {
			return
		}
		s.queueOffset(enc.offset, enc.key, enc.forNsp(s.nsp))
	}
	switch len(to) {
	case 0:
		for s := range n.sockets {
			send(s)
		}
	case 1:
		n.eachInLocked(to[0], send)
	default:
		seen := make(map[*Socket]struct{})
		for _, r := range to {
			n.eachInLocked(r, func(s *Socket) {
				if _, dup := seen[s]; !dup {
					seen[s] = struct{}{}
					send(s)
				}
			})
		}
	}
}

// broadcastEncoder frames an encoded event lazily, once per namespace name;
// the attachment frames are built once and shared by all names.
type broadcastEncoder struct {
	offset  string // "" when the event carries none
	key     any    // the offset's key, for the gates
	body    []byte
	atts    [][]byte
	nsp     string
	out     *outbound
	aliases map[string]*outbound
	// lazy: the event (event, args, extra) is encoded by the first forNsp,
	// so that a broadcast no local socket receives builds no frame; its
	// arguments are encodable.
	lazy  bool
	event string
	args  []any
	extra string
}

func (e *broadcastEncoder) forNsp(nsp string) *outbound {
	if e.lazy {
		e.lazy = false
		f, body, atts, err := encodeEventFrame(nsp, e.event, e.args, e.extra)
		if err != nil {
			panic(fmt.Sprintf("sio: encode an encodable broadcast: %v", err)) // encodable's promise broken
		}
		e.body, e.atts = body, atts
		e.first(nsp, f)
		return e.out
	}
	if e.out != nil && e.nsp == nsp {
		return e.out
	}
	if o, ok := e.aliases[nsp]; ok {
		return o
	}
	if e.out == nil {
		e.first(nsp, eventFrame(nsp, e.body, len(e.atts)))
		return e.out
	}
	frames := make([]*frame, 1, 1+len(e.atts))
	frames[0] = eventFrame(nsp, e.body, len(e.atts))
	frames = append(frames, e.out.frames[1:]...)
	o := &outbound{frames: frames}
	if e.aliases == nil {
		e.aliases = make(map[string]*outbound)
	}
	e.aliases[nsp] = o
	return o
}

// first sets the event's frame f for namespace name nsp, the first name
// framed: its item holds f and the attachments' frames, built once for all
// names.
func (e *broadcastEncoder) first(nsp string, f *frame) {
	it := &outboundOne{}
	it.frames = it.one[:]
	if len(e.atts) > 0 {
		it.frames = make([]*frame, 1, 1+len(e.atts))
		for _, a := range e.atts {
			it.frames = append(it.frames, binaryFrame(a))
		}
	}
	it.frames[0] = f
	e.nsp, e.out = nsp, &it.outbound
}

// outboundOne is a queue item with room for one frame, in one allocation.
type outboundOne struct {
	outbound
	one [1]*frame
}

// binding ties a namespace to the Adapter it publishes to and receives from.
type binding struct {
	a      Adapter
	cancel func()
}

// attach subscribes the namespace to a; it is a no-op when the namespace is
// already attached.
func (n *Namespace) attach(a Adapter) error {
	n.bindMu.Lock()
	defer n.bindMu.Unlock()
	if n.bound.Load() != nil {
		return nil
	}
	cancel, err := a.Subscribe(n.name, n.deliverRemote)
	if err != nil {
		return fmt.Errorf("subscribe namespace %s: %w", n.name, err)
	}
	n.bound.Store(&binding{a: a, cancel: cancel})
	return nil
}

// detach stops publishing to and receiving from the adapter.
func (n *Namespace) detach() {
	n.bindMu.Lock()
	defer n.bindMu.Unlock()
	if bd := n.bound.Swap(nil); bd != nil {
		bd.cancel()
	}
}

// handler loads a handler slot; nil when unset.
func handler[F any](p *atomic.Pointer[F]) (F, bool) {
	var zero F
	f := p.Load()
	if f == nil {
		return zero, false
	}
	return *f, true
}
