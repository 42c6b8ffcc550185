package hub

import (
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/spec"
)

var update = flag.Bool("update", false, "rewrite the generated part of docs/protocol.md")

func TestProtocolTableIsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range Protocol {
		require.True(t, strings.HasPrefix(e.Name, "hub:"), e.Name)
		require.False(t, seen[e.Name], "duplicate %s", e.Name)
		seen[e.Name] = true
		require.NotNil(t, e.handle, e.Name)
		require.NotNil(t, e.Request, e.Name)
		require.Equal(t, e.Toggle == "", e.Enabled == nil, "%s: a toggle needs its reader", e.Name)
		if e.Permission != PermNone {
			require.True(t, e.Room, "%s: a permission is checked in a joined room", e.Name)
		}
		if e.Room {
			require.Contains(t, e.Fields, "roomId", e.Name)
		}
		for _, f := range e.Fields {
			require.Contains(t, requestFields(e), strings.TrimSuffix(f, "?"), "%s: field %s is not in its request type", e.Name, f)
		}
	}
	require.Nil(t, InboundEvent("hub:nope"))
}

// dispatchAs runs one event as userID joined to the rules room with the
// permissions the layered authorization gives them.
func (e *rulesEnv) dispatchAs(t *testing.T, userID string, silenced bool, event, payload string) error {
	t.Helper()
	a := e.actor(t, userID)
	c := &client{sess: sessionOf(userID)}
	c.rooms.set(joinedRoom{id: rulesRoom, m: &member{userID: userID, roomID: rulesRoom, silenced: silenced,
		decision: &authz.Decision{HubRole: a.HubRole, Permissions: a.Permissions, Room: a.Room}}})
	_, err := e.h.dispatch(context.Background(), InboundEvent(event), &call{c: c, payload: json.RawMessage(payload)})
	return err
}

func TestDispatcherEnforcesTheTableBeforeTheHandler(t *testing.T) {
	e := newRulesEnv(t, func(h *spec.Hub) { h.MessageSettings.EnableReaction = false })
	room := `{"roomId":"s1"}`
	cases := []struct {
		name, user, event, payload, code string
		silenced                         bool
	}{
		{"moderation needs canModerate", alice, "hub:approve", `{"roomId":"s1","messageId":"m"}`, CodeForbidden, false},
		{"management needs canManageRoom", mona, "hub:kick", `{"roomId":"s1","userId":"x"}`, CodeForbidden, false},
		{"history needs canRead", bea, "hub:loadHistory", room, CodeForbidden, false},
		{"a silenced member cannot send", alice, "hub:send", `{"roomId":"s1","messageType":"text","content":{"body":"x"}}`, CodeSilenced, true},
		{"a silenced member cannot edit", alice, "hub:edit", `{"roomId":"s1","messageId":"m","content":{}}`, CodeSilenced, true},
		{"a disabled toggle is an unknown event", alice, "hub:react", `{"roomId":"s1","messageId":"m","emoji":"x"}`, CodeUnknownEvent, false},
		{"no state script", alice, "hub:requestState", room, CodeUnknownEvent, false},
		{"another room is not joined", alice, "hub:loadHistory", `{"roomId":"s2"}`, CodeNotJoined, false},
		{"roomId is required", alice, "hub:send", `{}`, CodeBadRequest, false},
		{"the payload is an object", alice, "hub:delete", `[1]`, CodeBadRequest, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := e.dispatchAs(t, tc.user, tc.silenced, tc.event, tc.payload)
			require.Equal(t, tc.code, clientErr(t, err).Code)
		})
	}
	require.Empty(t, e.storedIn(t), "no handler stored anything")
	require.NoError(t, e.dispatchAs(t, mona, false, "hub:loadHistory", room), "a permitted call reaches its handler")
}

func TestProtocolDocIsGenerated(t *testing.T) {
	const path = "../../docs/protocol.md"
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	doc := string(b)
	want := doc
	for _, sec := range ProtocolDocSections {
		i := strings.Index(want, sec.Begin)
		require.True(t, i >= 0, "docs/protocol.md has no section %s", sec.Begin)
		j := strings.Index(want[i:], ProtocolDocEnd)
		require.True(t, j > 0, "docs/protocol.md: section %s has no end", sec.Begin)
		want = want[:i] + sec.Begin + "\n" + sec.Render() + want[i+j:]
	}
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(want), 0o644))
		return
	}
	require.Equal(t, want, doc, "docs/protocol.md is out of date: go test ./pkg/hub -run TestProtocolDoc -update")
}

// BenchmarkDispatchChecks is the cost the dispatcher adds before a
// handler: the roomId decode, the membership and the permission check.
func BenchmarkDispatchChecks(b *testing.B) {
	// A limit the loop never reaches: the rate check runs without refusing.
	e := newRulesEnv(b, func(hs *spec.Hub) { hs.Guardrails.MessageRateLimit = math.MaxInt32 })
	a, err := e.h.ActorFor(context.Background(), sessionOf(alice), rulesRoom)
	require.NoError(b, err)
	c := &client{sess: sessionOf(alice), rooms: joinedRooms{{id: rulesRoom, m: &member{userID: alice, roomID: rulesRoom,
		decision: &authz.Decision{HubRole: a.HubRole, Permissions: a.Permissions}}}}}
	entry := *InboundEvent("hub:send")
	entry.handle = func(*Hub, context.Context, *call) (map[string]any, error) { return nil, nil }
	in := &call{c: c, payload: json.RawMessage(`{"roomId":"s1","messageType":"text","content":{"body":"hello there"}}`)}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.h.dispatch(ctx, &entry, in); err != nil {
			b.Fatal(err)
		}
	}
}
