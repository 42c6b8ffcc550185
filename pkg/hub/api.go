package hub

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/spec"
)

// Actor is a user acting in one room, with the permissions the layered
// authorization gave them. Socket members and REST callers both act
// through an Actor, so every path enforces the same rules.
type Actor struct {
	Session     *authz.Session
	RoomID      string
	HubRole     string
	Permissions authz.Permissions // effective: hub-wide overrides applied
	Silenced    bool
	// Room is the room record the authorization saw.
	Room records.Record
	// msgKey is the user's message rate limiter key when its member had
	// it made (messageRateKey), "" otherwise.
	msgKey string
}

// UserID returns the acting user's id.
func (a *Actor) UserID() string { return a.Session.UserID }

// SendInput is a message a client sends.
type SendInput struct {
	MessageType     string          `json:"messageType"`
	Content         json.RawMessage `json:"content"`
	ReplyTo         json.RawMessage `json:"replyTo"`
	Forwarded       *bool           `json:"forwarded"`
	ClientMessageID string          `json:"clientMessageId"`

	// contentValid marks Content as valid JSON (or empty), decoded from a
	// payload that was checked whole, so that it is not checked again.
	contentValid bool
}

// ListInput selects a page of a room's messages by message ids.
type ListInput struct {
	Before string
	After  string
	Limit  int
}

// PresenceEntry is one user present in a room on this node.
type PresenceEntry struct {
	UserID  string `json:"userId"`
	Status  string `json:"status"` // online | away
	Sockets int    `json:"sockets"`
}

// Receipt is a user's read mark in a room.
type Receipt struct {
	UserID            string    `json:"userId"`
	LastReadTimestamp time.Time `json:"lastReadTimestamp"`
}

// Spec returns the active spec of the hub.
func (h *Hub) Spec() *spec.Hub { return h.Definition().Spec }

// ActorFor runs the layered room authorization for a caller that is not
// joined through a socket (REST). Errors are *Error.
func (h *Hub) ActorFor(ctx context.Context, sess *authz.Session, roomID string) (*Actor, error) {
	if roomID == "" {
		return nil, newError(CodeBadRequest, "roomId is required")
	}
	def := h.Definition()
	dec, err := h.authorize(ctx, def, sess, roomID)
	if err != nil {
		return nil, asClientError(err)
	}
	mod, err := h.moderationOf(ctx, roomID, sess.UserID)
	if err != nil {
		return nil, err
	}
	if mod != nil && mod.Blocked && !dec.Permissions.CanModerate {
		return nil, blockedError(mod)
	}
	m := &member{userID: sess.UserID, roomID: roomID, decision: dec,
		silenced: h.initialSilence(mod, dec.Permissions.CanModerate)}
	// A member joined through a socket carries its live state.
	if r := h.room(roomID); r != nil {
		r.mu.Lock()
		if live := r.members[sess.UserID]; live != nil {
			m.silenced = live.silenced
		}
		r.mu.Unlock()
	}
	return h.actorOf(sess, m), nil
}

// actorOf builds the actor of a member.
func (h *Hub) actorOf(sess *authz.Session, m *member) *Actor {
	a := h.actorValue(sess, m)
	return &a
}

// actorValue is the actor actorOf returns, as a value (the dispatcher
// keeps it in its call).
func (h *Hub) actorValue(sess *authz.Session, m *member) Actor {
	a := Actor{
		Session: sess, RoomID: m.roomID, HubRole: m.decision.HubRole,
		Permissions: h.effective(m), Silenced: m.silenced, Room: m.decision.Room,
	}
	if sess != nil && sess.UserID == m.userID {
		a.msgKey = m.msgKey
	}
	return a
}

// Send runs the message pipeline for an actor admitted for hub:send.
func (h *Hub) Send(ctx context.Context, a *Actor, in SendInput) (*msgstore.Message, error) {
	return h.send(ctx, a, &in)
}

// ListMessages returns a page of the room's published messages, oldest
// first: the newest Limit, or those before/after a message id. The caller
// has admitted the actor for hub:loadHistory (canRead).
func (h *Hub) ListMessages(ctx context.Context, a *Actor, in ListInput) ([]*msgstore.Message, error) {
	limit := in.Limit
	if limit <= 0 {
		limit = h.Spec().HistorySettings.HistoryLimit
	}
	if limit <= 0 || limit > maxPageSize {
		limit = maxPageSize
	}
	q := msgstore.Query{Limit: limit, Statuses: visibleStatuses, Viewer: a.UserID()}
	if in.Before != "" {
		ref, err := h.messageIn(ctx, a.RoomID, in.Before)
		if err != nil {
			return nil, err
		}
		q.BeforeSeq = ref.Seq
	}
	if in.After != "" {
		ref, err := h.messageIn(ctx, a.RoomID, in.After)
		if err != nil {
			return nil, err
		}
		q.AfterSeq = ref.Seq
	}
	msgs, err := h.deps.Store.List(ctx, h.name, a.RoomID, q)
	if err != nil {
		return nil, wrapError(CodeUnavailable, "message store unavailable", err)
	}
	if msgs == nil {
		msgs = []*msgstore.Message{}
	}
	return msgs, nil
}

// messageIn loads a message and checks it belongs to the room.
func (h *Hub) messageIn(ctx context.Context, roomID, id string) (*msgstore.Message, error) {
	m, err := h.deps.Store.Get(ctx, h.name, id)
	if errors.Is(err, msgstore.ErrNotFound) || (err == nil && m.RoomID != roomID) {
		return nil, errorf(CodeNotFound, "no message %q in this room", id)
	}
	if err != nil {
		return nil, wrapError(CodeUnavailable, "message store unavailable", err)
	}
	return m, nil
}

// MessageRoom returns the room of a message, so that a caller can be
// authorized for it.
func (h *Hub) MessageRoom(ctx context.Context, id string) (string, error) {
	m, err := h.deps.Store.Get(ctx, h.name, id)
	if errors.Is(err, msgstore.ErrNotFound) {
		return "", errorf(CodeNotFound, "no message %q", id)
	}
	if err != nil {
		return "", wrapError(CodeUnavailable, "message store unavailable", err)
	}
	return m.RoomID, nil
}

// GetMessage returns one message the actor may see.
func (h *Hub) GetMessage(ctx context.Context, a *Actor, id string) (*msgstore.Message, error) {
	if !a.Permissions.CanRead {
		return nil, newError(CodeForbidden, "no read permission in this room")
	}
	m, err := h.messageIn(ctx, a.RoomID, id)
	if err != nil {
		return nil, err
	}
	if !visibleTo(m, a) {
		return nil, errorf(CodeNotFound, "no message %q in this room", id)
	}
	return m, nil
}

// visibleTo reports whether the actor may see the message: published and
// deleted ones to every reader, pending and rejected ones to the sender and
// moderators.
func visibleTo(m *msgstore.Message, a *Actor) bool {
	if !m.Audience.Includes(a.UserID()) {
		return false
	}
	switch m.Status {
	case msgstore.StatusPublished, msgstore.StatusDeleted:
		return true
	}
	return m.SenderID == a.UserID() || a.Permissions.CanModerate
}

// Presence lists the users present in the actor's room on this node.
func (h *Hub) Presence(_ context.Context, a *Actor) ([]PresenceEntry, error) {
	if !a.Permissions.CanRead {
		return nil, newError(CodeForbidden, "no read permission in this room")
	}
	return h.presenceOf(a.RoomID), nil
}

// Receipts returns every user's read mark in the room.
func (h *Hub) Receipts(ctx context.Context, a *Actor) ([]Receipt, error) {
	if !h.Spec().EventSettings.EnableReadReceipts {
		return nil, newError(CodeUnknownEvent, "read receipts are not enabled in this hub")
	}
	if !a.Permissions.CanRead {
		return nil, newError(CodeForbidden, "no read permission in this room")
	}
	marks, err := h.deps.Store.ReadMarks(ctx, h.name, a.RoomID)
	if err != nil {
		return nil, wrapError(CodeUnavailable, "message store unavailable", err)
	}
	out := make([]Receipt, 0, len(marks))
	for _, m := range marks {
		out = append(out, Receipt{UserID: m.UserID, LastReadTimestamp: m.At})
	}
	return out, nil
}

// Unread counts the published messages of others in the room after the
// actor's read mark.
func (h *Hub) Unread(ctx context.Context, a *Actor) (int64, error) {
	if !a.Permissions.CanRead {
		return 0, newError(CodeForbidden, "no read permission in this room")
	}
	n, err := h.deps.Store.CountUnread(ctx, h.name, a.RoomID, a.UserID())
	if err != nil {
		return 0, wrapError(CodeUnavailable, "message store unavailable", err)
	}
	return n, nil
}

// EmitServerEvent emits a custom event from the server side: to the whole
// room (serverToRoom, or clientToRoom events relayed by a service), or to
// one user's sockets in the room (serverToClient).
func (h *Hub) EmitServerEvent(ctx context.Context, roomID, event string, data json.RawMessage, toUserID string) error {
	if roomID == "" || event == "" {
		return newError(CodeBadRequest, "roomId and event are required")
	}
	ce := customEventOf(h.Spec(), event)
	if ce == nil {
		return errorf(CodeUnknownEvent, "event %q is not a custom event of this hub", event)
	}
	if ce.Direction == spec.ServerToClient && toUserID == "" {
		return newError(CodeBadRequest, "userId is required for a serverToClient event")
	}
	_, err := h.customEvent(ctx, ce, eventInput{roomID: roomID, data: data, toUserID: toUserID})
	return err
}

// Delivery is one user's delivery receipt of a message.
type Delivery struct {
	UserID      string    `json:"userId"`
	DeliveredAt time.Time `json:"deliveredAt"`
}

// Deliveries returns the stored delivery receipts of a message of the
// actor's room.
func (h *Hub) Deliveries(ctx context.Context, a *Actor, messageID string) ([]Delivery, error) {
	if !h.Spec().EventSettings.EnableDeliveryReceipts {
		return nil, newError(CodeUnknownEvent, "delivery receipts are not enabled in this hub")
	}
	if !a.Permissions.CanRead {
		return nil, newError(CodeForbidden, "no read permission in this room")
	}
	if _, err := h.GetMessage(ctx, a, messageID); err != nil {
		return nil, err
	}
	marks, err := h.deps.Store.Delivered(ctx, h.name, messageID)
	if err != nil {
		return nil, wrapError(CodeUnavailable, "message store unavailable", err)
	}
	out := make([]Delivery, 0, len(marks))
	for _, m := range marks {
		out = append(out, Delivery{UserID: m.UserID, DeliveredAt: m.At})
	}
	return out, nil
}
