package hub

import (
	"context"
	"encoding/json"
	"errors"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/spec"
)

// DataEvents is told about each committed message write, so that other
// services see chat traffic. The Kafka bridge publishes the events the
// message store recorded in its outbox with the write; this call only
// wakes its publisher. Implementations must not block for long.
type DataEvents interface {
	MessageEvent(ctx context.Context, h *spec.Hub, op string, m *msgstore.Message)
}

// Data event operations.
const (
	OpCreated = "created"
	OpUpdated = "updated"
	OpDeleted = "deleted"
)

// dataEvent hands a committed message change to the configured sink.
func (h *Hub) dataEvent(op string, m *msgstore.Message) {
	if h.deps.DataEvents == nil || m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.deps.OpTimeout)
	defer cancel()
	h.deps.DataEvents.MessageEvent(ctx, h.Spec(), op, m)
}

// BridgeEvent emits an event from a backend (a Kafka data event or a
// kafkaEvents entry) to every reader of a room.
func (h *Hub) BridgeEvent(roomID string, e Event) {
	h.emitRoom(roomID, e)
}

// SystemMessage stores and broadcasts a system message in a room when the
// hub enables the system type; otherwise it does nothing and returns nil.
func (h *Hub) SystemMessage(ctx context.Context, roomID, action string, data SystemData) (*msgstore.Message, error) {
	if !h.Spec().MessageTypeEnabled(string(spec.MessageSystem)) {
		return nil, nil
	}
	content, err := json.Marshal(systemContent{SystemAction: action, SystemData: data})
	if err != nil {
		return nil, wrapError(CodeInternal, "encode system message", err)
	}
	return h.publish(ctx, &msgstore.Message{
		HubName: h.name, RoomID: roomID, SenderID: SystemSender,
		MessageType: string(spec.MessageSystem), Content: content, Status: msgstore.StatusPublished,
	})
}

// SystemData is the systemData of a system message about a room (roomClosed:
// the reason; memberJoined, memberLeft: the user; roomUpdated: nothing).
type SystemData struct {
	Reason string `json:"reason,omitempty"`
	UserID string `json:"userId,omitempty"`
}

// systemContent is the content of a system message.
type systemContent struct {
	SystemAction string     `json:"systemAction"`
	SystemData   SystemData `json:"systemData"`
}

// CloseRoom ends a room's sessions on every node: every member's sockets
// get hub:roomClosed and leave the room.
func (h *Hub) CloseRoom(roomID string, p RoomClosed) {
	e := OutRoomClosed.Of(p)
	if !h.ok(e) {
		return
	}
	h.dropGrants()
	h.closeRoomLocal(roomID, e)
	h.toOtherNodes(roomOp{Op: opCloseRoom, Room: roomID, Payload: e.payload})
}

// closeRoomLocal removes the room's members on this node.
func (h *Hub) closeRoomLocal(roomID string, e Event) {
	r := h.room(roomID)
	if r == nil {
		return
	}
	r.mu.Lock()
	users := make([]string, 0, len(r.members))
	for uid := range r.members {
		users = append(users, uid)
	}
	r.mu.Unlock()
	for _, uid := range users {
		h.removeUserLocal(roomID, uid, e)
	}
}

// RoomMembers lists the users joined to a room on this node.
func (h *Hub) RoomMembers(roomID string) []string {
	r := h.room(roomID)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.members))
	for uid := range r.members {
		out = append(out, uid)
	}
	return out
}

// Reauthorize runs the layered authorization again for a user joined to a
// room (a membership record changed) and removes their sockets with e
// when they are no longer authorized, on every node: each node judges with
// the session of its own sockets of the user. It reports whether the user
// was removed from this node. When this node has none of the user's
// sockets and announce is set, a node that removes the user announces it
// to the room (hub:memberLeft and a memberLeft system message) instead.
func (h *Hub) Reauthorize(ctx context.Context, roomID, userID string, e Event, announce bool) bool {
	if !h.ok(e) {
		return false
	}
	// Cached grants go first, so that a removed member cannot rejoin on
	// one; every node drops its own (reauthorizeLocal).
	h.dropGrants()
	local := len(h.socketsOf(roomID, userID)) > 0
	removed := local && h.reauthorizeLocal(ctx, roomID, userID, e)
	h.toOtherNodes(opWith(roomOp{Op: opReauthorize, Room: roomID, User: userID, Announce: announce && !local}, e))
	return removed
}

// reauthorizeLocal reauthorizes the user's sockets on this node.
func (h *Hub) reauthorizeLocal(ctx context.Context, roomID, userID string, e Event) bool {
	socks := h.socketsOf(roomID, userID)
	if len(socks) == 0 {
		return false
	}
	c := clientOf(socks[0])
	if c == nil {
		return false
	}
	sess := c.session()
	_, err := h.authorizer().Authorize(ctx, h.Definition().Policy, sess, roomID)
	if err == nil {
		return false
	}
	var d *authz.Denied
	if !errors.As(err, &d) || d.Code == authz.CodeUnavailable {
		h.log.Warn("reauthorization failed; member kept", zap.Error(err))
		return false
	}
	h.removeUserLocal(roomID, userID, e)
	return true
}

// announceMemberLeft tells the room that a member was removed on
// reauthorization (e, hub:memberLeft, and a system message), as the
// Kafka bridge does on the node that consumed the membership change.
func (h *Hub) announceMemberLeft(ctx context.Context, roomID, userID string, e Event) {
	h.BridgeEvent(roomID, e)
	if _, err := h.SystemMessage(ctx, roomID, "memberLeft", SystemData{UserID: userID}); err != nil {
		h.log.Warn("memberLeft system message failed", zap.String("room", roomID), zap.Error(err))
	}
}
