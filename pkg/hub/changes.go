package hub

import (
	"context"
	"slices"
	"time"

	"github.com/hubd/hubd/pkg/msgstore"
)

// A room's changes: an edit, deletion, reaction, approval or rejection of a
// stored message is a change, numbered by the message store per room (the
// message's Rev: 1, 2, 3, ... without holes, see msgstore.Store.Update).
// Changes are released to the room in that order on every node by the
// room's change sequencer (room.chg), as messages are by seq: the node that
// committed one hands it to the others (opChange), and a number missing on
// a node is read back from the store. Each change event carries its
// recovery offset ("c<rev>...", recovery.go), so a recovered socket gets
// the changes it missed exactly once, as the events they were.
//
// What a change shows the room is derived from the message as stored
// (changeDelivery): a message changed twice before a node read it back
// shows its last change only, which leaves every client with the stored
// state.

// nextChange is the Change of m's next change, by user by. The revs of an
// approval and of the last edit are kept when a later change replaces
// them: a node or a recovered client that missed them gets the message as
// it is now, not only the later change (see changeDelivery).
func nextChange(m *msgstore.Message, kind, by string) *msgstore.Change {
	return &msgstore.Change{Kind: kind, By: by, At: time.Now(),
		ApprovedRev: lastRev(m, msgstore.ChangeApproved), EditedRev: lastRev(m, msgstore.ChangeEdited)}
}

// lastRev is the rev of m's last change of a kind (approved or edited; 0:
// none known).
func lastRev(m *msgstore.Message, kind string) int64 {
	c := m.Change
	switch {
	case c == nil:
		return 0
	case c.Kind == kind:
		return m.Rev
	case kind == msgstore.ChangeApproved:
		return c.ApprovedRev
	}
	return c.EditedRev
}

// approvedRev is the rev of m's approval (0: none known).
func approvedRev(m *msgstore.Message) int64 { return lastRev(m, msgstore.ChangeApproved) }

// changed releases the delivery of a committed change in the room's change
// order, on every node.
func (h *Hub) changed(m *msgstore.Message) {
	d := h.changeDelivery(m, m.Rev-1)
	h.toOtherNodes(opWith(roomOp{Op: opChange, Room: m.RoomID, Seq: m.Rev, To: d.To,
		Kind: d.Kind, Users: d.Users, User: d.Sender, Offset: d.Offset}, d.Event))
	if r := h.room(m.RoomID); r != nil {
		r.chg.done(m.Rev, func() { h.deliverLocal(m.RoomID, d) })
	}
}

// changeDelivery is what the last change of m shows a room that has seen
// its changes up to rev `after`: an event for the readers its audience
// includes (a rejection: for its sender), with the change's offset;
// nothing for a change nobody is shown (an edit or a deletion of a
// message that was not published). A published message approved after `after` is delivered as
// the approved message, as it is now, whatever its last change; a
// reaction to a message edited after `after` as hub:messageEdited (the
// message as it is now, its reactions included).
func (h *Hub) changeDelivery(m *msgstore.Message, after int64) delivery {
	c := m.Change
	if c == nil || m.Rev <= 0 {
		return delivery{}
	}
	published := m.Status == msgstore.StatusPublished
	var d delivery
	switch {
	case published && approvedRev(m) > after:
		d = h.approvedDelivery(m)
	case published && (c.Kind == msgstore.ChangeEdited || lastRev(m, msgstore.ChangeEdited) > after):
		d.Event = outMessageEdited.Of(MessageEdited{Message: m, RoomID: m.RoomID})
	case c.Kind == msgstore.ChangeDeleted && c.Was == msgstore.StatusPublished:
		d.Event = outMessageDeleted.Of(MessageDeleted{DeletedBy: c.By, MessageID: m.ID, RoomID: m.RoomID})
	case c.Kind == msgstore.ChangeReaction && published:
		d.Event = outReaction.Of(Reaction{Emoji: c.Emoji, MessageID: m.ID, Reaction: m.Reaction, RoomID: m.RoomID, UserID: c.By})
	case c.Kind == msgstore.ChangeRejected:
		d.Event = outRejected.Of(MessageRejected{Message: m, MessageID: m.ID, Reason: c.Reason, RoomID: m.RoomID})
		d.To, d.Kind, d.Users = toTarget, toUsers, []string{m.SenderID}
		d.Offset = changeOffsetOf(m)
		return d
	default:
		return delivery{}
	}
	d = audienceDelivery(d, m.Audience)
	d.Offset = changeOffsetOf(m)
	return d
}

// approvedDelivery is an approved message delivered as a published one
// is: a stored custom event under its own name, a message as
// hub:messageArrived.
func (h *Hub) approvedDelivery(m *msgstore.Message) delivery {
	if ce := customEventOf(h.Spec(), m.MessageType); ce != nil && !h.Spec().MessageTypeEnabled(m.MessageType) {
		return storedEventDelivery(m)
	}
	return arrived(m)
}

// audienceDelivery addresses d to the room's readers that audience a
// includes (nil: all of them).
func audienceDelivery(d delivery, a *msgstore.Audience) delivery {
	to, sender := targetOfAudience(a)
	if to.kind == toAll {
		d.To = toReaders
		return d
	}
	d.To, d.Kind, d.Users, d.Sender = toTarget, to.kind, to.users, sender
	return d
}

// reaches reports whether d is for user uid (a reader of the room).
func (d delivery) reaches(uid string) bool {
	switch {
	case d.To == toReaders:
		return true
	case d.To != toTarget:
		return false
	}
	switch d.Kind {
	case toAll:
		return true
	case toSender:
		return uid == d.Sender
	case toOthers:
		return uid != d.Sender
	case toUsers:
		return slices.Contains(d.Users, uid)
	}
	return false
}

// lastChange is the room's last change number in the store (0: none).
func (h *Hub) lastChange(ctx context.Context, roomID string) (int64, error) {
	last, err := h.deps.Store.List(ctx, h.name, roomID, msgstore.Query{Changes: true, Limit: 1})
	if err != nil || len(last) == 0 {
		return 0, err
	}
	return last[0].Rev, nil
}

// changeMark is the last change number released to the room on this node,
// read from the store while the room's change sequencer does not know it.
func (h *Hub) changeMark(ctx context.Context, roomID string) (int64, error) {
	if r := h.room(roomID); r != nil {
		if n, ok := r.chg.released(); ok {
			return n, nil
		}
	}
	return h.lastChange(ctx, roomID)
}
