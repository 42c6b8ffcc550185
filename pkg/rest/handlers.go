package rest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/spec"
	"github.com/hubd/hubd/pkg/strictjson"
)

// Response bodies. Field order is the JSON order.
type (
	messageList struct {
		OK       bool                `json:"ok"`
		RoomID   string              `json:"roomId"`
		Messages []*msgstore.Message `json:"messages"`
	}
	messageResult struct {
		OK      bool              `json:"ok"`
		Message *msgstore.Message `json:"message"`
		// Status is "pending" when a sent message waits for approval.
		Status string `json:"status,omitempty"`
	}
	presenceResult struct {
		OK     bool                `json:"ok"`
		RoomID string              `json:"roomId"`
		Users  []hub.PresenceEntry `json:"users"`
	}
	receiptsResult struct {
		OK       bool          `json:"ok"`
		RoomID   string        `json:"roomId"`
		Receipts []hub.Receipt `json:"receipts"`
	}
	deliveriesResult struct {
		OK         bool           `json:"ok"`
		MessageID  string         `json:"messageId"`
		Deliveries []hub.Delivery `json:"deliveries"`
	}
	unreadResult struct {
		OK     bool   `json:"ok"`
		RoomID string `json:"roomId"`
		Unread int64  `json:"unread"`
	}
	serverEventResult struct {
		OK     bool   `json:"ok"`
		RoomID string `json:"roomId"`
		Event  string `json:"event"`
		UserID string `json:"userId,omitempty"`
	}
	moderationResult struct {
		OK     bool   `json:"ok"`
		RoomID string `json:"roomId"`
		UserID string `json:"userId"`
	}
	roomResult struct {
		OK       bool            `json:"ok"`
		RoomID   string          `json:"roomId"`
		Settings json.RawMessage `json:"settings"`
	}
)

// Request bodies.
type (
	editRequest struct {
		Content json.RawMessage `json:"content"`
	}
	reactionRequest struct {
		Emoji string `json:"emoji"`
	}
	// replyToRequest is the documented shape of a send's replyTo.
	replyToRequest struct {
		ID      string `json:"id"`
		Preview string `json:"preview"`
	}
	serverEventRequest struct {
		Event  string          `json:"event"`
		Data   json.RawMessage `json:"data" strictjson:"nullable"` // any JSON value, null included
		UserID string          `json:"userId"`
	}
	rejectRequest struct {
		Reason string `json:"reason"`
	}
	blockRequest struct {
		UserID          string `json:"userId"`
		Reason          string `json:"reason"`
		DurationSeconds int64  `json:"durationSeconds"`
	}
	userRequest struct {
		UserID string `json:"userId"`
	}
	kickRequest struct {
		UserID string `json:"userId"`
		Reason string `json:"reason"`
	}
	updateRoomRequest struct {
		Settings json.RawMessage `json:"settings"`
	}
)

func ok(body any) (result, error)      { return result{status: http.StatusOK, body: body}, nil }
func created(body any) (result, error) { return result{status: http.StatusCreated, body: body}, nil }

// roomActor authorizes the caller for the room of the path and admits it
// for the route's socket twin.
func (c *call) roomActor() (*hub.Actor, error) {
	a, err := c.hub.ActorFor(c.r.Context(), c.sess, c.r.PathValue("roomId"))
	if err != nil {
		return nil, err
	}
	return a, c.admit(a)
}

// admit runs the pre-check of the route's socket twin, if it has one.
func (c *call) admit(a *hub.Actor) error {
	if c.rt == nil || c.rt.inbound == nil {
		return nil
	}
	return c.hub.Admit(c.r.Context(), c.rt.inbound, a)
}

// messageActor authorizes the caller for the room of the path's message.
func (c *call) messageActor() (*hub.Actor, string, error) {
	id := c.r.PathValue("messageId")
	roomID, err := c.hub.MessageRoom(c.r.Context(), id)
	if err != nil {
		return nil, "", err
	}
	a, err := c.hub.ActorFor(c.r.Context(), c.sess, roomID)
	if err != nil {
		return nil, "", err
	}
	return a, id, c.admit(a)
}

// messageOp runs a one-message operation after authorizing the caller.
func messageOp(c *call, op func(a *hub.Actor, id string) (*msgstore.Message, error)) (result, error) {
	a, id, err := c.messageActor()
	if err != nil {
		return result{}, err
	}
	m, err := op(a, id)
	if err != nil {
		return result{}, err
	}
	return ok(messageResult{OK: true, Message: m})
}

func serveOpenAPI(c *call) (result, error) {
	doc, err := c.handler.openAPI(c.hubName, c.spec)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, raw: doc}, nil
}

func serveList(c *call) (result, error) {
	q := c.r.URL.Query()
	in := hub.ListInput{Before: q.Get("before"), After: q.Get("after")}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return result{}, badRequest("limit must be a positive integer, got %q", s)
		}
		in.Limit = n
	}
	a, err := c.roomActor()
	if err != nil {
		return result{}, err
	}
	msgs, err := c.hub.ListMessages(c.r.Context(), a, in)
	if err != nil {
		return result{}, err
	}
	return ok(messageList{OK: true, RoomID: a.RoomID, Messages: nonNil(msgs)})
}

func serveSend(c *call) (result, error) {
	var in hub.SendInput
	if err := c.decodeBody(&in, false); err != nil {
		return result{}, err
	}
	if len(in.ReplyTo) > 0 { // raw for the hub, which checks it on every path; strict here as the body is
		if err := strictjson.Decode(in.ReplyTo, &replyToRequest{}); err != nil {
			return result{}, badRequest("invalid request body: replyTo: %v", err)
		}
	}
	a, err := c.roomActor()
	if err != nil {
		return result{}, err
	}
	m, err := c.hub.Send(c.r.Context(), a, in)
	if err != nil {
		return result{}, err
	}
	res := messageResult{OK: true, Message: m}
	if m.Status == msgstore.StatusPending {
		res.Status = msgstore.StatusPending
	}
	return created(res)
}

func serveGet(c *call) (result, error) {
	return messageOp(c, func(a *hub.Actor, id string) (*msgstore.Message, error) {
		return c.hub.GetMessage(c.r.Context(), a, id)
	})
}

func serveEdit(c *call) (result, error) {
	var in editRequest
	if err := c.decodeBody(&in, false); err != nil {
		return result{}, err
	}
	if isNull(in.Content) {
		return result{}, invalid("content", "required")
	}
	return messageOp(c, func(a *hub.Actor, id string) (*msgstore.Message, error) {
		return c.hub.EditMessage(c.r.Context(), a, id, in.Content)
	})
}

func serveDelete(c *call) (result, error) {
	return messageOp(c, func(a *hub.Actor, id string) (*msgstore.Message, error) {
		return c.hub.DeleteMessage(c.r.Context(), a, id)
	})
}

func serveReact(c *call) (result, error) {
	var in reactionRequest
	if err := c.decodeBody(&in, false); err != nil {
		return result{}, err
	}
	if in.Emoji == "" {
		return result{}, invalid("emoji", "required")
	}
	return messageOp(c, func(a *hub.Actor, id string) (*msgstore.Message, error) {
		return c.hub.React(c.r.Context(), a, id, in.Emoji)
	})
}

func servePresence(c *call) (result, error) {
	a, err := c.roomActor()
	if err != nil {
		return result{}, err
	}
	users, err := c.hub.Presence(c.r.Context(), a)
	if err != nil {
		return result{}, err
	}
	if users == nil {
		users = []hub.PresenceEntry{}
	}
	return ok(presenceResult{OK: true, RoomID: a.RoomID, Users: users})
}

func serveReceipts(c *call) (result, error) {
	a, err := c.roomActor()
	if err != nil {
		return result{}, err
	}
	rs, err := c.hub.Receipts(c.r.Context(), a)
	if err != nil {
		return result{}, err
	}
	if rs == nil {
		rs = []hub.Receipt{}
	}
	return ok(receiptsResult{OK: true, RoomID: a.RoomID, Receipts: rs})
}

func serveDeliveries(c *call) (result, error) {
	a, id, err := c.messageActor()
	if err != nil {
		return result{}, err
	}
	ds, err := c.hub.Deliveries(c.r.Context(), a, id)
	if err != nil {
		return result{}, err
	}
	if ds == nil {
		ds = []hub.Delivery{}
	}
	return ok(deliveriesResult{OK: true, MessageID: id, Deliveries: ds})
}

func serveUnread(c *call) (result, error) {
	a, err := c.roomActor()
	if err != nil {
		return result{}, err
	}
	n, err := c.hub.Unread(c.r.Context(), a)
	if err != nil {
		return result{}, err
	}
	return ok(unreadResult{OK: true, RoomID: a.RoomID, Unread: n})
}

// serveEvent emits a custom event for a backend: any custom event of the
// hub (serverToRoom and serverToClient ones, and clientToRoom ones a service
// relays), to the room or, with userId, to one user's sockets in it. There
// is no room authorization: the service role is the credential.
func serveEvent(c *call) (result, error) {
	var in serverEventRequest
	if err := c.decodeBody(&in, false); err != nil {
		return result{}, err
	}
	if in.Event == "" {
		return result{}, invalid("event", "required")
	}
	ev, found := findCustomEvent(c.spec, in.Event)
	if !found {
		return result{}, &hub.Error{Code: hub.CodeUnknownEvent, Message: "no custom event " + quote(in.Event)}
	}
	if ev.Direction == spec.ServerToClient && in.UserID == "" {
		return result{}, invalid("userId", "required for a serverToClient event")
	}
	roomID := c.r.PathValue("roomId")
	if err := c.hub.EmitServerEvent(c.r.Context(), roomID, in.Event, in.Data, in.UserID); err != nil {
		return result{}, err
	}
	return ok(serverEventResult{OK: true, RoomID: roomID, Event: in.Event, UserID: in.UserID})
}

func findCustomEvent(h *spec.Hub, name string) (spec.HubCustomEvent, bool) {
	for _, e := range h.EventSettings.CustomEvents {
		if e.Name == name {
			return e, true
		}
	}
	return spec.HubCustomEvent{}, false
}

func servePending(c *call) (result, error) {
	a, err := c.roomActor()
	if err != nil {
		return result{}, err
	}
	msgs, err := c.hub.PendingMessages(c.r.Context(), a)
	if err != nil {
		return result{}, err
	}
	return ok(messageList{OK: true, RoomID: a.RoomID, Messages: nonNil(msgs)})
}

func serveApprove(c *call) (result, error) {
	return messageOp(c, func(a *hub.Actor, id string) (*msgstore.Message, error) {
		return c.hub.Approve(c.r.Context(), a, id)
	})
}

func serveReject(c *call) (result, error) {
	var in rejectRequest
	if err := c.decodeBody(&in, true); err != nil {
		return result{}, err
	}
	return messageOp(c, func(a *hub.Actor, id string) (*msgstore.Message, error) {
		return c.hub.Reject(c.r.Context(), a, id, in.Reason)
	})
}

// userOp runs a moderation operation on a user of the path's room.
func userOp(c *call, userID string, op func(a *hub.Actor) error) (result, error) {
	if userID == "" {
		return result{}, invalid("userId", "required")
	}
	a, err := c.roomActor()
	if err != nil {
		return result{}, err
	}
	if err := op(a); err != nil {
		return result{}, err
	}
	return ok(moderationResult{OK: true, RoomID: a.RoomID, UserID: userID})
}

func serveBlock(c *call) (result, error) {
	var in blockRequest
	if err := c.decodeBody(&in, false); err != nil {
		return result{}, err
	}
	if in.DurationSeconds < 0 {
		return result{}, invalid("durationSeconds", "must be >= 0")
	}
	return userOp(c, in.UserID, func(a *hub.Actor) error {
		return c.hub.Block(c.r.Context(), a, in.UserID, in.Reason, time.Duration(in.DurationSeconds)*time.Second)
	})
}

func serveUnblock(c *call) (result, error) {
	userID := c.r.PathValue("userId")
	return userOp(c, userID, func(a *hub.Actor) error { return c.hub.Unblock(c.r.Context(), a, userID) })
}

func serveSilence(c *call) (result, error) {
	var in userRequest
	if err := c.decodeBody(&in, false); err != nil {
		return result{}, err
	}
	return userOp(c, in.UserID, func(a *hub.Actor) error { return c.hub.Silence(c.r.Context(), a, in.UserID) })
}

func serveUnsilence(c *call) (result, error) {
	userID := c.r.PathValue("userId")
	return userOp(c, userID, func(a *hub.Actor) error { return c.hub.Unsilence(c.r.Context(), a, userID) })
}

func serveKick(c *call) (result, error) {
	var in kickRequest
	if err := c.decodeBody(&in, false); err != nil {
		return result{}, err
	}
	return userOp(c, in.UserID, func(a *hub.Actor) error { return c.hub.Kick(c.r.Context(), a, in.UserID, in.Reason) })
}

func serveUpdateRoom(c *call) (result, error) {
	var in updateRoomRequest
	if err := c.decodeBody(&in, false); err != nil {
		return result{}, err
	}
	if t := bytes.TrimSpace(in.Settings); len(t) == 0 || t[0] != '{' {
		return result{}, invalid("settings", "must be a JSON object")
	}
	a, err := c.roomActor()
	if err != nil {
		return result{}, err
	}
	out, err := c.hub.UpdateRoom(c.r.Context(), a, in.Settings)
	if err != nil {
		return result{}, err
	}
	if len(out) == 0 {
		out = json.RawMessage("{}")
	}
	return ok(roomResult{OK: true, RoomID: a.RoomID, Settings: out})
}

func nonNil(msgs []*msgstore.Message) []*msgstore.Message {
	if msgs == nil {
		return []*msgstore.Message{}
	}
	return msgs
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

// invalid is an INVALID_MESSAGE error about one field of the body.
func invalid(field, msg string) *hub.Error {
	return &hub.Error{Code: hub.CodeInvalidMessage, Message: field + ": " + msg,
		Details: []spec.FieldProblem{{Field: field, Message: msg}}}
}

func quote(s string) string { return strconv.Quote(s) }
