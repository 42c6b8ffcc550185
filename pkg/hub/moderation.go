package hub

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/sio"
)

// maxRoomSettingsBytes bounds hub:updateRoom settings.
const maxRoomSettingsBytes = 16 << 10

// moderationOf returns the stored moderation state of a user in a room;
// expired blocks count as not blocked.
func (h *Hub) moderationOf(ctx context.Context, roomID, userID string) (*msgstore.Moderation, error) {
	mod, err := h.deps.Store.GetModeration(ctx, h.name, roomID, userID)
	if errors.Is(err, msgstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, wrapError(CodeUnavailable, "moderation state unavailable", err)
	}
	if mod.Blocked && !mod.BlockedUntil.IsZero() && time.Now().After(mod.BlockedUntil) {
		mod.Blocked = false
	}
	return mod, nil
}

// blockedError is the error a blocked user gets.
func blockedError(mod *msgstore.Moderation) *Error {
	e := newError(CodeBlocked, "you are blocked in this room")
	if !mod.BlockedUntil.IsZero() {
		e.Details = map[string]any{"until": msgstore.FormatTime(mod.BlockedUntil)}
	}
	return e
}

// initialSilence decides whether a member starts silenced: a stored
// moderation record wins, else defaultSilenced for non-moderators.
func (h *Hub) initialSilence(mod *msgstore.Moderation, canModerate bool) bool {
	if canModerate {
		return false
	}
	if mod != nil {
		return mod.Silenced
	}
	return h.Spec().Guardrails.DefaultSilenced
}

func (h *Hub) requireModerator(a *Actor) error {
	if !a.Permissions.CanModerate {
		return newError(CodeForbidden, "moderator permission required")
	}
	return nil
}

func (h *Hub) requireManager(a *Actor) error {
	if !a.Permissions.CanManageRoom {
		return newError(CodeForbidden, "room management permission required")
	}
	return nil
}

// socketsOf returns the sockets of a user in a room on this node.
func (h *Hub) socketsOf(roomID, userID string) []*sio.Socket {
	r := h.room(roomID)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	m := r.members[userID]
	if m == nil {
		return nil
	}
	out := make([]*sio.Socket, 0, len(m.sockets))
	for _, s := range m.sockets {
		out = append(out, s)
	}
	return out
}

// emitUserLocal sends an event to every socket of a user in a room on this
// node.
func (h *Hub) emitUserLocal(roomID, userID string, e Event) {
	for _, s := range h.socketsOf(roomID, userID) {
		h.emitSocket(s, e)
	}
}

// emitModeratorsLocal sends an event to the sockets of the room's
// moderators on this node.
func (h *Hub) emitModeratorsLocal(roomID string, e Event) {
	h.emitModeratorsOf(roomID, e, nil)
}

// emitModeratorsOf sends an event to the sockets of the room's moderators
// on this node whom the audience includes (nil: all of them): a pending
// message with a restricted audience is shown only to its moderators.
func (h *Hub) emitModeratorsOf(roomID string, e Event, aud *msgstore.Audience) {
	r := h.room(roomID)
	if r == nil {
		return
	}
	var targets []*sio.Socket
	r.mu.Lock()
	for _, m := range r.members {
		if m.decision.Permissions.CanModerate && aud.Includes(m.userID) {
			for _, s := range m.sockets {
				targets = append(targets, s)
			}
		}
	}
	r.mu.Unlock()
	for _, s := range targets {
		h.emitSocket(s, e)
	}
}

// removeUserLocal makes every socket of a user on this node leave a room,
// after sending them event.
func (h *Hub) removeUserLocal(roomID, userID string, e Event) {
	for _, s := range h.socketsOf(roomID, userID) {
		h.emitSocket(s, e)
		if c := clientOf(s); c != nil {
			h.leave(s, c, roomID, true)
		}
	}
}

// PendingMessages lists the room's messages waiting for approval that the
// moderator is in the audience of.
func (h *Hub) PendingMessages(ctx context.Context, a *Actor) ([]*msgstore.Message, error) {
	if err := h.requireModerator(a); err != nil {
		return nil, err
	}
	msgs, err := h.deps.Store.List(ctx, h.name, a.RoomID, msgstore.Query{Limit: maxPageSize, Statuses: []string{msgstore.StatusPending}, Viewer: a.UserID()})
	if err != nil {
		return nil, wrapError(CodeUnavailable, "message store unavailable", err)
	}
	if msgs == nil {
		msgs = []*msgstore.Message{}
	}
	return msgs, nil
}

// Approve publishes a pending message and broadcasts it.
func (h *Hub) Approve(ctx context.Context, a *Actor, id string) (*msgstore.Message, error) {
	return h.update(ctx, a, id, msgstore.ChangeApproved, func(m *msgstore.Message) *Error {
		if m.Status != msgstore.StatusPending {
			return errorf(CodeNotFound, "message %q is not pending", id)
		}
		m.Status = msgstore.StatusPublished
		return nil
	})
}

// Reject refuses a pending message and tells its sender.
func (h *Hub) Reject(ctx context.Context, a *Actor, id, reason string) (*msgstore.Message, error) {
	return h.update(ctx, a, id, msgstore.ChangeRejected, func(m *msgstore.Message) *Error {
		if m.Status != msgstore.StatusPending {
			return errorf(CodeNotFound, "message %q is not pending", id)
		}
		m.Status = msgstore.StatusRejected
		m.Change.Reason = reason
		return nil
	})
}

// saveModeration updates the stored moderation record of a user.
func (h *Hub) saveModeration(ctx context.Context, a *Actor, userID string, fn func(m *msgstore.Moderation)) (*msgstore.Moderation, error) {
	mod, err := h.moderationOf(ctx, a.RoomID, userID)
	if err != nil {
		return nil, err
	}
	if mod == nil {
		mod = &msgstore.Moderation{HubName: h.name, RoomID: a.RoomID, UserID: userID}
	}
	fn(mod)
	mod.By = a.UserID()
	mod.UpdatedAt = time.Now().UTC()
	if err := h.deps.Store.SetModeration(ctx, mod); err != nil {
		return nil, wrapError(CodeUnavailable, "moderation state could not be stored", err)
	}
	return mod, nil
}

// Block removes a user from the room and keeps them out, for d or until
// unblocked (d zero).
func (h *Hub) Block(ctx context.Context, a *Actor, userID, reason string, d time.Duration) error {
	if userID == "" {
		return newError(CodeBadRequest, "userId is required")
	}
	if userID == a.UserID() {
		return newError(CodeBadRequest, "you cannot block yourself")
	}
	if d < 0 {
		return newError(CodeBadRequest, "durationSeconds must not be negative")
	}
	mod, err := h.saveModeration(ctx, a, userID, func(m *msgstore.Moderation) {
		m.Blocked = true
		m.Reason = reason
		m.BlockedUntil = time.Time{}
		if d > 0 {
			m.BlockedUntil = time.Now().Add(d).UTC()
		}
	})
	if err != nil {
		return err
	}
	payload := Blocked{By: a.UserID(), Reason: reason, RoomID: a.RoomID, UserID: userID}
	if !mod.BlockedUntil.IsZero() {
		payload.Until = msgstore.FormatTime(mod.BlockedUntil)
	}
	h.removeUser(a.RoomID, userID, outBlocked.Of(payload))
	return nil
}

// Unblock lifts a block.
func (h *Hub) Unblock(ctx context.Context, a *Actor, userID string) error {
	if userID == "" {
		return newError(CodeBadRequest, "userId is required")
	}
	_, err := h.saveModeration(ctx, a, userID, func(m *msgstore.Moderation) {
		m.Blocked = false
		m.BlockedUntil = time.Time{}
	})
	return err
}

// Silence stops a user from sending in the room; Unsilence lets them
// speak again (and so grants a speak request).
func (h *Hub) Silence(ctx context.Context, a *Actor, userID string) error {
	return h.setSilenced(ctx, a, userID, true)
}

// Unsilence lifts a silence or grants a speak request.
func (h *Hub) Unsilence(ctx context.Context, a *Actor, userID string) error {
	return h.setSilenced(ctx, a, userID, false)
}

func (h *Hub) setSilenced(ctx context.Context, a *Actor, userID string, silenced bool) error {
	if userID == "" {
		return newError(CodeBadRequest, "userId is required")
	}
	if _, err := h.saveModeration(ctx, a, userID, func(m *msgstore.Moderation) { m.Silenced = silenced }); err != nil {
		return err
	}
	h.setSilencedMember(a.RoomID, userID, silenced)
	out := outUnsilenced
	if silenced {
		out = outSilenced
	}
	h.emitUser(a.RoomID, userID, out.Of(Silenced{By: a.UserID(), RoomID: a.RoomID, UserID: userID}))
	return nil
}

// RequestSpeak asks the room's moderators to unsilence the actor.
func (h *Hub) RequestSpeak(_ context.Context, a *Actor) error {
	if !a.Silenced {
		return newError(CodeBadRequest, "you are not silenced")
	}
	h.emitModerators(a.RoomID, outSpeakRequest.Of(RoomUser{RoomID: a.RoomID, UserID: a.UserID()}))
	return nil
}

// Kick removes a user's sockets from the room; they may rejoin.
func (h *Hub) Kick(_ context.Context, a *Actor, userID, reason string) error {
	if userID == "" {
		return newError(CodeBadRequest, "userId is required")
	}
	h.removeUser(a.RoomID, userID, outKicked.Of(Kicked{By: a.UserID(), Reason: reason, RoomID: a.RoomID, UserID: userID}))
	return nil
}

// UpdateRoom stores hub-level settings of the room and broadcasts them.
func (h *Hub) UpdateRoom(ctx context.Context, a *Actor, settings json.RawMessage) (json.RawMessage, error) {
	if len(settings) == 0 || settings[0] != '{' || !json.Valid(settings) {
		return nil, newError(CodeBadRequest, "settings must be a JSON object")
	}
	if len(settings) > maxRoomSettingsBytes {
		return nil, errorf(CodeMessageTooLarge, "settings larger than %d bytes", maxRoomSettingsBytes)
	}
	if err := h.deps.Store.SetRoomSettings(ctx, h.name, a.RoomID, settings); err != nil {
		return nil, wrapError(CodeUnavailable, "room settings could not be stored", err)
	}
	h.emitRoom(a.RoomID, OutRoomUpdated.Of(RoomUpdated{By: a.UserID(), RoomID: a.RoomID, Settings: settings}))
	return settings, nil
}

// Moderation socket events.

type moderationRequest struct {
	RoomID          string          `json:"roomId"`
	MessageID       string          `json:"messageId"`
	UserID          string          `json:"userId"`
	Reason          string          `json:"reason"`
	DurationSeconds float64         `json:"durationSeconds"`
	Settings        json.RawMessage `json:"settings"`
}

// moderationCall decodes a moderation event of a joined room.
func (h *Hub) moderationCall(in *call) (*Actor, *moderationRequest, error) {
	var req moderationRequest
	a, err := h.memberActor(in, &req, func() string { return req.RoomID })
	return a, &req, err
}

// moderationHandler adapts a moderation action on (actor, request) to a
// socket event handler; the ack is { roomId } plus what the action adds.
func moderationHandler(act func(h *Hub, ctx context.Context, a *Actor, req *moderationRequest, res map[string]any) error) func(*Hub, context.Context, *call) (map[string]any, error) {
	return func(h *Hub, ctx context.Context, in *call) (map[string]any, error) {
		a, req, err := h.moderationCall(in)
		if err != nil {
			return nil, err
		}
		res := map[string]any{"roomId": req.RoomID}
		if err := act(h, ctx, a, req, res); err != nil {
			return nil, err
		}
		return res, nil
	}
}

// reviewHandler approves or rejects a pending message.
func reviewHandler(approve bool) func(*Hub, context.Context, *call) (map[string]any, error) {
	return moderationHandler(func(h *Hub, ctx context.Context, a *Actor, req *moderationRequest, res map[string]any) error {
		if req.MessageID == "" {
			return newError(CodeBadRequest, "messageId is required")
		}
		var (
			m   *msgstore.Message
			err error
		)
		if approve {
			m, err = h.Approve(ctx, a, req.MessageID)
		} else {
			m, err = h.Reject(ctx, a, req.MessageID, req.Reason)
		}
		res["message"] = m
		return err
	})
}

var (
	handleBlock = moderationHandler(func(h *Hub, ctx context.Context, a *Actor, req *moderationRequest, _ map[string]any) error {
		return h.Block(ctx, a, req.UserID, req.Reason, time.Duration(req.DurationSeconds*float64(time.Second)))
	})
	handleUnblock = moderationHandler(func(h *Hub, ctx context.Context, a *Actor, req *moderationRequest, _ map[string]any) error {
		return h.Unblock(ctx, a, req.UserID)
	})
	handleSilence = moderationHandler(func(h *Hub, ctx context.Context, a *Actor, req *moderationRequest, _ map[string]any) error {
		return h.Silence(ctx, a, req.UserID)
	})
	handleUnsilence = moderationHandler(func(h *Hub, ctx context.Context, a *Actor, req *moderationRequest, _ map[string]any) error {
		return h.Unsilence(ctx, a, req.UserID)
	})
	handleRequestSpeak = moderationHandler(func(h *Hub, ctx context.Context, a *Actor, _ *moderationRequest, _ map[string]any) error {
		return h.RequestSpeak(ctx, a)
	})
	handleKick = moderationHandler(func(h *Hub, ctx context.Context, a *Actor, req *moderationRequest, _ map[string]any) error {
		return h.Kick(ctx, a, req.UserID, req.Reason)
	})
	handleUpdateRoom = moderationHandler(func(h *Hub, ctx context.Context, a *Actor, req *moderationRequest, res map[string]any) error {
		s, err := h.UpdateRoom(ctx, a, req.Settings)
		res["settings"] = s
		return err
	})
)
