package hub

import (
	"context"
	"encoding/json"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/sio"
	"github.com/hubd/hubd/pkg/spec"
)

type eventRequest struct {
	RoomID string          `json:"roomId"`
	Event  string          `json:"event"`
	Data   json.RawMessage `json:"data"`
}

// handleEvent serves hub:event: the standard events the hub enables and
// custom clientToRoom events. Anything else is UNKNOWN_EVENT and nothing
// is broadcast.
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
	es := h.Definition().Spec.EventSettings
	uid := in.c.session().UserID
	if ephemeralEvent(req.Event, es.CustomEvents) {
		if err := h.checkSignalRate(ctx, uid); err != nil {
			return nil, err
		}
	}
	toOthers := func(name string, extra map[string]any) {
		out := map[string]any{"roomId": req.RoomID, "userId": uid}
		for k, v := range extra {
			out[k] = v
		}
		_ = h.ns.To(readers(req.RoomID)).Except(in.s.ID()).Emit(name, out)
	}
	switch req.Event {
	case "typing", "stopTyping":
		if !es.EnableTypingIndicator {
			break
		}
		h.signal(in.s, m, "typing", req.Event == "typing")
		return nil, nil
	case "recording", "stopRecording":
		if !es.EnableRecordingIndicator {
			break
		}
		h.signal(in.s, m, "recording", req.Event == "recording")
		return nil, nil
	case "away", "back":
		if !es.EnablePresence {
			break
		}
		h.setAway(in.s, m, req.Event == "away")
		return nil, nil
	case "messageRead":
		if !es.EnableReadReceipts {
			break
		}
		var d struct {
			LastReadTimestamp string `json:"lastReadTimestamp"`
		}
		_ = json.Unmarshal(req.Data, &d)
		ts, err := time.Parse(time.RFC3339Nano, d.LastReadTimestamp)
		if err != nil {
			return nil, newError(CodeBadRequest, "data.lastReadTimestamp must be an ISO 8601 timestamp")
		}
		if err := h.deps.Store.SetReadMark(ctx, h.name, req.RoomID, uid, ts); err != nil {
			return nil, wrapError(CodeUnavailable, "read mark could not be stored", err)
		}
		toOthers("hub:messageRead", map[string]any{"lastReadTimestamp": d.LastReadTimestamp})
		return nil, nil
	case "messageDelivered":
		if !es.EnableDeliveryReceipts {
			break
		}
		var d struct {
			MessageID string `json:"messageId"`
		}
		if json.Unmarshal(req.Data, &d) != nil || d.MessageID == "" {
			return nil, newError(CodeBadRequest, "data.messageId is required")
		}
		if _, err := h.messageIn(ctx, req.RoomID, d.MessageID); err != nil {
			return nil, err
		}
		if err := h.deps.Store.SetDelivered(ctx, h.name, req.RoomID, uid, d.MessageID, time.Now()); err != nil {
			return nil, wrapError(CodeUnavailable, "delivery receipt could not be stored", err)
		}
		toOthers("hub:messageDelivered", map[string]any{"messageId": d.MessageID})
		return nil, nil
	default:
		for _, ce := range h.Definition().Spec.EventSettings.CustomEvents {
			if ce.Name != req.Event || string(ce.Direction) != "clientToRoom" {
				continue
			}
			perms := h.effective(m)
			if m.silenced {
				return nil, newError(CodeSilenced, "you are silenced in this room")
			}
			if !perms.CanSend {
				return nil, newError(CodeForbidden, "your role cannot send in this room")
			}
			stored, err := h.customEvent(ctx, &ce, req.RoomID, uid, req.Data, "")
			if err != nil {
				return nil, err
			}
			if stored != nil {
				return map[string]any{"messageId": stored.ID, "seq": stored.Seq}, nil
			}
			return nil, nil
		}
	}
	return nil, errorf(CodeUnknownEvent, "event %q is not enabled in this hub", req.Event)
}

// ephemeralEvent reports whether a hub:event is an ephemeral signal.
func ephemeralEvent(name string, custom []spec.HubCustomEvent) bool {
	switch name {
	case "typing", "stopTyping", "recording", "stopRecording", "away", "back":
		return true
	}
	for _, ce := range custom {
		if ce.Name == name {
			return ce.Ephemeral
		}
	}
	return false
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
	state, err := def.Scripts.Eval(ctx, def.state, roomID, map[string]any{
		"session": c.session().Claims, "user": c.session().Claims, "roomId": roomID, "room": m.decision.Room,
	})
	if err != nil {
		h.log.Warn("state script failed", zap.String("room", roomID), zap.Error(err))
		_ = s.Emit("hub:error", map[string]any{"error": "state unavailable", "code": CodeInternal,
			"event": "hub:requestState", "roomId": roomID})
		return
	}
	_ = s.Emit("hub:state", map[string]any{"roomId": roomID, "state": state})
}

// customEvent emits a custom event to the room (or to one user), and
// persists it first unless it is ephemeral: a persisted event is stored as
// a message whose messageType is the event name and whose content is
// {"data": ...}, so it is replayed with history in order. It returns the
// stored message, or nil for an ephemeral event.
func (h *Hub) customEvent(ctx context.Context, ce *spec.HubCustomEvent, roomID, senderID string, data json.RawMessage, toUserID string) (*msgstore.Message, error) {
	if len(data) == 0 || string(data) == "null" {
		data = nil
	} else if !json.Valid(data) {
		return nil, newError(CodeBadRequest, "data must be JSON")
	}
	if max := h.Spec().Guardrails.MaxMessageSize; max > 0 && len(data) > max {
		return nil, errorf(CodeMessageTooLarge, "event data larger than %d bytes", max)
	}
	payload := map[string]any{"roomId": roomID, "data": data}
	if senderID != "" {
		payload["userId"] = senderID
	}
	// An event for one user is never stored: room history is read by the
	// whole room.
	if ce.Ephemeral || toUserID != "" {
		if toUserID != "" {
			h.emitUser(roomID, toUserID, ce.Name, payload)
		} else {
			h.emitRoom(roomID, ce.Name, payload)
		}
		return nil, nil
	}
	content, err := json.Marshal(map[string]any{"data": data})
	if err != nil {
		return nil, wrapError(CodeInternal, "encode event", err)
	}
	sender := senderID
	if sender == "" {
		sender = SystemSender
	}
	return h.commit(ctx, &msgstore.Message{
		HubName: h.name, RoomID: roomID, SenderID: sender, MessageType: ce.Name,
		Content: content, Status: msgstore.StatusPublished,
	}, func(stored *msgstore.Message) {
		payload["messageId"], payload["seq"] = stored.ID, stored.Seq
		h.emitRoom(roomID, ce.Name, payload)
	})
}
