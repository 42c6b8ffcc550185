package hub

import (
	"context"
	"encoding/json"
	"errors"
	"time"
	"unicode/utf8"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/spec"
)

// errAbort carries a client error out of a store update function.
type errAbort struct{ err *Error }

func (e errAbort) Error() string { return e.err.Error() }

// update applies fn to a message of the actor's room through the store,
// as a change of the given kind by the actor (fn may add to m.Change), and
// maps the outcome to client errors. A committed change goes to the data
// event sink and is released to the room in the room's change order
// (changes.go).
func (h *Hub) update(ctx context.Context, a *Actor, id, kind string, fn func(m *msgstore.Message) *Error) (*msgstore.Message, error) {
	out, err := h.deps.Store.Update(ctx, h.name, id, func(m *msgstore.Message) error {
		if m.RoomID != a.RoomID || !m.Audience.Includes(a.UserID()) {
			return errAbort{errorf(CodeNotFound, "no message %q in this room", id)}
		}
		m.Change = nextChange(m, kind, a.UserID())
		was := m.Status
		if e := fn(m); e != nil {
			return errAbort{e}
		}
		if m.Status != was {
			m.Change.Was = was
		}
		return nil
	})
	var ab errAbort
	switch {
	case err == nil:
		op := OpUpdated
		if kind == msgstore.ChangeDeleted {
			op = OpDeleted
		}
		h.dataEvent(op, out)
		h.changed(out)
		return out, nil
	case errors.As(err, &ab):
		return nil, ab.err
	case errors.Is(err, msgstore.ErrNotFound):
		return nil, errorf(CodeNotFound, "no message %q in this room", id)
	case errors.Is(err, msgstore.ErrOutcomeUnknown):
		h.afterUnknownOutcome(a.RoomID)
		return nil, wrapError(CodeOutcomeUnknown,
			"the message store did not answer in time: the change may be stored; read the message to see", err)
	default:
		return nil, wrapError(CodeUnavailable, "message store unavailable", err)
	}
}

// EditMessage replaces the content of the actor's own message. The
// caller has admitted the actor for hub:edit (canSend, not silenced,
// messageRateLimit: an edit rewrites content).
func (h *Hub) EditMessage(ctx context.Context, a *Actor, id string, content json.RawMessage) (*msgstore.Message, error) {
	hs := h.Spec()
	if max := hs.Guardrails.MaxMessageSize; max > 0 && len(content) > max {
		return nil, errorf(CodeMessageTooLarge, "message larger than %d bytes", max)
	}
	return h.update(ctx, a, id, msgstore.ChangeEdited, func(m *msgstore.Message) *Error {
		if m.SenderID != a.UserID() {
			return newError(CodeForbidden, "only the sender can edit a message")
		}
		if m.Status != msgstore.StatusPublished && m.Status != msgstore.StatusPending {
			return errorf(CodeForbidden, "a %s message cannot be edited", m.Status)
		}
		norm, problems := hs.ValidateContent(m.MessageType, content)
		if len(problems) > 0 {
			details := make([]spec.FieldProblem, 0, len(problems))
			for _, p := range problems {
				p.Field = "content." + p.Field
				details = append(details, p)
			}
			return &Error{Code: CodeInvalidMessage, Message: "message content is invalid", Details: details}
		}
		m.Content = norm
		at := m.Change.At
		m.EditedAt = &at
		return nil
	})
}

// DeleteMessage soft-deletes a message: the sender's own, or any with
// canDeleteAny.
func (h *Hub) DeleteMessage(ctx context.Context, a *Actor, id string) (*msgstore.Message, error) {
	return h.update(ctx, a, id, msgstore.ChangeDeleted, func(m *msgstore.Message) *Error {
		if m.SenderID != a.UserID() && !a.Permissions.CanDeleteAny {
			return newError(CodeForbidden, "you can delete only your own messages")
		}
		if m.Status == msgstore.StatusDeleted {
			return errorf(CodeNotFound, "message %q is already deleted", id)
		}
		m.Status = msgstore.StatusDeleted
		return nil
	})
}

// reactionEntry is one emoji reaction on a message.
type reactionEntry struct {
	Emoji     string `json:"emoji"`
	UserID    string `json:"userId"`
	Timestamp string `json:"timestamp"`
}

const maxEmojiBytes = 64

// React toggles the actor's emoji reaction on a published message. The
// caller has admitted the actor for hub:react (the toggle, canRead,
// messageRateLimit: a reaction is a stored write too).
func (h *Hub) React(ctx context.Context, a *Actor, id, emoji string) (*msgstore.Message, error) {
	if emoji == "" || len(emoji) > maxEmojiBytes || !utf8.ValidString(emoji) {
		return nil, &Error{Code: CodeInvalidMessage, Message: "emoji is invalid",
			Details: []spec.FieldProblem{{Field: "emoji", Message: "must be 1 to 64 bytes of text"}}}
	}
	return h.update(ctx, a, id, msgstore.ChangeReaction, func(m *msgstore.Message) *Error {
		if m.Status != msgstore.StatusPublished {
			return errorf(CodeNotFound, "no message %q in this room", id)
		}
		m.Change.Emoji = emoji
		var list []reactionEntry
		if len(m.Reaction) > 0 {
			if err := json.Unmarshal(m.Reaction, &list); err != nil {
				return wrapError(CodeInternal, "stored reactions are corrupt", err)
			}
		}
		kept := list[:0]
		removed := false
		for _, r := range list {
			if r.Emoji == emoji && r.UserID == a.UserID() {
				removed = true
				continue
			}
			kept = append(kept, r)
		}
		if !removed {
			kept = append(kept, reactionEntry{Emoji: emoji, UserID: a.UserID(), Timestamp: msgstore.FormatTime(time.Now())})
		}
		b, err := json.Marshal(kept)
		if err != nil {
			return wrapError(CodeInternal, "encode reactions", err)
		}
		m.Reaction = b
		return nil
	})
}

type messageRequest struct {
	RoomID    string          `json:"roomId"`
	MessageID string          `json:"messageId"`
	Content   json.RawMessage `json:"content"`
	Emoji     string          `json:"emoji"`
	Reason    string          `json:"reason"`
}

// memberActor decodes a request that names a room and returns the joined
// socket's actor for it.
func (h *Hub) memberActor(in *call, req any, roomID func() string) (*Actor, error) {
	if err := decode(in.payload, req); err != nil {
		return nil, err
	}
	if in.actor != nil {
		return in.actor, nil
	}
	rid := roomID()
	if rid == "" {
		return nil, newError(CodeBadRequest, "roomId is required")
	}
	m, err := in.c.membership(rid)
	if err != nil {
		return nil, err
	}
	return h.actorOf(in.c.session(), m), nil
}

// messageCall decodes an event about one message of a joined room.
func (h *Hub) messageCall(in *call) (*Actor, *messageRequest, error) {
	var req messageRequest
	a, err := h.memberActor(in, &req, func() string { return req.RoomID })
	if err != nil {
		return nil, nil, err
	}
	if req.MessageID == "" {
		return nil, nil, newError(CodeBadRequest, "messageId is required")
	}
	return a, &req, nil
}

func (h *Hub) handleEdit(ctx context.Context, in *call) (map[string]any, error) {
	a, req, err := h.messageCall(in)
	if err != nil {
		return nil, err
	}
	m, err := h.EditMessage(ctx, a, req.MessageID, req.Content)
	if err != nil {
		return nil, err
	}
	return map[string]any{"message": m}, nil
}

func (h *Hub) handleDelete(ctx context.Context, in *call) (map[string]any, error) {
	a, req, err := h.messageCall(in)
	if err != nil {
		return nil, err
	}
	if _, err := h.DeleteMessage(ctx, a, req.MessageID); err != nil {
		return nil, err
	}
	return map[string]any{"roomId": req.RoomID, "messageId": req.MessageID}, nil
}

func (h *Hub) handleReact(ctx context.Context, in *call) (map[string]any, error) {
	a, req, err := h.messageCall(in)
	if err != nil {
		return nil, err
	}
	m, err := h.React(ctx, a, req.MessageID, req.Emoji)
	if err != nil {
		return nil, err
	}
	return map[string]any{"messageId": m.ID, "reaction": m.Reaction}, nil
}
