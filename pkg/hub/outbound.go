package hub

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/msgstore"
)

// The server-to-client side of the protocol, declared once. Every standard
// outbound event is one Out[P] below: its name, what it means, the spec
// setting that turns it on, and its payload type P. The only way to emit is
// Out[P].Of(p), whose Event the emit helpers (emit.go) send, so a payload
// of the wrong shape does not compile. The Outbounds table, the event
// tables of docs/protocol.md and the hub's AsyncAPI document are read from
// these declarations by reflection.
//
// The payloads replaced maps, whose keys Go encodes sorted: their fields
// stay in JSON key order and omit a key exactly where the map did not set
// it (omitempty for an empty string, omitzero for a nil map), so the wire
// is unchanged (TestOutboundPayloadsEncodeAsTheMapsTheyReplaced).

// Out declares one outbound event whose payload is a P.
type Out[P any] struct{ decl *Outbound }

// Name is the event's name.
func (o Out[P]) Name() string { return o.decl.Name }

// Of is the event with payload p, encoded once for every socket and node
// it goes to.
func (o Out[P]) Of(p P) Event { return encodeEvent(o.decl.Name, p) }

// Outbound is the declaration of one outbound event, as the documents read
// it.
type Outbound struct {
	Name    string
	Summary string
	// Toggle is the spec setting that turns the event on ("" always
	// possible; see ToggleOn).
	Toggle string
	// Payload is the payload's type; Fields its JSON fields in wire order,
	// "?" marking those left out when empty.
	Payload reflect.Type
	Fields  []string
}

// Outbounds lists the standard outbound events in declaration order (the
// order of docs/protocol.md). Custom events come from the hub's spec and
// carry a CustomEvent.
var Outbounds []*Outbound

func declare[P any](name, summary, toggle string) Out[P] {
	o := &Outbound{Name: name, Summary: summary, Toggle: toggle, Payload: reflect.TypeFor[P]()}
	o.Fields = PayloadFieldsOf(o.Payload)
	Outbounds = append(Outbounds, o)
	return Out[P]{o}
}

// Spec settings that turn outbound events on.
const (
	togglePresence  = "eventSettings.enablePresence"
	toggleTyping    = "eventSettings.enableTypingIndicator"
	toggleRecording = "eventSettings.enableRecordingIndicator"
)

// The standard outbound events.
var (
	outJoined         = declare[Joined]("hub:joined", "the join succeeded", "")
	outHistory        = declare[History]("hub:history", "history on join, or recovery after since", "")
	outState          = declare[State]("hub:state", "the room state from the stateScript", "hubLogic.stateScript")
	outLeft           = declare[Left]("hub:left", "the socket left the room", "")
	outMessageArrived = declare[MessageArrived]("hub:messageArrived", "a published message", "")
	outMessageEdited  = declare[MessageEdited]("hub:messageEdited", "a message was edited", "")
	outMessageDeleted = declare[MessageDeleted]("hub:messageDeleted", "a message was deleted", "")
	outReaction       = declare[Reaction]("hub:reaction", "a reaction was toggled", "messageSettings.enableReaction")
	outPending        = declare[PendingMessage]("hub:pendingMessage", "a message waits for approval (moderators)", "")
	outRejected       = declare[MessageRejected]("hub:messageRejected", "the sender's message was rejected", "")
	outBlocked        = declare[Blocked]("hub:blocked", "the user was blocked and left", "")
	outSilenced       = declare[Silenced]("hub:silenced", "the user was silenced", "")
	outUnsilenced     = declare[Silenced]("hub:unsilenced", "the user may speak again", "")
	outSpeakRequest   = declare[RoomUser]("hub:speakRequest", "a silenced member asks to speak (moderators)", "")
	outKicked         = declare[Kicked]("hub:kicked", "the user was kicked and left", "")
	// OutRoomUpdated: settings and by from hub:updateRoom, record and old
	// from the Kafka bridge.
	OutRoomUpdated   = declare[RoomUpdated]("hub:roomUpdated", "room settings or the room record changed", "")
	OutRoomClosed    = declare[RoomClosed]("hub:roomClosed", "the room was closed; its sockets leave", "")
	OutMemberJoined  = declare[Member]("hub:memberJoined", "a membership record was created", "")
	OutMemberLeft    = declare[Member]("hub:memberLeft", "a member left", "")
	outTyping        = declare[RoomUser]("hub:typing", "a member is typing", toggleTyping)
	outStopTyping    = declare[RoomUser]("hub:stopTyping", "a member stopped typing", toggleTyping)
	outRecording     = declare[RoomUser]("hub:recording", "a member is recording", toggleRecording)
	outStopRecording = declare[RoomUser]("hub:stopRecording", "a member stopped recording", toggleRecording)
	outRead          = declare[MessageRead]("hub:messageRead", "a member's read mark", "eventSettings.enableReadReceipts")
	outDelivered     = declare[MessageDelivered]("hub:messageDelivered", "a member received a message", "eventSettings.enableDeliveryReceipts")
	outAway          = declare[RoomUser]("hub:away", "a member is away", togglePresence)
	outOnline        = declare[RoomUser]("hub:online", "a member is online (joined, or back)", togglePresence)
	outOffline       = declare[RoomUser]("hub:offline", "a member's last socket left", togglePresence)
	outPresence      = declare[Presence]("hub:presence", "a member's presence changed (event: online, away, left or offline)", togglePresence)
	outTokenExpiring = declare[TokenExpiring]("hub:tokenExpiring", "the token expires soon: refresh it", "")
	outError         = declare[ErrorEvent]("hub:error", "an event was refused (also in its ack)", "")
)

// Payloads of the standard outbound events. Fields are in JSON key order.
type (
	// Joined is hub:joined.
	Joined struct {
		HubRole     *string           `json:"hubRole"` // null for a member without a specific role
		Permissions authz.Permissions `json:"permissions"`
		RoomID      string            `json:"roomId"`
	}
	// History is hub:history.
	History struct {
		Messages []*msgstore.Message `json:"messages"`
		RoomID   string              `json:"roomId"`
	}
	// State is hub:state.
	State struct {
		RoomID string `json:"roomId"`
		State  any    `json:"state"`
	}
	// Left is hub:left.
	Left struct {
		RoomID string `json:"roomId"`
	}
	// MessageArrived is hub:messageArrived, written by appendArrived
	// (roomId first) on the hot path (arrivedEvent); the struct declares
	// its shape, and TestArrivedBroadcastIsTheDeclaredPayload holds the
	// two together.
	MessageArrived struct {
		Message *msgstore.Message `json:"message"`
		RoomID  string            `json:"roomId"`
		Sender  Sender            `json:"sender"`
	}
	// Sender names the sender of a message.
	Sender struct {
		ID string `json:"id"`
	}
	// MessageEdited is hub:messageEdited.
	MessageEdited struct {
		Message *msgstore.Message `json:"message"`
		RoomID  string            `json:"roomId"`
	}
	// MessageDeleted is hub:messageDeleted.
	MessageDeleted struct {
		DeletedBy string `json:"deletedBy"`
		MessageID string `json:"messageId"`
		RoomID    string `json:"roomId"`
	}
	// Reaction is hub:reaction: the message's reactions after the toggle.
	Reaction struct {
		Emoji     string          `json:"emoji"`
		MessageID string          `json:"messageId"`
		Reaction  json.RawMessage `json:"reaction"`
		RoomID    string          `json:"roomId"`
		UserID    string          `json:"userId"`
	}
	// PendingMessage is hub:pendingMessage.
	PendingMessage struct {
		Message *msgstore.Message `json:"message"`
		RoomID  string            `json:"roomId"`
	}
	// MessageRejected is hub:messageRejected.
	MessageRejected struct {
		Message   *msgstore.Message `json:"message"`
		MessageID string            `json:"messageId"`
		Reason    string            `json:"reason"`
		RoomID    string            `json:"roomId"`
	}
	// Blocked is hub:blocked; Until is set for a block with a duration.
	Blocked struct {
		By     string `json:"by"`
		Reason string `json:"reason"`
		RoomID string `json:"roomId"`
		Until  string `json:"until,omitempty"`
		UserID string `json:"userId"`
	}
	// Silenced is hub:silenced and hub:unsilenced.
	Silenced struct {
		By     string `json:"by"`
		RoomID string `json:"roomId"`
		UserID string `json:"userId"`
	}
	// Kicked is hub:kicked.
	Kicked struct {
		By     string `json:"by"`
		Reason string `json:"reason"`
		RoomID string `json:"roomId"`
		UserID string `json:"userId"`
	}
	// RoomUpdated is hub:roomUpdated: Settings and By from hub:updateRoom,
	// Record and Old (the record before, when the data event has it) from
	// the Kafka bridge.
	RoomUpdated struct {
		By       string          `json:"by,omitempty"`
		Old      map[string]any  `json:"old,omitzero"`
		Record   map[string]any  `json:"record,omitzero"`
		RoomID   string          `json:"roomId"`
		Settings json.RawMessage `json:"settings,omitzero"`
	}
	// RoomClosed is hub:roomClosed.
	RoomClosed struct {
		Reason string         `json:"reason"`
		Record map[string]any `json:"record"`
		RoomID string         `json:"roomId"`
	}
	// Member is hub:memberJoined and hub:memberLeft.
	Member struct {
		Record map[string]any `json:"record,omitzero"`
		RoomID string         `json:"roomId"`
		UserID string         `json:"userId"`
	}
	// RoomUser is an event about one member of a room: the typing and
	// recording indicators, presence changes, speak requests.
	RoomUser struct {
		RoomID string `json:"roomId"`
		UserID string `json:"userId"`
	}
	// MessageRead is hub:messageRead.
	MessageRead struct {
		LastReadTimestamp string `json:"lastReadTimestamp"`
		RoomID            string `json:"roomId"`
		UserID            string `json:"userId"`
	}
	// MessageDelivered is hub:messageDelivered.
	MessageDelivered struct {
		MessageID string `json:"messageId"`
		RoomID    string `json:"roomId"`
		UserID    string `json:"userId"`
	}
	// Presence is hub:presence.
	Presence struct {
		Event  string       `json:"event"`
		RoomID string       `json:"roomId"`
		User   PresenceUser `json:"user"`
	}
	// PresenceUser names the member of a hub:presence event.
	PresenceUser struct {
		ID string `json:"id"`
	}
	// TokenExpiring is hub:tokenExpiring.
	TokenExpiring struct {
		ExpiresAt string `json:"expiresAt"`
	}
	// ErrorEvent is hub:error: Event is the refused event ("" for the
	// connection itself), RoomID the room its payload named.
	ErrorEvent struct {
		Code         string `json:"code"`
		Details      any    `json:"details,omitempty"`
		Error        string `json:"error"`
		Event        string `json:"event"`
		RetryAfterMs int64  `json:"retryAfterMs,omitempty"`
		RoomID       string `json:"roomId,omitempty"`
	}
	// CustomEvent is the payload of a hub's custom event (emitted under the
	// event's own name) and of a kafkaEvents entry: UserID is the sending
	// member, MessageID and Seq those of a stored event.
	CustomEvent struct {
		Data      json.RawMessage `json:"data"`
		MessageID string          `json:"messageId,omitempty"`
		RoomID    string          `json:"roomId"`
		Seq       int64           `json:"seq,omitempty"`
		UserID    string          `json:"userId,omitempty"`
	}
)

// CustomEventFields are the JSON fields of a custom event's payload.
var CustomEventFields = PayloadFieldsOf(reflect.TypeFor[CustomEvent]())

// Custom is a custom event of a hub's spec (customEvents, kafkaEvents):
// its name comes from the spec, its payload is a CustomEvent.
func Custom(name string) Out[CustomEvent] {
	return Out[CustomEvent]{&Outbound{Name: name, Payload: reflect.TypeFor[CustomEvent]()}}
}

// errorEvent is the hub:error of a client error refusing event, in room
// roomID ("" when the payload named none).
func errorEvent(ce *Error, event, roomID string) Event {
	out := ErrorEvent{Code: ce.Code, Details: ce.Details, Error: ce.Message, Event: event, RoomID: roomID}
	if ce.RetryAfterMs > 0 {
		out.RetryAfterMs = ce.RetryAfterMs
	}
	return outError.Of(out)
}

// nullable is s, or nil (JSON null) when empty.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// PayloadFieldsOf lists the JSON fields of a payload type in wire order,
// "?" marking those omitted when empty.
func PayloadFieldsOf(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" {
			continue
		}
		if strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero") {
			name += "?"
		}
		out = append(out, name)
	}
	return out
}

// PayloadField is the field of a payload type its JSON name (without "?")
// names, or false.
func PayloadField(t reflect.Type, name string) (reflect.StructField, bool) {
	for f := range t.Fields() {
		if n, _, _ := strings.Cut(f.Tag.Get("json"), ","); n == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
