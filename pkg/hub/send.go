package hub

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/spec"
)

type sendRequest struct {
	RoomID string `json:"roomId"`
	SendInput
}

type replyTo struct {
	ID      string `json:"id"`
	Preview string `json:"preview,omitempty"`
}

// maxClientMessageID bounds the idempotency key a client may choose.
const maxClientMessageID = 128

// handleSend stores the message; its ack, {"ok":true,"message":...} with
// "status":"pending" for a message awaiting moderation, is written from
// in.sent (appendSendAck).
func (h *Hub) handleSend(ctx context.Context, in *call) (map[string]any, error) {
	req := &in.send
	if !in.decoded {
		if in.sendErr != nil { // sendRoomID's decode
			return nil, in.sendErr
		}
		if err := decodeSend(in.payload, true, req); err != nil {
			return nil, err
		}
	}
	if req.RoomID == "" {
		return nil, newError(CodeBadRequest, "roomId is required")
	}
	msg, err := h.send(ctx, in.actor, &req.SendInput)
	if err != nil {
		return nil, err
	}
	in.sent = msg
	return nil, nil
}

// send runs the message pipeline: checks, validation, persistence, then
// broadcast in per-room order. It returns the stored message (the original
// one for a repeated clientMessageId).
func (h *Hub) send(ctx context.Context, a *Actor, req *SendInput) (*msgstore.Message, error) {
	def := h.Definition()
	hs := def.Spec
	if req.MessageType == "" {
		return nil, newError(CodeBadRequest, "messageType is required")
	}
	if len(req.ClientMessageID) > maxClientMessageID {
		return nil, errorf(CodeBadRequest, "clientMessageId longer than %d bytes", maxClientMessageID)
	}
	perms := a.Permissions
	if req.MessageType == string(spec.MessageSystem) {
		return nil, newError(CodeTypeNotAllowed, "system messages are sent by the server only")
	}
	if !hs.MessageTypeEnabled(req.MessageType) {
		return nil, errorf(CodeTypeNotAllowed, "message type %q is not enabled in this hub", req.MessageType)
	}
	if !perms.AllowsType(req.MessageType) {
		return nil, errorf(CodeTypeNotAllowed, "your role cannot send %q messages", req.MessageType)
	}
	if max := hs.Guardrails.MaxMessageSize; max > 0 && len(req.Content)+len(req.ReplyTo) > max {
		return nil, errorf(CodeMessageTooLarge, "message larger than %d bytes", max)
	}
	validate := hs.ValidateContent
	if req.contentValid {
		validate = hs.ValidateValidContent
	}
	content, problems := validate(req.MessageType, req.Content)
	var details []spec.FieldProblem
	for _, p := range problems {
		p.Field = "content." + p.Field
		details = append(details, p)
	}
	ms := hs.MessageSettings
	var reply json.RawMessage
	if len(req.ReplyTo) > 0 && string(req.ReplyTo) != "null" {
		if !ms.EnableReplyTo {
			details = append(details, spec.FieldProblem{Field: "replyTo", Message: "replies are not enabled in this hub"})
		} else if rt, p := h.checkReplyTo(ctx, a.RoomID, req.ReplyTo); p != "" {
			details = append(details, spec.FieldProblem{Field: "replyTo", Message: p})
		} else {
			reply = rt
		}
	}
	if req.Forwarded != nil && !ms.EnableForwarded {
		details = append(details, spec.FieldProblem{Field: "forwarded", Message: "forwarding is not enabled in this hub"})
	}
	if len(details) > 0 {
		return nil, &Error{Code: CodeInvalidMessage, Message: "message content is invalid", Details: details}
	}

	status := msgstore.StatusPublished
	if perms.Moderated {
		status = msgstore.StatusPending
	}
	msg := &msgstore.Message{
		HubName:         h.name,
		RoomID:          a.RoomID,
		SenderID:        a.UserID(),
		MessageType:     req.MessageType,
		Content:         content,
		Status:          status,
		ReplyTo:         reply,
		ClientMessageID: req.ClientMessageID,
	}
	if ms.EnableForwarded && req.Forwarded != nil {
		msg.Forwarded = req.Forwarded
	}
	if ms.EnableReaction {
		msg.Reaction = json.RawMessage("[]")
	}
	// hubLogic: a custom type with a messageHandler is routed through its
	// script instead of the standard flow.
	if prog := def.handler(req.MessageType); prog != nil {
		return h.runHandler(ctx, a, def, prog, msg)
	}
	return h.publish(ctx, msg)
}

// publish persists msg and, once the write is committed, broadcasts it to
// the room in sequence order. Nothing is broadcast when the write fails.
func (h *Hub) publish(ctx context.Context, msg *msgstore.Message) (*msgstore.Message, error) {
	return h.commit(ctx, msg, arrived)
}

// commit stores msg and, once the write is committed, hands it to the data
// event sink and releases its delivery in the room's sequence order on
// every node: a published message's is what onPublished returns (nil:
// nothing), a pending one goes to the room's moderators. A failed write
// delivers nothing; a repeated clientMessageId returns the original and
// delivers nothing again.
func (h *Hub) commit(ctx context.Context, msg *msgstore.Message, onPublished func(*msgstore.Message) delivery) (*msgstore.Message, error) {
	start := time.Now()
	stored, created, err := h.deps.Store.Append(ctx, msg)
	if mt := h.deps.Metrics; mt != nil {
		mt.StoreWriteDuration.Observe(time.Since(start).Seconds())
	}
	if errors.Is(err, msgstore.ErrOutcomeUnknown) {
		h.afterUnknownOutcome(msg.RoomID)
		return nil, wrapError(CodeOutcomeUnknown,
			"the message store did not answer in time: the message may be stored; retrying with the same clientMessageId is safe", err)
	}
	if err != nil {
		return nil, wrapError(CodeUnavailable, "message could not be stored", err)
	}
	if !created {
		return stored, nil
	}
	if mt := h.deps.Metrics; mt != nil {
		h.hot.messageCounter(mt, h.name, stored.Status).Inc()
	}
	h.dataEvent(OpCreated, stored)
	var d delivery
	switch {
	case stored.Status == msgstore.StatusPublished && onPublished != nil:
		d = onPublished(stored)
	case stored.Status == msgstore.StatusPending:
		d = pendingDelivery(stored)
	}
	h.sequenced(stored.RoomID, stored.Seq, d)
	return stored, nil
}

// arrived is the delivery of a published message: hub:messageArrived to
// the room's readers, written in one buffer by the message's own encoder.
func arrived(m *msgstore.Message) delivery {
	return delivery{To: toReaders, Event: arrivedEvent(m), Offset: offsetOf(m)}
}

// pendingDelivery is the delivery of a message awaiting moderation: to the
// moderators its audience includes.
func pendingDelivery(m *msgstore.Message) delivery {
	d := delivery{To: toModerators, Event: outPending.Of(PendingMessage{Message: m, RoomID: m.RoomID})}
	if a := m.Audience; a != nil {
		d.Kind, d.Users = audienceUsers, a.Users
		if a.Users == nil {
			d.Kind, d.Users = audienceExcept, a.Except
		}
	}
	return d
}

// Kinds of a moderators' delivery restricted to an audience.
const (
	audienceUsers  = "audience.users"
	audienceExcept = "audience.except"
)

// audience is the audience a moderators' delivery is restricted to (nil:
// every moderator).
func (d delivery) audience() *msgstore.Audience {
	switch d.Kind {
	case audienceUsers:
		return &msgstore.Audience{Users: append([]string{}, d.Users...)}
	case audienceExcept:
		return &msgstore.Audience{Except: d.Users}
	}
	return nil
}

// checkReplyTo validates a replyTo object against the room and returns it
// normalized, or a problem description.
func (h *Hub) checkReplyTo(ctx context.Context, roomID string, raw json.RawMessage) (json.RawMessage, string) {
	var rt replyTo
	if err := json.Unmarshal(raw, &rt); err != nil || rt.ID == "" {
		return nil, "must be an object with an id"
	}
	if len([]rune(rt.Preview)) > 500 {
		return nil, "preview longer than 500 characters"
	}
	ref, err := h.deps.Store.Get(ctx, h.name, rt.ID)
	if errors.Is(err, msgstore.ErrNotFound) || (err == nil && (ref.RoomID != roomID || ref.Status != msgstore.StatusPublished || ref.Audience != nil)) {
		return nil, "no such message in this room"
	}
	if err != nil {
		return nil, "could not be checked: message store unavailable"
	}
	out, _ := json.Marshal(rt)
	return out, ""
}
