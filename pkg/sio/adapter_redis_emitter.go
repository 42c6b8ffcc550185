package sio

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/vmihailenco/msgpack/v5"
	"go.uber.org/zap"
)

// Publications of the official @socket.io/redis-emitter npm package (and
// of other socket.io servers' redis adapters) on channel
// `<key>#<nsp>#` or `<key>#<nsp>#<room>#`: a MessagePack array
// [uid, packet, opts] with packet {type, data, nsp} and opts {rooms,
// except, flags}. The adapter subscribes to `<key>#*` on its subscription
// connection and delivers such events to the local sockets of the
// namespace, as if another node had broadcast them. Namespace "/" (the
// emitter's default) means every namespace this node serves. Requests on
// `<key>-request#...` (serverSideEmit, socketsJoin, fetchSockets) are not
// served.

// DefaultEmitterMaxBytes bounds one emitter publication.
const DefaultEmitterMaxBytes = 1 << 20

// Socket.IO packet types an emitter publishes.
const (
	emitterEvent       = 2
	emitterBinaryEvent = 5
)

// emitterPacket is the decoded [uid, packet, opts] of one publication.
type emitterPacket struct {
	nsp    string
	rooms  []string
	except []string
	data   []byte   // ["event", args...] as JSON, binary args as placeholders
	atts   [][]byte // binary args
}

var errEmitter = errors.New("sio: malformed emitter publication")

// decodeEmitter decodes one publication.
func decodeEmitter(b []byte) (*emitterPacket, error) {
	if err := checkMsgpack(b); err != nil {
		return nil, err
	}
	var msg []any
	// Strict interface decoding: binary stays []byte (the loose mode makes
	// it a string).
	if err := msgpack.NewDecoder(bytes.NewReader(b)).Decode(&msg); err != nil {
		return nil, fmt.Errorf("%w: %w", errEmitter, err)
	}
	if len(msg) < 2 {
		return nil, fmt.Errorf("%w: want [uid, packet, opts]", errEmitter)
	}
	packet, ok := msg[1].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: packet is not a map", errEmitter)
	}
	typ := asInt(packet["type"])
	if typ != emitterEvent && typ != emitterBinaryEvent {
		return nil, fmt.Errorf("%w: packet type %d is not an event", errEmitter, typ)
	}
	data, _ := packet["data"].([]any)
	if len(data) == 0 {
		return nil, fmt.Errorf("%w: no event", errEmitter)
	}
	if name, ok := data[0].(string); !ok || name == "" {
		return nil, fmt.Errorf("%w: event name is not a string", errEmitter)
	}
	p := &emitterPacket{nsp: "/"}
	if nsp, ok := packet["nsp"].(string); ok && nsp != "" {
		p.nsp = nsp
	}
	if len(msg) > 2 {
		if opts, ok := msg[2].(map[string]any); ok {
			p.rooms, p.except = stringList(opts["rooms"]), stringList(opts["except"])
		}
	}
	var err error
	if p.data, err = json.Marshal(placeholders(data, &p.atts)); err != nil {
		return nil, fmt.Errorf("%w: %w", errEmitter, err)
	}
	return p, nil
}

// placeholders replaces binary values by Socket.IO attachment
// placeholders, appending them to atts, and gives maps JSON keys.
func placeholders(v any, atts *[][]byte) any {
	switch x := v.(type) {
	case []byte:
		*atts = append(*atts, x)
		return map[string]any{"_placeholder": true, "num": len(*atts) - 1}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = placeholders(e, atts)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = placeholders(e, atts)
		}
		return out
	case map[any]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[fmt.Sprint(k)] = placeholders(e, atts)
		}
		return out
	}
	return v
}

// asInt reads a MessagePack integer of any width; -1 for anything else.
func asInt(v any) int64 {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint64:
		return int64(x)
	}
	return -1
}

func stringList(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, e := range l {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// emitterPattern is the pattern the adapter subscribes to.
func (a *RedisAdapter) emitterPattern() string { return a.opts.EmitterKey + "#*" }

// deliverEmitter hands an emitter publication to the subscribers of its
// namespace (every namespace for "/"), with rooms mapped by EmitterRoom.
func (a *RedisAdapter) deliverEmitter(channel string, payload []byte) {
	if len(payload) > a.opts.EmitterMaxBytes || !strings.HasPrefix(channel, a.opts.EmitterKey+"#") {
		a.decodeErrors.Add(1)
		return
	}
	p, err := decodeEmitter(payload)
	if err != nil {
		a.decodeErrors.Add(1)
		a.logEvery(&a.errLog, "emitter publication dropped", zap.Error(err))
		return
	}
	m := BroadcastMessage{Namespace: p.nsp, Rooms: a.emitterRooms(p.rooms), Except: a.emitterRooms(p.except), Data: p.data, Attachments: p.atts}
	a.mu.Lock()
	var fns []func(*BroadcastMessage)
	for ch, subs := range a.subs {
		if p.nsp != "/" && ch != a.channel(p.nsp) {
			continue
		}
		for s := range subs {
			fns = append(fns, s.fn)
		}
	}
	a.mu.Unlock()
	a.received.Add(1)
	for _, fn := range fns {
		fn(&m)
	}
}

func (a *RedisAdapter) emitterRooms(rooms []string) []string {
	if a.opts.EmitterRoom == nil || len(rooms) == 0 {
		return rooms
	}
	out := make([]string, len(rooms))
	for i, r := range rooms {
		out[i] = a.opts.EmitterRoom(r)
	}
	return out
}

// maxEmitterDepth bounds the nesting of an emitter publication.
const maxEmitterDepth = 32

// checkMsgpack walks one MessagePack value without allocating and fails
// when a declared length exceeds the bytes that follow, or the nesting is
// deeper than maxEmitterDepth: the decoder would otherwise allocate what
// a hostile header claims.
func checkMsgpack(b []byte) error {
	w := mpWalker{b: b}
	w.value(0)
	return w.err
}

type mpWalker struct {
	b   []byte
	err error
}

func (w *mpWalker) fail(msg string) {
	if w.err == nil {
		w.err = fmt.Errorf("%w: %s", errEmitter, msg)
	}
}

// skip consumes n bytes.
func (w *mpWalker) skip(n uint64) {
	if w.err != nil {
		return
	}
	if n > uint64(len(w.b)) {
		w.fail("truncated")
		return
	}
	w.b = w.b[n:]
}

// size reads a big-endian length of width bytes.
func (w *mpWalker) size(width int) uint64 {
	if w.err != nil || len(w.b) < width {
		w.fail("truncated length")
		return 0
	}
	var n uint64
	for _, c := range w.b[:width] {
		n = n<<8 | uint64(c)
	}
	w.b = w.b[width:]
	return n
}

// items walks n values (2n for a map), each at least one byte long.
func (w *mpWalker) items(n uint64, depth int) {
	if n > uint64(len(w.b)) {
		w.fail("count beyond the input")
		return
	}
	for i := uint64(0); i < n && w.err == nil; i++ {
		w.value(depth + 1)
	}
}

func (w *mpWalker) value(depth int) {
	if w.err != nil {
		return
	}
	if depth > maxEmitterDepth {
		w.fail("nested too deep")
		return
	}
	if len(w.b) == 0 {
		w.fail("truncated")
		return
	}
	c := w.b[0]
	w.b = w.b[1:]
	switch {
	case c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3:
	case c&0xf0 == 0x80:
		w.items(2*uint64(c&0x0f), depth)
	case c&0xf0 == 0x90:
		w.items(uint64(c&0x0f), depth)
	case c&0xe0 == 0xa0:
		w.skip(uint64(c & 0x1f))
	case c == 0xc4 || c == 0xd9:
		w.skip(w.size(1))
	case c == 0xc5 || c == 0xda:
		w.skip(w.size(2))
	case c == 0xc6 || c == 0xdb:
		w.skip(w.size(4))
	case c >= 0xc7 && c <= 0xc9:
		n := w.size(1 << (c - 0xc7))
		w.skip(1 + n)
	case c == 0xca:
		w.skip(4)
	case c == 0xcb:
		w.skip(8)
	case c >= 0xcc && c <= 0xcf:
		w.skip(1 << (c - 0xcc))
	case c >= 0xd0 && c <= 0xd3:
		w.skip(1 << (c - 0xd0))
	case c >= 0xd4 && c <= 0xd8:
		w.skip(1 + 1<<(c-0xd4))
	case c == 0xdc:
		w.items(w.size(2), depth)
	case c == 0xdd:
		w.items(w.size(4), depth)
	case c == 0xde:
		w.items(2*w.size(2), depth)
	case c == 0xdf:
		w.items(2*w.size(4), depth)
	default:
		w.fail("unknown type byte")
	}
}
