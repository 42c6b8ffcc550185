package rest

import (
	"net/http"

	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/spec"
)

// authKind says how a route authenticates its caller.
type authKind int

const (
	authNone    authKind = iota // public
	authUser                    // a user token; the room authorization runs per request
	authService                 // a token whose roleId is one of Options.ServiceRoles
)

// queryParam is a query parameter of a route, for the OpenAPI document.
type queryParam struct {
	name, desc string
	schema     map[string]any
}

// route is one REST operation. The table below drives both the mux and
// the OpenAPI document, so the two cannot drift apart.
type route struct {
	method, path  string // path below /{hub}
	opID, summary string
	desc          string
	auth          authKind
	// event names the protocol entry of the route's socket twin
	// (hub.Protocol): the route takes its toggle from it and runs its
	// pre-check (hub.Hub.Admit) before the Hub method, as the socket
	// dispatcher does; "" for routes without a twin.
	event   string
	inbound *hub.Inbound
	// enabled reports whether the hub's spec turns the route on; nil means
	// always. A disabled route answers 404 and is left out of the document.
	enabled     func(*spec.Hub) bool
	disabledMsg string
	query       []queryParam
	request     string // component schema of the body; "" for none
	optional    bool   // the body may be empty
	status      int    // success status
	response    string // component schema of the success body
	serve       func(*call) (result, error)
}

// result is a route's success response: body is encoded as JSON, raw is
// written as it is.
type result struct {
	status int
	body   any
	raw    []byte
}

func receiptsOn(h *spec.Hub) bool     { return h.EventSettings.EnableReadReceipts }
func deliveriesOn(h *spec.Hub) bool   { return h.EventSettings.EnableDeliveryReceipts }
func presenceOn(h *spec.Hub) bool     { return h.EventSettings.EnablePresence }
func customEventsOn(h *spec.Hub) bool { return len(h.EventSettings.CustomEvents) > 0 }

// moderationOn reports whether messages can ever wait for approval: global
// moderation or a moderated role.
func moderationOn(h *spec.Hub) bool {
	if h.Guardrails.GlobalModeration {
		return true
	}
	for i := range h.HubRoles {
		if h.HubRoles[i].Moderated {
			return true
		}
	}
	return false
}

var limitParam = queryParam{name: "limit", desc: "Page size (at least 1); the hub clamps it to its page limit. Default: the hub's historyLimit.",
	schema: map[string]any{"type": "integer", "minimum": 1}}

// routes is every REST operation, in document order. It is set in init
// because the OpenAPI route reads the table itself.
var routes []*route

func init() {
	routes = routeTable()
	for _, rt := range routes {
		if rt.event == "" {
			continue
		}
		rt.inbound = hub.InboundEvent(rt.event)
		if rt.inbound == nil {
			panic("rest: route " + rt.opID + " names no protocol event " + rt.event)
		}
		if rt.inbound.Enabled != nil {
			rt.enabled = rt.inbound.Enabled
		}
	}
}

func routeTable() []*route {
	return []*route{
		{method: http.MethodGet, path: "/openapi.json", opID: "getOpenAPI", summary: "This hub's OpenAPI document",
			auth: authNone, status: http.StatusOK, serve: serveOpenAPI},
		{method: http.MethodGet, path: "/asyncapi.json", opID: "getAsyncAPI", summary: "This hub's AsyncAPI 3.0 document (its Socket.IO events)",
			auth: authNone, status: http.StatusOK, serve: serveAsyncAPI},

		{method: http.MethodGet, path: "/rooms/{roomId}/messages", opID: "listMessages", event: "hub:loadHistory", summary: "List a room's messages, oldest first",
			desc: "Without before/after: the newest `limit` messages. `before`/`after` are message ids of the same room.",
			auth: authUser, status: http.StatusOK, response: "MessageList", serve: serveList,
			query: []queryParam{
				{name: "before", desc: "Only messages older than this message id.", schema: map[string]any{"type": "string"}},
				{name: "after", desc: "Only messages newer than this message id.", schema: map[string]any{"type": "string"}},
				limitParam,
			}},
		{method: http.MethodPost, path: "/rooms/{roomId}/messages", opID: "sendMessage", event: "hub:send", summary: "Send a message (same pipeline and broadcast as hub:send)",
			desc: "A repeated clientMessageId from the same sender returns the first message (also 201) and stores nothing new. " +
				"In a moderated room the message has status pending and `status` is set in the response.",
			auth: authUser, request: "SendMessageRequest", status: http.StatusCreated, response: "MessageResult", serve: serveSend},

		{method: http.MethodGet, path: "/messages/{messageId}", opID: "getMessage", summary: "Get one message",
			auth: authUser, status: http.StatusOK, response: "MessageResult", serve: serveGet},
		{method: http.MethodPatch, path: "/messages/{messageId}", opID: "editMessage", event: "hub:edit", summary: "Edit the content of one's own message",
			auth: authUser, request: "EditMessageRequest", status: http.StatusOK, response: "MessageResult", serve: serveEdit},
		{method: http.MethodDelete, path: "/messages/{messageId}", opID: "deleteMessage", event: "hub:delete", summary: "Delete a message (own, or any with canDeleteAny)",
			auth: authUser, status: http.StatusOK, response: "MessageResult", serve: serveDelete},
		{method: http.MethodPost, path: "/messages/{messageId}/reactions", opID: "reactToMessage", event: "hub:react", summary: "Toggle the caller's emoji reaction",
			auth: authUser, request: "ReactionRequest", status: http.StatusOK, response: "MessageResult", serve: serveReact},
		{method: http.MethodGet, path: "/messages/{messageId}/deliveries", opID: "getDeliveries", summary: "Delivery receipts of one message",
			desc: "Who received the message and when (stored from hub:messageDelivered), in no particular order. The caller needs canRead in the message's room.",
			auth: authUser, enabled: deliveriesOn, disabledMsg: "delivery receipts are not enabled in this hub",
			status: http.StatusOK, response: "DeliveriesResult", serve: serveDeliveries},

		{method: http.MethodGet, path: "/rooms/{roomId}/presence", opID: "getPresence", summary: "Users present in the room",
			auth: authUser, enabled: presenceOn, disabledMsg: "presence is not enabled in this hub",
			status: http.StatusOK, response: "PresenceResult", serve: servePresence},
		{method: http.MethodGet, path: "/rooms/{roomId}/receipts", opID: "getReceipts", summary: "Read receipts of the room",
			auth: authUser, enabled: receiptsOn, disabledMsg: "read receipts are not enabled in this hub",
			status: http.StatusOK, response: "ReceiptsResult", serve: serveReceipts},
		{method: http.MethodGet, path: "/rooms/{roomId}/unread", opID: "getUnread", summary: "The caller's unread message count",
			auth: authUser, enabled: receiptsOn, disabledMsg: "read receipts are not enabled in this hub",
			status: http.StatusOK, response: "UnreadResult", serve: serveUnread},

		{method: http.MethodPost, path: "/rooms/{roomId}/events", opID: "emitServerEvent", summary: "Emit a custom event to the room or to one user in it (service credentials)",
			desc: "Only for tokens whose roleId is a service role. Without userId the event goes to the room; with userId to that user's sockets in the room. serverToClient events need userId.",
			auth: authService, enabled: customEventsOn, disabledMsg: "this hub has no custom events",
			request: "ServerEventRequest", status: http.StatusOK, response: "ServerEventResult", serve: serveEvent},

		{method: http.MethodGet, path: "/rooms/{roomId}/pending", opID: "listPending", summary: "Messages waiting for approval (canModerate)",
			auth: authUser, enabled: moderationOn, disabledMsg: "no role of this hub is moderated",
			status: http.StatusOK, response: "MessageList", serve: servePending},
		{method: http.MethodPost, path: "/messages/{messageId}/approve", opID: "approveMessage", event: "hub:approve", summary: "Approve a pending message (canModerate)",
			auth: authUser, enabled: moderationOn, disabledMsg: "no role of this hub is moderated",
			status: http.StatusOK, response: "MessageResult", serve: serveApprove},
		{method: http.MethodPost, path: "/messages/{messageId}/reject", opID: "rejectMessage", event: "hub:reject", summary: "Reject a pending message (canModerate)",
			auth: authUser, enabled: moderationOn, disabledMsg: "no role of this hub is moderated",
			request: "RejectRequest", optional: true, status: http.StatusOK, response: "MessageResult", serve: serveReject},
		{method: http.MethodPost, path: "/rooms/{roomId}/blocks", opID: "blockUser", event: "hub:block", summary: "Block a user from the room (canModerate)",
			auth: authUser, request: "BlockRequest", status: http.StatusOK, response: "ModerationResult", serve: serveBlock},
		{method: http.MethodDelete, path: "/rooms/{roomId}/blocks/{userId}", opID: "unblockUser", event: "hub:unblock", summary: "Lift a block (canModerate)",
			auth: authUser, status: http.StatusOK, response: "ModerationResult", serve: serveUnblock},
		{method: http.MethodPost, path: "/rooms/{roomId}/silences", opID: "silenceUser", event: "hub:silence", summary: "Silence a user in the room (canModerate)",
			auth: authUser, request: "UserRequest", status: http.StatusOK, response: "ModerationResult", serve: serveSilence},
		{method: http.MethodDelete, path: "/rooms/{roomId}/silences/{userId}", opID: "unsilenceUser", event: "hub:unsilence", summary: "Let a silenced user speak (canModerate)",
			auth: authUser, status: http.StatusOK, response: "ModerationResult", serve: serveUnsilence},
		{method: http.MethodPost, path: "/rooms/{roomId}/kicks", opID: "kickUser", event: "hub:kick", summary: "Remove a user's sockets from the room (canManageRoom)",
			auth: authUser, request: "KickRequest", status: http.StatusOK, response: "ModerationResult", serve: serveKick},
		{method: http.MethodPatch, path: "/rooms/{roomId}", opID: "updateRoom", event: "hub:updateRoom", summary: "Update the hub-level settings of a room (canManageRoom)",
			auth: authUser, request: "UpdateRoomRequest", status: http.StatusOK, response: "RoomResult", serve: serveUpdateRoom},
	}
}
