package hub

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/spec"
)

// goldenMessage is a message with every optional field set.
func goldenMessage() *msgstore.Message {
	yes := true
	edited := time.Date(2026, 12, 7, 10, 0, 1, 500e6, time.UTC)
	return &msgstore.Message{
		ID: "m1", HubName: "chat", RoomID: "r<1>", Seq: 7, SenderID: "u&1", MessageType: "text",
		Content: json.RawMessage(`{"body":"héllo \u003c","n":1e3}`), Timestamp: edited.Add(-time.Second),
		Status: msgstore.StatusPublished, ReplyTo: json.RawMessage(`{"id":"m0"}`),
		Reaction:  json.RawMessage(`[{"emoji":"👍","userId":"u2","timestamp":"2026-12-07T10:00:00.000Z"}]`),
		Forwarded: &yes, ClientMessageID: "c1", EditedAt: &edited,
		Audience: &msgstore.Audience{Users: []string{"u1", "u2"}},
	}
}

// TestOutboundPayloadsEncodeAsTheMapsTheyReplaced encodes every outbound
// event through its declaration and compares the bytes with those of the
// map[string]any each emit site built before the payloads were typed (the
// maps are copied here from those sites), edge cases included: null
// versus absent, empty versus nil, optional keys set and unset. Every
// declared event has a case.
func TestOutboundPayloadsEncodeAsTheMapsTheyReplaced(t *testing.T) {
	m := goldenMessage()
	bare := &msgstore.Message{ID: "m2", RoomID: "r1", Seq: 1, SenderID: "u1", MessageType: "text",
		Content: json.RawMessage(`{}`), Status: msgstore.StatusPending}
	perms := authz.Permissions{CanRead: true, CanSend: true, AllowedMessageTypes: []string{"text"}, CanModerate: true}
	rec := map[string]any{"id": "r1", "title": "<b>", "n": 1.5, "isActive": false, "tags": []any{"a"}, "nested": map[string]any{"x": nil}}
	details := []spec.FieldProblem{{Field: "content.body", Message: "required"}}
	ce := func(code, msg string, details any, retry int64) *Error {
		return &Error{Code: code, Message: msg, Details: details, RetryAfterMs: retry}
	}
	// oldError is the hub:error map of hub.go's fail.
	oldError := func(ce *Error, event, roomID string) map[string]any {
		out := map[string]any{"error": ce.Message, "code": ce.Code, "event": event}
		if ce.Details != nil {
			out["details"] = ce.Details
		}
		if ce.RetryAfterMs > 0 {
			out["retryAfterMs"] = ce.RetryAfterMs
		}
		if roomID != "" {
			out["roomId"] = roomID
		}
		return out
	}
	// oldEvent is eventPayload's map, with a stored event's fields.
	oldEvent := func(roomID, senderID string, data json.RawMessage, stored bool) map[string]any {
		payload := map[string]any{"roomId": roomID, "data": data}
		if senderID != "" && senderID != SystemSender {
			payload["userId"] = senderID
		}
		if stored {
			payload["messageId"], payload["seq"] = "m9", int64(12)
		}
		return payload
	}
	storedEvent := eventPayload("r1", "u1", json.RawMessage(`{"k":[1,2]}`))
	storedEvent.MessageID, storedEvent.Seq = "m9", 12
	var noMessages []*msgstore.Message
	cases := []struct {
		name string
		got  Event
		old  any
	}{
		{"joined with a role", outJoined.Of(Joined{HubRole: nullable("owner"), Permissions: perms, RoomID: "r1"}),
			map[string]any{"roomId": "r1", "hubRole": "owner", "permissions": perms}},
		{"joined without a role", outJoined.Of(Joined{HubRole: nullable(""), Permissions: authz.Permissions{}, RoomID: "r1"}),
			map[string]any{"roomId": "r1", "hubRole": nil, "permissions": authz.Permissions{}}},
		{"history", outHistory.Of(History{Messages: []*msgstore.Message{m, bare}, RoomID: "r1"}),
			map[string]any{"roomId": "r1", "messages": []*msgstore.Message{m, bare}}},
		{"history without messages", outHistory.Of(History{Messages: noMessages, RoomID: "r1"}),
			map[string]any{"roomId": "r1", "messages": noMessages}},
		{"state", outState.Of(State{RoomID: "r1", State: map[string]any{"turn": "u1", "board": []any{1, nil}}}),
			map[string]any{"roomId": "r1", "state": map[string]any{"turn": "u1", "board": []any{1, nil}}}},
		{"null state", outState.Of(State{RoomID: "r1"}), map[string]any{"roomId": "r1", "state": nil}},
		{"left", outLeft.Of(Left{RoomID: "r1"}), map[string]any{"roomId": "r1"}},
		{"messageArrived, the declared struct", outMessageArrived.Of(MessageArrived{Message: m, RoomID: m.RoomID, Sender: Sender{ID: m.SenderID}}),
			map[string]any{"roomId": m.RoomID, "message": m, "sender": map[string]string{"id": m.SenderID}}},
		{"messageEdited", outMessageEdited.Of(MessageEdited{Message: m, RoomID: m.RoomID}),
			map[string]any{"roomId": m.RoomID, "message": m}},
		{"messageDeleted", outMessageDeleted.Of(MessageDeleted{DeletedBy: "u2", MessageID: "m1", RoomID: "r1"}),
			map[string]any{"roomId": "r1", "messageId": "m1", "deletedBy": "u2"}},
		{"reaction", outReaction.Of(Reaction{Emoji: "👍", MessageID: "m1", Reaction: m.Reaction, RoomID: "r1", UserID: "u2"}),
			map[string]any{"roomId": "r1", "messageId": "m1", "reaction": m.Reaction, "userId": "u2", "emoji": "👍"}},
		{"reaction removed, none left", outReaction.Of(Reaction{Emoji: "x", MessageID: "m1", Reaction: bare.Reaction, RoomID: "r1", UserID: "u2"}),
			map[string]any{"roomId": "r1", "messageId": "m1", "reaction": bare.Reaction, "userId": "u2", "emoji": "x"}},
		{"pendingMessage", outPending.Of(PendingMessage{Message: bare, RoomID: "r1"}),
			map[string]any{"roomId": "r1", "message": bare}},
		{"messageRejected", outRejected.Of(MessageRejected{Message: bare, MessageID: "m2", Reason: "", RoomID: "r1"}),
			map[string]any{"roomId": "r1", "messageId": "m2", "reason": "", "message": bare}},
		{"blocked for good", outBlocked.Of(Blocked{By: "mod", Reason: "", RoomID: "r1", UserID: "u1"}),
			map[string]any{"roomId": "r1", "userId": "u1", "reason": "", "by": "mod"}},
		{"blocked until", outBlocked.Of(Blocked{By: "mod", Reason: "spam", RoomID: "r1", Until: "2026-12-07T11:00:00.000Z", UserID: "u1"}),
			map[string]any{"roomId": "r1", "userId": "u1", "reason": "spam", "by": "mod", "until": "2026-12-07T11:00:00.000Z"}},
		{"silenced", outSilenced.Of(Silenced{By: "mod", RoomID: "r1", UserID: "u1"}),
			map[string]any{"roomId": "r1", "userId": "u1", "by": "mod"}},
		{"unsilenced", outUnsilenced.Of(Silenced{By: "mod", RoomID: "r1", UserID: "u1"}),
			map[string]any{"roomId": "r1", "userId": "u1", "by": "mod"}},
		{"speakRequest", outSpeakRequest.Of(RoomUser{RoomID: "r1", UserID: "u1"}), map[string]any{"roomId": "r1", "userId": "u1"}},
		{"kicked", outKicked.Of(Kicked{By: "mod", Reason: "", RoomID: "r1", UserID: "u1"}),
			map[string]any{"roomId": "r1", "userId": "u1", "reason": "", "by": "mod"}},
		{"roomUpdated by hub:updateRoom", OutRoomUpdated.Of(RoomUpdated{By: "u1", RoomID: "r1", Settings: json.RawMessage(`{"topic":"x"}`)}),
			map[string]any{"roomId": "r1", "settings": json.RawMessage(`{"topic":"x"}`), "by": "u1"}},
		{"roomUpdated by the bridge", OutRoomUpdated.Of(RoomUpdated{Record: rec, RoomID: "r1"}),
			map[string]any{"roomId": "r1", "record": rec}},
		{"roomUpdated by the bridge with old", OutRoomUpdated.Of(RoomUpdated{Old: map[string]any{}, Record: rec, RoomID: "r1"}),
			map[string]any{"roomId": "r1", "record": rec, "old": map[string]any{}}},
		{"roomClosed", OutRoomClosed.Of(RoomClosed{Reason: "ineligible", Record: rec, RoomID: "r1"}),
			map[string]any{"roomId": "r1", "record": rec, "reason": "ineligible"}},
		{"memberJoined", OutMemberJoined.Of(Member{Record: rec, RoomID: "r1", UserID: "u1"}),
			map[string]any{"roomId": "r1", "userId": "u1", "record": rec}},
		{"memberLeft", OutMemberLeft.Of(Member{Record: map[string]any{}, RoomID: "r1", UserID: "u1"}),
			map[string]any{"roomId": "r1", "userId": "u1", "record": map[string]any{}}},
		{"typing", outTyping.Of(RoomUser{RoomID: "r1", UserID: "u1"}), map[string]any{"roomId": "r1", "userId": "u1"}},
		{"stopTyping", outStopTyping.Of(RoomUser{RoomID: "r1", UserID: "u1"}), map[string]any{"roomId": "r1", "userId": "u1"}},
		{"recording", outRecording.Of(RoomUser{RoomID: "r1", UserID: "u1"}), map[string]any{"roomId": "r1", "userId": "u1"}},
		{"stopRecording", outStopRecording.Of(RoomUser{RoomID: "r1", UserID: "u1"}), map[string]any{"roomId": "r1", "userId": "u1"}},
		{"messageRead", outRead.Of(MessageRead{LastReadTimestamp: "2026-12-07T10:00:00Z", RoomID: "r1", UserID: "u1"}),
			map[string]any{"roomId": "r1", "userId": "u1", "lastReadTimestamp": "2026-12-07T10:00:00Z"}},
		{"messageDelivered", outDelivered.Of(MessageDelivered{MessageID: "m1", RoomID: "r1", UserID: "u1"}),
			map[string]any{"roomId": "r1", "userId": "u1", "messageId": "m1"}},
		{"away", outAway.Of(RoomUser{RoomID: "r1", UserID: "u1"}), map[string]any{"roomId": "r1", "userId": "u1"}},
		{"online", outOnline.Of(RoomUser{RoomID: "r1", UserID: "u1"}), map[string]any{"roomId": "r1", "userId": "u1"}},
		{"offline", outOffline.Of(RoomUser{RoomID: "r1", UserID: "u1"}), map[string]any{"roomId": "r1", "userId": "u1"}},
		{"presence", outPresence.Of(Presence{Event: "left", RoomID: "r1", User: PresenceUser{ID: "u1"}}),
			map[string]any{"roomId": "r1", "event": "left", "user": map[string]string{"id": "u1"}}},
		{"tokenExpiring", outTokenExpiring.Of(TokenExpiring{ExpiresAt: "2026-12-07T10:00:00Z"}),
			map[string]any{"expiresAt": "2026-12-07T10:00:00Z"}},
		{"error of an event", errorEvent(ce(CodeForbidden, "no", nil, 0), "hub:send", "r1"), oldError(ce(CodeForbidden, "no", nil, 0), "hub:send", "r1")},
		{"error with details and retry", errorEvent(ce(CodeInvalidMessage, "bad", details, 1500), "hub:send", ""),
			oldError(ce(CodeInvalidMessage, "bad", details, 1500), "hub:send", "")},
		{"error with typed nil details", errorEvent(ce(CodeInvalidMessage, "bad", []spec.FieldProblem(nil), 0), "hub:edit", "r1"),
			oldError(ce(CodeInvalidMessage, "bad", []spec.FieldProblem(nil), 0), "hub:edit", "r1")},
		{"idle error", errorEvent(newError(CodeIdleTimeout, "connection idle for too long"), "", ""),
			map[string]any{"error": "connection idle for too long", "code": "IDLE_TIMEOUT", "event": ""}},
		{"custom event from a member", Custom("poke").Of(eventPayload("r1", "u1", json.RawMessage(`{"a":1}`))),
			oldEvent("r1", "u1", json.RawMessage(`{"a":1}`), false)},
		{"custom event from the server", Custom("notice").Of(eventPayload("r1", "", nil)), oldEvent("r1", "", nil, false)},
		{"custom event from the system", Custom("notice").Of(eventPayload("r1", SystemSender, json.RawMessage(`"x"`))),
			oldEvent("r1", SystemSender, json.RawMessage(`"x"`), false)},
		{"stored custom event", Custom("pin").Of(storedEvent), oldEvent("r1", "u1", json.RawMessage(`{"k":[1,2]}`), true)},
		{"kafka event", Custom("call").Of(CustomEvent{Data: json.RawMessage(`{"who":"u2"}`), RoomID: "r1"}),
			map[string]any{"roomId": "r1", "data": json.RawMessage(`{"who":"u2"}`)}},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.got.err)
			want, err := json.Marshal(tc.old)
			require.NoError(t, err)
			require.Equal(t, string(want), string(tc.got.Payload()))
		})
		covered[tc.got.Name()] = true
	}
	for _, o := range Outbounds {
		require.True(t, covered[o.Name], "%s has no golden case", o.Name)
	}
}

// The room broadcast of hub:messageArrived is written by appendArrived
// (roomId first); its bytes are those it wrote before, and it decodes to
// the declared payload.
func TestArrivedBroadcastIsTheDeclaredPayload(t *testing.T) {
	m := goldenMessage()
	e := arrivedEvent(m)
	require.Equal(t, outMessageArrived.Name(), e.Name())
	// Message.AppendJSON does not escape HTML characters, as encoding/json
	// does.
	want := `{"roomId":"r<1>","message":{"id":"m1","roomId":"r<1>","seq":7,"senderId":"u&1","messageType":"text",` +
		`"content":{"body":"héllo \u003c","n":1e3},"timestamp":"2026-12-07T10:00:00.500Z","status":"published",` +
		`"replyTo":{"id":"m0"},"reaction":[{"emoji":"👍","userId":"u2","timestamp":"2026-12-07T10:00:00.000Z"}],` +
		`"forwarded":true,"clientMessageId":"c1","editedAt":"2026-12-07T10:00:01.500Z","audience":{"users":["u1","u2"]}},` +
		`"sender":{"id":"u&1"}}`
	require.Equal(t, want, string(e.Payload()))
	typed, err := json.Marshal(MessageArrived{Message: m, RoomID: m.RoomID, Sender: Sender{ID: m.SenderID}})
	require.NoError(t, err)
	require.JSONEq(t, string(typed), string(e.Payload()))
}

func TestSystemMessageContentIsUnchanged(t *testing.T) {
	for _, tc := range []struct {
		data SystemData
		old  any
	}{
		{SystemData{}, map[string]any{}},
		{SystemData{Reason: "deleted"}, map[string]any{"reason": "deleted"}},
		{SystemData{UserID: "u1"}, map[string]any{"userId": "u1"}},
	} {
		got, err := json.Marshal(systemContent{SystemAction: "roomClosed", SystemData: tc.data})
		require.NoError(t, err)
		want, err := json.Marshal(map[string]any{"systemAction": "roomClosed", "systemData": tc.old})
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
}

func TestOutboundDeclarationsAreWellFormed(t *testing.T) {
	all := &spec.Hub{}
	all.HubLogic.StateScript = "({})"
	all.MessageSettings.EnableReaction = true
	es := &all.EventSettings
	es.EnableTypingIndicator, es.EnableRecordingIndicator, es.EnablePresence = true, true, true
	es.EnableReadReceipts, es.EnableDeliveryReceipts = true, true
	seen := map[string]bool{}
	for _, o := range Outbounds {
		require.True(t, strings.HasPrefix(o.Name, "hub:"), o.Name)
		require.False(t, seen[o.Name], "duplicate %s", o.Name)
		seen[o.Name] = true
		require.NotEmpty(t, o.Summary, o.Name)
		require.True(t, ToggleOn(all, o.Toggle), "%s: toggle %q is not read by ToggleOn", o.Name, o.Toggle)
		requireKeyOrder(t, o.Name, o.Fields)
	}
	requireKeyOrder(t, "custom events", CustomEventFields)
	require.False(t, ToggleOn(&spec.Hub{}, "eventSettings.enablePresence"))
}

// requireKeyOrder: a payload's fields are in the order a map's keys are
// encoded (sorted), so that typing a payload kept its bytes.
func requireKeyOrder(t *testing.T, name string, fields []string) {
	t.Helper()
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = strings.TrimSuffix(f, "?")
	}
	require.True(t, slices.IsSorted(keys), "%s: payload fields %v are not in JSON key order", name, keys)
}

// TestOnlyTheEmitHelpersEmit reads the package's sources: only emit.go
// calls a socket's or broadcast's Emit, and only emit.go and outbound.go
// build an Event, so every event a client gets was made by a declaration.
func TestOnlyTheEmitHelpersEmit(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	emitters := map[string]bool{"Emit": true, "EmitOffset": true, "ReplayOffset": true, "EmitWithAck": true}
	var found []string
	for _, path := range files {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		src, err := os.ReadFile(path)
		require.NoError(t, err)
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, src, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CallExpr:
				if sel, ok := n.Fun.(*ast.SelectorExpr); ok && emitters[sel.Sel.Name] && path != "emit.go" {
					found = append(found, fset.Position(n.Pos()).String()+": "+sel.Sel.Name)
				}
			case *ast.CompositeLit:
				if id, ok := n.Type.(*ast.Ident); ok && id.Name == "Event" && path != "emit.go" {
					found = append(found, fset.Position(n.Pos()).String()+": Event{}")
				}
			}
			return true
		})
	}
	require.Empty(t, found, "emit only through the helpers of emit.go, with events from outbound.go")
}
