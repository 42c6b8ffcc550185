package sio

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Adapter carries broadcasts between the hubd nodes that serve the same
// namespaces, so a broadcast to a room reaches the room's sockets on every
// node. A node always delivers its own broadcasts to its local sockets
// directly; the adapter only forwards them to the other nodes and hands
// what they publish to the local namespace.
//
// Room membership stays node-local: each node evaluates Rooms and Except
// of a received broadcast against its own sockets.
type Adapter interface {
	// Publish hands one encoded broadcast to the other nodes. It is called
	// once per broadcast, must not block on the network, and must not keep
	// m or its slices after it returns. An error means the other nodes will
	// not get it; local delivery is not affected.
	Publish(m *BroadcastMessage) error
	// Subscribe calls fn for every broadcast another node publishes for
	// namespace (a Namespace.Name()), until cancel is called. fn must not
	// keep m or its slices after it returns.
	Subscribe(namespace string, fn func(m *BroadcastMessage)) (cancel func(), err error)
	// NodeID identifies this node; broadcasts it published are not
	// delivered back to it.
	NodeID() string
}

// BroadcastMessage is one broadcast as carried between nodes: the event is
// already encoded, so a receiving node only frames it.
type BroadcastMessage struct {
	Node      string   // NodeID of the publisher
	Namespace string   // Namespace.Name() (not an alias)
	Rooms     []string // target rooms (union); empty: every socket
	Except    []string // rooms whose sockets are left out
	// Data is the Socket.IO event payload, the JSON array ["event",args...]
	// with {"_placeholder":true,"num":N} for binary arguments.
	Data        []byte
	Attachments [][]byte
	// ServerSide marks an event for the namespace on the other nodes
	// (Namespace.ServerSideEmit) rather than for sockets; Rooms and Except
	// are empty.
	ServerSide bool
}

// ErrBadBroadcast reports a broadcast message that cannot be decoded.
var ErrBadBroadcast = errors.New("sio: malformed broadcast message")

// Encoding versions: 2 adds a flags byte after the attachments; 1 is still
// decoded.
const (
	broadcastVersion   = 2
	broadcastVersionV1 = 1
)

// Flags of a version 2 message.
const flagServerSide = 1

// MarshalBinary encodes m compactly: a version byte, length-prefixed
// (uvarint) fields, then a flags byte.
func (m *BroadcastMessage) MarshalBinary() ([]byte, error) {
	size := 2 + 8*4 + len(m.Node) + len(m.Namespace) + len(m.Data)
	for _, r := range m.Rooms {
		size += len(r) + 2
	}
	for _, r := range m.Except {
		size += len(r) + 2
	}
	for _, a := range m.Attachments {
		size += len(a) + 4
	}
	b := make([]byte, 0, size)
	b = append(b, broadcastVersion)
	b = appendField(b, m.Node)
	b = appendField(b, m.Namespace)
	b = appendList(b, m.Rooms)
	b = appendList(b, m.Except)
	b = appendField(b, m.Data)
	b = binary.AppendUvarint(b, uint64(len(m.Attachments)))
	for _, a := range m.Attachments {
		b = appendField(b, a)
	}
	var flags byte
	if m.ServerSide {
		flags |= flagServerSide
	}
	return append(b, flags), nil
}

func appendField[T string | []byte](b []byte, v T) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendList(b []byte, l []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, s := range l {
		b = appendField(b, s)
	}
	return b
}

// UnmarshalBinary decodes what MarshalBinary produced. Data and Attachments
// alias b.
func (m *BroadcastMessage) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || (b[0] != broadcastVersion && b[0] != broadcastVersionV1) {
		return fmt.Errorf("%w: unknown version", ErrBadBroadcast)
	}
	version := b[0]
	r := reader{b: b[1:]}
	m.Node = string(r.field())
	m.Namespace = string(r.field())
	m.Rooms = r.list()
	m.Except = r.list()
	m.Data = r.field()
	n := r.count()
	m.Attachments = nil
	if n > 0 {
		m.Attachments = make([][]byte, 0, n)
		for i := 0; i < n && r.err == nil; i++ {
			m.Attachments = append(m.Attachments, r.field())
		}
	}
	m.ServerSide = false
	if r.err == nil && version == broadcastVersion {
		switch {
		case len(r.b) == 0:
			r.err = errors.New("missing flags")
		case r.b[0]&^flagServerSide != 0:
			r.err = errors.New("unknown flags")
		default:
			m.ServerSide = r.b[0]&flagServerSide != 0
			r.b = r.b[1:]
		}
	}
	if r.err == nil && len(r.b) > 0 {
		r.err = errors.New("trailing bytes")
	}
	if r.err != nil {
		return fmt.Errorf("%w: %w", ErrBadBroadcast, r.err)
	}
	return nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad length")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a list length; each item takes at least one byte, which
// bounds the allocation by the input size.
func (r *reader) count() int {
	v := r.uvarint()
	if v > uint64(len(r.b)) {
		r.err = errors.New("count out of range")
		return 0
	}
	return int(v)
}

func (r *reader) field() []byte {
	v := r.uvarint()
	if r.err != nil {
		return nil
	}
	if v > uint64(len(r.b)) {
		r.err = errors.New("truncated field")
		return nil
	}
	f := r.b[:v:v]
	r.b = r.b[v:]
	return f
}

func (r *reader) list() []string {
	n := r.count()
	if n == 0 || r.err != nil {
		return nil
	}
	out := make([]string, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		out = append(out, string(r.field()))
	}
	return out
}
