package hub

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/sio"
	"github.com/hubd/hubd/pkg/spec"
)

type eventRequest struct {
	RoomID string          `json:"roomId"`
	Event  string          `json:"event"`
	Data   json.RawMessage `json:"data"`
}

// handleEvent serves hub:event: the standard events the hub enables and
// custom clientToRoom events (a custom event may take the name of a
// standard event the hub does not enable). Anything else is UNKNOWN_EVENT
// and nothing is broadcast.
func (h *Hub) handleEvent(ctx context.Context, in *call) (map[string]any, error) {
	var req eventRequest
	if err := decode(in.payload, &req); err != nil {
		return nil, err
	}
	if req.Event == "" {
		return nil, newError(CodeBadRequest, "event is required")
	}
	m, err := in.c.membership(req.RoomID)
	if err != nil {
		return nil, err
	}
	hs := h.Spec()
	ev := &hubEvent{call: in, req: &req, m: m, uid: in.c.session().UserID}
	if std := spec.StandardEventOf(req.Event); std != nil && std.Enabled(&hs.EventSettings) {
		if signalEvents[std.Name] {
			if err := h.checkSignalRate(ctx, ev.uid); err != nil {
				return nil, err
			}
		}
		return nil, standardHandlers[std.Name](h, ctx, ev)
	}
	ce := customEventOf(hs, req.Event)
	if ce == nil || ce.Direction != spec.ClientToRoom {
		return nil, errorf(CodeUnknownEvent, "event %q is not enabled in this hub", req.Event)
	}
	return h.clientCustomEvent(ctx, ev, ce)
}

// hubEvent is one hub:event call being handled.
type hubEvent struct {
	call *call
	req  *eventRequest
	m    *member
	uid  string
}

// toOthers sends e to the room's readers but the calling socket.
func (h *Hub) toOthers(ev *hubEvent, e Event) {
	h.emitReaders(ev.req.RoomID, e, ev.call.s.ID())
}

// signalEvents are the standard events capped as ephemeral signals.
var signalEvents = map[string]bool{
	"typing": true, "stopTyping": true, "recording": true, "stopRecording": true, "away": true, "back": true,
}

// standardHandlers handle the standard events, by name.
var standardHandlers = map[string]func(h *Hub, ctx context.Context, ev *hubEvent) error{
	"typing": func(h *Hub, _ context.Context, ev *hubEvent) error {
		h.signal(ev.call.s, ev.m, "typing", true)
		return nil
	},
	"stopTyping": func(h *Hub, _ context.Context, ev *hubEvent) error {
		h.signal(ev.call.s, ev.m, "typing", false)
		return nil
	},
	"recording": func(h *Hub, _ context.Context, ev *hubEvent) error {
		h.signal(ev.call.s, ev.m, "recording", true)
		return nil
	},
	"stopRecording": func(h *Hub, _ context.Context, ev *hubEvent) error {
		h.signal(ev.call.s, ev.m, "recording", false)
		return nil
	},
	"away":             func(h *Hub, _ context.Context, ev *hubEvent) error { h.setAway(ev.call.s, ev.m, true); return nil },
	"back":             func(h *Hub, _ context.Context, ev *hubEvent) error { h.setAway(ev.call.s, ev.m, false); return nil },
	"messageRead":      (*Hub).messageRead,
	"messageDelivered": (*Hub).messageDelivered,
}

func (h *Hub) messageRead(ctx context.Context, ev *hubEvent) error {
	var d struct {
		LastReadTimestamp string `json:"lastReadTimestamp"`
	}
	_ = json.Unmarshal(ev.req.Data, &d)
	ts, err := time.Parse(time.RFC3339Nano, d.LastReadTimestamp)
	if err != nil {
		return newError(CodeBadRequest, "data.lastReadTimestamp must be an ISO 8601 timestamp")
	}
	if err := h.deps.Store.SetReadMark(ctx, h.name, ev.req.RoomID, ev.uid, ts); err != nil {
		return wrapError(CodeUnavailable, "read mark could not be stored", err)
	}
	h.toOthers(ev, outRead.Of(MessageRead{LastReadTimestamp: d.LastReadTimestamp, RoomID: ev.req.RoomID, UserID: ev.uid}))
	return nil
}

func (h *Hub) messageDelivered(ctx context.Context, ev *hubEvent) error {
	var d struct {
		MessageID string `json:"messageId"`
	}
	if json.Unmarshal(ev.req.Data, &d) != nil || d.MessageID == "" {
		return newError(CodeBadRequest, "data.messageId is required")
	}
	if m, err := h.messageIn(ctx, ev.req.RoomID, d.MessageID); err != nil {
		return err
	} else if !m.Audience.Includes(ev.uid) {
		return errorf(CodeNotFound, "no message %q in this room", d.MessageID)
	}
	if err := h.deps.Store.SetDelivered(ctx, h.name, ev.req.RoomID, ev.uid, d.MessageID, time.Now()); err != nil {
		return wrapError(CodeUnavailable, "delivery receipt could not be stored", err)
	}
	h.toOthers(ev, outDelivered.Of(MessageDelivered{MessageID: d.MessageID, RoomID: ev.req.RoomID, UserID: ev.uid}))
	return nil
}

// clientCustomEvent sends a member's clientToRoom custom event: an
// ephemeral one is a signal (signal rate cap), a stored one is a message
// (messageRateLimit, moderation).
func (h *Hub) clientCustomEvent(ctx context.Context, ev *hubEvent, ce *spec.HubCustomEvent) (map[string]any, error) {
	perms := h.effective(ev.m)
	if ev.m.silenced {
		return nil, newError(CodeSilenced, "you are silenced in this room")
	}
	if !perms.CanSend {
		return nil, newError(CodeForbidden, "your role cannot send in this room")
	}
	check := h.checkSignalRate
	if !ce.Ephemeral {
		check = h.checkMessageRate
	}
	if err := check(ctx, ev.uid); err != nil {
		return nil, err
	}
	stored, err := h.customEvent(ctx, ce, eventInput{roomID: ev.req.RoomID, senderID: ev.uid, data: ev.req.Data, moderated: perms.Moderated})
	if err != nil || stored == nil {
		return nil, err
	}
	res := map[string]any{"messageId": stored.ID, "seq": stored.Seq}
	if stored.Status == msgstore.StatusPending {
		res["status"] = msgstore.StatusPending
	}
	return res, nil
}

func (h *Hub) handleRequestState(ctx context.Context, in *call) (map[string]any, error) {
	var req joinRequest
	if err := decode(in.payload, &req); err != nil {
		return nil, err
	}
	m, err := in.c.membership(req.RoomID)
	if err != nil {
		return nil, err
	}
	if h.Definition().state == nil {
		return nil, newError(CodeUnknownEvent, "this hub has no state script")
	}
	in.after = func() {
		ctx, cancel := context.WithTimeout(context.Background(), h.deps.OpTimeout)
		defer cancel()
		h.sendState(ctx, in.s, in.c, req.RoomID, m)
	}
	return map[string]any{"roomId": req.RoomID}, nil
}

// sendState runs the state script and sends hub:state to one socket.
func (h *Hub) sendState(ctx context.Context, s *sio.Socket, c *client, roomID string, m *member) {
	def := h.Definition()
	if def.state == nil {
		return
	}
	state, err := h.roomState(ctx, c.session(), roomID, m.decision.Room)
	if err != nil {
		h.log.Warn("state script failed", zap.String("room", roomID), zap.Error(err))
		h.emitSocket(s, errorEvent(newError(CodeInternal, "state unavailable"), "hub:requestState", roomID))
		return
	}
	h.emitSocket(s, outState.Of(State{RoomID: roomID, State: state}))
}

// roomState runs the state script on the room's owner: here when this
// node owns the room (or is alone), else on the owner node.
func (h *Hub) roomState(ctx context.Context, s *authz.Session, roomID string, room records.Record) (any, error) {
	if h.deps.Leases != nil {
		release, err := h.logic.acquire(ctx, roomID)
		if err != nil {
			return nil, err
		}
		mine := h.ownsRoom(ctx, roomID, true)
		release()
		if !mine {
			return h.forwardState(ctx, s, roomID, room)
		}
	}
	return h.evalState(ctx, s, roomID, room)
}

// evalState runs the state script here and returns its value as JSON.
func (h *Hub) evalState(ctx context.Context, s *authz.Session, roomID string, room records.Record) (json.RawMessage, error) {
	def := h.Definition()
	if def.state == nil {
		return nil, errors.New("no state script")
	}
	state, err := def.Scripts.Eval(ctx, def.state, roomID, map[string]any{
		"session": s.Claims, "user": s.Claims, "roomId": roomID, "room": room,
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(state)
}

// customEventOf returns the hub's custom event called name, or nil.
func customEventOf(hs *spec.Hub, name string) *spec.HubCustomEvent {
	for i := range hs.EventSettings.CustomEvents {
		if ce := &hs.EventSettings.CustomEvents[i]; ce.Name == name {
			return ce
		}
	}
	return nil
}

// eventInput is one custom event to emit: from a member (senderID) or the
// server (""), to the room or to one user (toUserID).
type eventInput struct {
	roomID, senderID, toUserID string
	data                       json.RawMessage
	// moderated: a stored event waits for a moderator like a message.
	moderated bool
}

// customEvent emits a custom event to the room (or to one user), and
// persists it first unless it is ephemeral: a persisted event is stored as
// a message whose messageType is the event name and whose content is
// {"data": ...}, so it is replayed with history in order. A moderated
// sender's stored event is pending and reaches the room once approved. It
// returns the stored message, or nil for an ephemeral event.
func (h *Hub) customEvent(ctx context.Context, ce *spec.HubCustomEvent, in eventInput) (*msgstore.Message, error) {
	data := in.data
	if len(data) == 0 || string(data) == "null" {
		data = nil
	} else if !json.Valid(data) {
		return nil, newError(CodeBadRequest, "data must be JSON")
	}
	if max := h.Spec().Guardrails.MaxMessageSize; max > 0 && len(data) > max {
		return nil, errorf(CodeMessageTooLarge, "event data larger than %d bytes", max)
	}
	if data != nil {
		if problems := spec.CheckJSONValues(data); len(problems) > 0 {
			for i := range problems {
				problems[i].Field = joinField("data", problems[i].Field)
			}
			return nil, &Error{Code: CodeInvalidMessage, Message: "event data is invalid", Details: problems}
		}
	}
	// An event for one user is never stored: room history is read by the
	// whole room.
	if ce.Ephemeral || in.toUserID != "" {
		e := Custom(ce.Name).Of(eventPayload(in.roomID, in.senderID, data))
		if in.toUserID != "" {
			h.emitUser(in.roomID, in.toUserID, e)
		} else {
			h.emitRoom(in.roomID, e)
		}
		return nil, nil
	}
	content, err := json.Marshal(map[string]any{"data": data})
	if err != nil {
		return nil, wrapError(CodeInternal, "encode event", err)
	}
	sender := in.senderID
	if sender == "" {
		sender = SystemSender
	}
	status := msgstore.StatusPublished
	if in.moderated && in.senderID != "" {
		status = msgstore.StatusPending
	}
	return h.commit(ctx, &msgstore.Message{
		HubName: h.name, RoomID: in.roomID, SenderID: sender, MessageType: ce.Name,
		Content: content, Status: status,
	}, storedEventDelivery)
}

// eventPayload is the payload of a custom event.
func eventPayload(roomID, senderID string, data json.RawMessage) CustomEvent {
	payload := CustomEvent{Data: data, RoomID: roomID}
	if senderID != SystemSender {
		payload.UserID = senderID
	}
	return payload
}

// storedEventDelivery is the delivery of a stored (published) custom
// event: the room's readers get it under its own name, with its messageId
// and seq, and its recovery offset as a message has.
func storedEventDelivery(m *msgstore.Message) delivery {
	var c struct {
		Data json.RawMessage `json:"data"`
	}
	_ = json.Unmarshal(m.Content, &c)
	payload := eventPayload(m.RoomID, m.SenderID, c.Data)
	payload.MessageID, payload.Seq = m.ID, m.Seq
	e := Custom(m.MessageType).Of(payload)
	if e.err != nil {
		return delivery{}
	}
	return delivery{To: toReaders, Event: e, Offset: offsetOf(m)}
}

// joinField joins a field path prefix and a path ("" is the prefix).
func joinField(prefix, path string) string {
	switch {
	case path == "":
		return prefix
	case path[0] == '[':
		return prefix + path
	}
	return prefix + "." + path
}
