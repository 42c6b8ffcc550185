package hub

import (
	"context"
	"encoding/json"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/sio"
)

// Room operations that act on particular sockets (an event for one user or
// for the moderators, a handler result for some members, removing a user,
// a member's silence, closing a room, reauthorizing a member) must reach a
// member wherever they are connected. Broadcasts to a whole room already
// cross nodes through the Socket.IO adapter; these operations are applied
// to this node's sockets and sent to the other nodes as a server-side event
// of the hub's namespace, which apply them to theirs. Without an adapter
// (one node) nothing is sent.

// ReadersRoom is the Socket.IO room of the sockets that receive room
// roomID's traffic: what a room id in a @socket.io/redis-emitter
// publication addresses.
func ReadersRoom(roomID string) string { return readers(roomID) }

// clusterEvent is the server-side event name of room operations.
const clusterEvent = "hubd:roomOp"

// Room operations.
const (
	opEmitUser       = "emitUser"       // Event to User's sockets
	opEmitModerators = "emitModerators" // Event to the sockets of members with canModerate
	opEmitTarget     = "emitTarget"     // hub:messageArrived to a handler target (Kind, Users, sender User)
	opRemoveUser     = "removeUser"     // Event to User's sockets, then they leave
	opSilence        = "silence"        // User's member entry gets Silenced
	opCloseRoom      = "closeRoom"      // Event to every member, then they leave
	opReauthorize    = "reauthorize"    // User is authorized again and removed when denied
	opSeq            = "seq"            // the delivery of stored sequence number Seq (see delivery)
	opChange         = "change"         // the delivery of the room's change number Seq (changes.go)
	opCatchUp        = "catchUp"        // read the room's messages and changes after the last delivered ones from the store
	opResync         = "resync"         // opCatchUp for every room of the hub (Room is "*")
	opEndSession     = "endSession"     // Takeover.To ends a resumed session's old socket (Room is "*", recovery_takeover.go)
	opSessionEnded   = "sessionEnded"   // its answer to Takeover.To, the claiming node
)

// roomOp is one room operation as sent between nodes.
type roomOp struct {
	Op       string          `json:"op"`
	Room     string          `json:"room"`
	User     string          `json:"user,omitempty"`
	Event    string          `json:"event,omitempty"`
	Payload  json.RawMessage `json:"payload,omitempty"`
	Silenced bool            `json:"silenced,omitempty"`
	Kind     string          `json:"kind,omitempty"`
	Users    []string        `json:"users,omitempty"`
	// Seq and To: an opSeq's sequence number (an opChange's change
	// number) and audience (Event, Payload, and Kind, Users, User for a
	// handler target).
	Seq int64  `json:"seq,omitempty"`
	To  string `json:"to,omitempty"`
	// Announce asks a node that removes the user on reauthorization to
	// tell the room (hub:memberLeft and a system message), because the
	// node that started it had none of the user's sockets.
	Announce bool `json:"announce,omitempty"`
	// Offset is an opSeq's recovery offset (see recovery.go).
	Offset string `json:"offset,omitempty"`
	// Takeover: an opEndSession or opSessionEnded.
	Takeover *takeover `json:"takeover,omitempty"`
}

// event is the event an operation carries, as the sending node encoded it.
func (op *roomOp) event() Event { return relayed(op.Event, op.Payload) }

// opWith is an operation carrying e.
func opWith(op roomOp, e Event) roomOp {
	op.Event, op.Payload = e.name, e.payload
	return op
}

// toOtherNodes sends op to the other nodes of the hub; a node on its own
// has none, and op is not even boxed for ServerSideEmit (which would
// itself skip encoding it).
func (h *Hub) toOtherNodes(op roomOp) {
	if h.ns.Alone() {
		return
	}
	if err := h.ns.ServerSideEmit(clusterEvent, op); err != nil {
		h.log.Warn("room operation not sent to the other nodes", zap.String("op", op.Op),
			zap.String("room", op.Room), zap.Error(err))
	}
}

// onServerSideEvent applies a room operation another node sent.
func (h *Hub) onServerSideEvent(ev *sio.Event) {
	if len(ev.Args) == 1 {
		switch ev.Name {
		case ownerRequestEvent:
			h.onOwnerRequest(ev.Args[0])
			return
		case ownerReplyEvent:
			h.onOwnerReply(ev.Args[0])
			return
		}
	}
	if ev.Name != clusterEvent || len(ev.Args) != 1 {
		return
	}
	var op roomOp
	if err := json.Unmarshal(ev.Args[0], &op); err != nil || op.Room == "" {
		h.log.Warn("malformed room operation from another node", zap.Error(err))
		return
	}
	switch op.Op {
	case opEmitUser:
		h.emitUserLocal(op.Room, op.User, op.event())
	case opEmitModerators:
		h.emitModeratorsLocal(op.Room, op.event())
	case opEmitTarget:
		h.emitTargetLocal(op.Room, target{kind: op.Kind, users: op.Users}, op.User, relayed(outMessageArrived.Name(), op.Payload), "")
	case opSilence:
		h.silenceLocal(op.Room, op.User, op.Silenced)
	case opSeq, opChange:
		if r := h.room(op.Room); r != nil && op.Seq > 0 {
			q := &r.seq
			if op.Op == opChange {
				q = &r.chg
			}
			d := op.delivery()
			q.done(op.Seq, func() { h.deliverLocal(r.id, d) })
		}
	case opCatchUp:
		if r := h.room(op.Room); r != nil {
			r.catchUp()
		}
	case opResync:
		h.Resync()
	case opEndSession:
		h.onEndSession(op.Takeover)
	case opSessionEnded:
		h.onSessionEnded(op.Takeover)
	// Leaving a room updates the presence registry and authorization reads
	// records: both wait on the network, so they run off the adapter's
	// delivery goroutine.
	case opRemoveUser:
		h.spawn(func(context.Context) { h.removeUserLocal(op.Room, op.User, op.event()) })
	case opCloseRoom:
		h.spawn(func(context.Context) {
			h.dropGrants()
			h.closeRoomLocal(op.Room, relayed(OutRoomClosed.Name(), op.Payload))
		})
	case opReauthorize:
		h.spawn(func(ctx context.Context) {
			h.dropGrants()
			ctx, cancel := context.WithTimeout(ctx, h.deps.OpTimeout)
			defer cancel()
			if h.reauthorizeLocal(ctx, op.Room, op.User, op.event()) && op.Announce {
				h.announceMemberLeft(ctx, op.Room, op.User, op.event())
			}
		})
	default:
		h.log.Warn("unknown room operation from another node", zap.String("op", op.Op))
	}
}

// emitUser sends an event to every socket of a user in a room, on every
// node.
func (h *Hub) emitUser(roomID, userID string, e Event) {
	if !h.ok(e) {
		return
	}
	h.emitUserLocal(roomID, userID, e)
	h.toOtherNodes(opWith(roomOp{Op: opEmitUser, Room: roomID, User: userID}, e))
}

// emitModerators sends an event to the sockets of the room's moderators,
// on every node.
func (h *Hub) emitModerators(roomID string, e Event) {
	if !h.ok(e) {
		return
	}
	h.emitModeratorsLocal(roomID, e)
	h.toOtherNodes(opWith(roomOp{Op: opEmitModerators, Room: roomID}, e))
}

// removeUser makes every socket of a user leave a room, after sending them
// event, on every node.
func (h *Hub) removeUser(roomID, userID string, e Event) {
	if !h.ok(e) {
		return
	}
	h.removeUserLocal(roomID, userID, e)
	h.toOtherNodes(opWith(roomOp{Op: opRemoveUser, Room: roomID, User: userID}, e))
}

// setSilencedMember updates a joined member's silence on every node.
func (h *Hub) setSilencedMember(roomID, userID string, silenced bool) {
	h.silenceLocal(roomID, userID, silenced)
	h.toOtherNodes(roomOp{Op: opSilence, Room: roomID, User: userID, Silenced: silenced})
}

// silenceLocal updates the member entry of a user joined on this node.
func (h *Hub) silenceLocal(roomID, userID string, silenced bool) {
	r := h.room(roomID)
	if r == nil {
		return
	}
	r.mu.Lock()
	if m := r.members[userID]; m != nil {
		m.silenced = silenced && !m.decision.Permissions.CanModerate
	}
	r.mu.Unlock()
}

// Audiences of a sequenced delivery.
const (
	toReaders    = "readers"    // the room's readers
	toModerators = "moderators" // members with canModerate
	toTarget     = "target"     // a handler target (Kind, Users, Sender)
)

// delivery is what one stored sequence number shows the room: an event
// for an audience, or nothing (an empty To). It travels to the other nodes
// in an opSeq, where each node releases it in sequence order.
type delivery struct {
	To     string
	Event  Event
	Kind   string
	Users  []string
	Sender string
	Offset string // recovery offset of a stored message
}

func (op *roomOp) delivery() delivery {
	return delivery{To: op.To, Event: op.event(), Kind: op.Kind, Users: op.Users, Sender: op.User, Offset: op.Offset}
}

// deliverLocalIn is deliverLocal in a room of this node, whose readers'
// name it has made already.
func (h *Hub) deliverLocalIn(r *room, d delivery) {
	if d.To == toReaders {
		h.emitReadersLocal(r.id, r.readers, d.Offset, d.Event)
		return
	}
	h.deliverLocal(r.id, d)
}

// deliverLocal emits d to its audience's sockets on this node.
func (h *Hub) deliverLocal(roomID string, d delivery) {
	switch d.To {
	case toReaders:
		h.emitReadersLocal(roomID, readers(roomID), d.Offset, d.Event)
	case toModerators:
		h.emitModeratorsOf(roomID, d.Event, d.audience())
	case toTarget:
		h.emitTargetLocal(roomID, target{kind: d.Kind, users: d.Users}, d.Sender, d.Event, d.Offset)
	}
}

// sequenced hands the delivery of a committed sequence number to the other
// nodes and to this node's sequencer of the room.
func (h *Hub) sequenced(roomID string, seq int64, d delivery) {
	h.toOtherNodes(opWith(roomOp{Op: opSeq, Room: roomID, Seq: seq, To: d.To,
		Kind: d.Kind, Users: d.Users, User: d.Sender, Offset: d.Offset}, d.Event))
	if r := h.room(roomID); r != nil {
		// The closure holds the delivery's parts by value, in its own
		// allocation; the delivery whole is too large to be held so, and
		// would be moved to the heap besides.
		to, ev, kind, users, sender, offset := d.To, d.Event, d.Kind, d.Users, d.Sender, d.Offset
		r.seq.done(seq, func() {
			h.deliverLocalIn(r, delivery{To: to, Event: ev, Kind: kind, Users: users, Sender: sender, Offset: offset})
		})
	}
}
