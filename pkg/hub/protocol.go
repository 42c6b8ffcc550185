package hub

import (
	"context"
	"encoding/json"
	"sort"
	"strings"

	"github.com/hubd/hubd/pkg/spec"
)

// The socket protocol, declared once. Every inbound event of a hub's
// namespace is one Inbound entry: the dispatcher (dispatch) finds it by
// name and enforces what it declares (the spec toggle, the joined room,
// the permission, the rate-limit class, moderation) before its handler
// runs, and REST routes that have a socket twin name the same entry and
// pass through the same pre-check (Admit), so both paths hold the same
// rules. Persistence and audience are applied by the pipeline (send,
// customEvent) both paths' handlers call.
// The same table generates the event tables of docs/protocol.md and the
// hub's AsyncAPI document.

// Permission is what a member needs for an event, checked on the member's
// effective permissions (silence and globalModeration applied).
type Permission string

// Permissions of the protocol.
const (
	PermNone     Permission = ""
	PermRead     Permission = "canRead"
	PermSend     Permission = "canSend" // a silenced member gets SILENCED
	PermModerate Permission = "canModerate"
	PermManage   Permission = "canManageRoom"
)

// RateClass is the rate limit an event counts against.
type RateClass string

// Rate-limit classes.
const (
	RateNone     RateClass = ""
	RateMessage  RateClass = "messageRateLimit" // guardrails.messageRateLimit, per user per minute
	RateSignal   RateClass = "signal"           // 30 per 10 s per user
	RatePerEvent RateClass = "perEvent"         // hub:event: signal for ephemeral events, message for stored ones
)

// Persistence says whether and for whom an event's result is stored.
type Persistence string

// Persistence of an event's result.
const (
	PersistNone     Persistence = ""
	PersistRoom     Persistence = "room"     // a message of the room, read by every reader
	PersistAudience Persistence = "audience" // as the message handler or event decides: the room, some users, or nothing
	PersistUpdate   Persistence = "update"   // changes a stored message
)

// Inbound declares one client-to-server event.
type Inbound struct {
	Name    string
	Summary string
	// Fields are the payload's fields, "?" marking the optional ones;
	// Request is a zero value of the type the payload decodes into.
	Fields  []string
	Request any
	// Toggle names the spec setting that enables the event ("" always on);
	// Enabled reads it.
	Toggle  string
	Enabled func(*spec.Hub) bool
	// Room: the payload names a joined room (roomId), NOT_JOINED otherwise.
	Room       bool
	Permission Permission
	Rate       RateClass
	// Moderated: a moderated sender's result is pending until approved.
	Moderated bool
	Persist   Persistence
	Ephemeral bool
	handle    func(h *Hub, ctx context.Context, in *call) (map[string]any, error)
	// roomOf reads the roomId of an event of a room (nil: decodeRoomID).
	roomOf func(in *call) (string, error)
}

// Protocol lists the inbound events, in the order of docs/protocol.md.
var Protocol []*Inbound

func init() {
	Protocol = []*Inbound{
		{Name: "hub:join", Fields: []string{"roomId", "since?"}, Summary: "join a room (layered authorization); history and state follow", Request: joinRequest{},
			handle: (*Hub).handleJoin},
		{Name: "hub:leave", Fields: []string{"roomId"}, Summary: "leave a room", Request: joinRequest{}, Room: true, handle: (*Hub).handleLeave},
		{Name: "hub:send", Fields: []string{"roomId", "messageType", "content", "replyTo?", "forwarded?", "clientMessageId?"}, Summary: "send a message", Request: sendRequest{}, Room: true, Permission: PermSend,
			Rate: RateMessage, Moderated: true, Persist: PersistAudience, handle: (*Hub).handleSend, roomOf: sendRoomID},
		{Name: "hub:loadHistory", Fields: []string{"roomId", "before?", "after?", "limit?"}, Summary: "a page of the room's messages", Request: historyRequest{}, Room: true,
			Permission: PermRead, handle: (*Hub).handleLoadHistory},
		{Name: "hub:event", Fields: []string{"roomId", "event", "data?"}, Summary: "a standard or clientToRoom custom event", Request: eventRequest{}, Room: true,
			Rate: RatePerEvent, Moderated: true, Persist: PersistAudience, handle: (*Hub).handleEvent},
		{Name: "hub:edit", Fields: []string{"roomId", "messageId", "content"}, Summary: "edit one's own message", Request: messageRequest{}, Room: true, Permission: PermSend,
			Rate: RateMessage, Persist: PersistUpdate, handle: (*Hub).handleEdit},
		{Name: "hub:delete", Fields: []string{"roomId", "messageId"}, Summary: "delete a message (own, or any with canDeleteAny)", Request: messageRequest{}, Room: true,
			Persist: PersistUpdate, handle: (*Hub).handleDelete},
		{Name: "hub:react", Fields: []string{"roomId", "messageId", "emoji"}, Summary: "toggle an emoji reaction", Request: messageRequest{}, Room: true, Permission: PermRead,
			Toggle: "messageSettings.enableReaction", Enabled: func(h *spec.Hub) bool { return h.MessageSettings.EnableReaction },
			Rate: RateMessage, Persist: PersistUpdate, handle: (*Hub).handleReact},
		{Name: "hub:approve", Fields: []string{"roomId", "messageId"}, Summary: "publish a pending message", Request: moderationRequest{}, Room: true,
			Permission: PermModerate, Persist: PersistUpdate, handle: reviewHandler(true)},
		{Name: "hub:reject", Fields: []string{"roomId", "messageId", "reason?"}, Summary: "refuse a pending message", Request: moderationRequest{}, Room: true,
			Permission: PermModerate, Persist: PersistUpdate, handle: reviewHandler(false)},
		{Name: "hub:block", Fields: []string{"roomId", "userId", "reason?", "durationSeconds?"}, Summary: "remove a user and keep them out", Request: moderationRequest{}, Room: true,
			Permission: PermModerate, handle: handleBlock},
		{Name: "hub:unblock", Fields: []string{"roomId", "userId"}, Summary: "lift a block", Request: moderationRequest{}, Room: true,
			Permission: PermModerate, handle: handleUnblock},
		{Name: "hub:silence", Fields: []string{"roomId", "userId"}, Summary: "stop a user from sending", Request: moderationRequest{}, Room: true,
			Permission: PermModerate, handle: handleSilence},
		{Name: "hub:unsilence", Fields: []string{"roomId", "userId"}, Summary: "let a silenced user speak", Request: moderationRequest{}, Room: true,
			Permission: PermModerate, handle: handleUnsilence},
		{Name: "hub:requestSpeak", Fields: []string{"roomId"}, Summary: "a silenced member asks to speak", Request: moderationRequest{}, Room: true,
			Ephemeral: true, handle: handleRequestSpeak},
		{Name: "hub:kick", Fields: []string{"roomId", "userId", "reason?"}, Summary: "remove a user's sockets (they may rejoin)", Request: moderationRequest{}, Room: true,
			Permission: PermManage, handle: handleKick},
		{Name: "hub:updateRoom", Fields: []string{"roomId", "settings"}, Summary: "store and broadcast the room's hub-level settings", Request: moderationRequest{}, Room: true,
			Permission: PermManage, handle: handleUpdateRoom},
		{Name: "hub:requestState", Fields: []string{"roomId"}, Summary: "the room state from the stateScript", Request: joinRequest{}, Room: true,
			Toggle: "hubLogic.stateScript", Enabled: func(h *spec.Hub) bool { return strings.TrimSpace(string(h.HubLogic.StateScript)) != "" },
			handle: (*Hub).handleRequestState},
		{Name: "hub:refreshToken", Fields: []string{"token"}, Summary: "replace the connection's token", Request: refreshRequest{},
			handle: (*Hub).handleRefreshToken},
	}
	for _, e := range Protocol {
		protocolByName[e.Name] = e
	}
}

var protocolByName = map[string]*Inbound{}

// InboundEvent returns the declared event called name, or nil.
func InboundEvent(name string) *Inbound { return protocolByName[name] }

// dispatch runs one client event through its declaration, then its
// handler: the toggle, then for an event of a room the joined member's
// actor and the one pre-check (Admit) that REST runs too.
func (h *Hub) dispatch(ctx context.Context, e *Inbound, in *call) (map[string]any, error) {
	if err := e.Allowed(h.Spec()); err != nil {
		return nil, err
	}
	if e.Room {
		roomOf := e.roomOf
		if roomOf == nil {
			roomOf = roomIDOfCall
		}
		roomID, err := roomOf(in)
		if err != nil {
			return nil, err
		}
		if roomID == "" {
			return nil, newError(CodeBadRequest, "roomId is required")
		}
		m, err := in.c.membership(roomID)
		if err != nil {
			return nil, err
		}
		in.act = h.actorValue(in.c.session(), m)
		if err := h.precheck(ctx, e, &in.act); err != nil {
			return nil, err
		}
		in.actor = &in.act
	}
	return e.handle(h, ctx, in)
}

// Allowed refuses the event with UNKNOWN_EVENT when its toggle is off in
// the spec.
func (e *Inbound) Allowed(hs *spec.Hub) error {
	if e.Enabled != nil && !e.Enabled(hs) {
		return errorf(CodeUnknownEvent, "%s is not enabled in this hub (%s)", e.Name, e.Toggle)
	}
	return nil
}

// Admit is the pre-check of an event for an actor of its room, run by the
// socket dispatcher and by every REST route that has a socket twin before
// the handler: the toggle, the permission, the rate class, and
// moderation (the actor's result may be pending only when the event is
// moderated). Handlers and the Hub methods they call do not repeat these.
func (h *Hub) Admit(ctx context.Context, e *Inbound, a *Actor) error {
	if err := e.Allowed(h.Spec()); err != nil {
		return err
	}
	return h.precheck(ctx, e, a)
}

func (h *Hub) precheck(ctx context.Context, e *Inbound, a *Actor) error {
	if err := permit(a, e.Permission); err != nil {
		return err
	}
	if e.Rate == RateMessage && a.msgKey != "" {
		if err := h.checkMessageRateKey(ctx, a.msgKey); err != nil {
			return err
		}
	} else if check := h.rateCheck(e.Rate); check != nil {
		if err := check(ctx, a.UserID()); err != nil {
			return err
		}
	}
	if !e.Moderated {
		a.Permissions.Moderated = false
	}
	return nil
}

// rateCheck returns the limiter of a rate class; RatePerEvent is decided
// by the handler (ephemeral custom events are signals, stored ones
// messages).
func (h *Hub) rateCheck(c RateClass) func(context.Context, string) error {
	switch c {
	case RateMessage:
		return h.checkMessageRate
	case RateSignal:
		return h.checkSignalRate
	}
	return nil
}

// permit checks an actor's effective permissions for p.
func permit(a *Actor, p Permission) error {
	perms := a.Permissions
	switch p {
	case PermRead:
		if !perms.CanRead {
			return newError(CodeForbidden, "no read permission in this room")
		}
	case PermSend:
		if a.Silenced {
			return newError(CodeSilenced, "you are silenced in this room")
		}
		if !perms.CanSend {
			return newError(CodeForbidden, "your role cannot send in this room")
		}
	case PermModerate:
		if !perms.CanModerate {
			return newError(CodeForbidden, "moderator permission required")
		}
	case PermManage:
		if !perms.CanManageRoom {
			return newError(CodeForbidden, "room management permission required")
		}
	}
	return nil
}

// requestFields lists the JSON fields of an event's request type.
func requestFields(e *Inbound) []string {
	b, _ := json.Marshal(e.Request)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ErrorCodes are the codes of hub:error and of failed acks.
var ErrorCodes = []string{
	CodeAuthRequired, CodeInvalidToken, CodeBadRequest, CodeUnknownEvent, CodeRoomNotFound, CodeRoomNotEligible,
	CodeForbidden, CodeNotJoined, CodeRoomFull, CodeTooManyRooms, CodeRateLimited, CodeMessageTooLarge,
	CodeInvalidMessage, CodeTypeNotAllowed, CodeSilenced, CodeBlocked, CodeRejected, CodeNotFound,
	CodeUnavailable, CodeOutcomeUnknown, CodeInternal, CodeRecoveryIncomplete, CodeIdleTimeout,
}

// ToggleOn reports whether the spec setting an Outbound names is on.
func ToggleOn(h *spec.Hub, toggle string) bool {
	es := &h.EventSettings
	switch toggle {
	case "":
		return true
	case "historySettings.historyEnabled":
		return h.HistorySettings.HistoryEnabled
	case "hubLogic.stateScript":
		return strings.TrimSpace(string(h.HubLogic.StateScript)) != ""
	case "messageSettings.enableReaction":
		return h.MessageSettings.EnableReaction
	case "eventSettings.enableTypingIndicator":
		return es.EnableTypingIndicator
	case "eventSettings.enableRecordingIndicator":
		return es.EnableRecordingIndicator
	case "eventSettings.enableReadReceipts":
		return es.EnableReadReceipts
	case "eventSettings.enableDeliveryReceipts":
		return es.EnableDeliveryReceipts
	case "eventSettings.enablePresence":
		return es.EnablePresence
	}
	return false
}
