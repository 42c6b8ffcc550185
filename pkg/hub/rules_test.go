package hub

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/sio"
	"github.com/hubd/hubd/pkg/spec"
)

// rulesEnv is a hub running testdata/rules/hub.yaml with embedded records
// the test rewrites, a memory auth cache and an embedded store.
type rulesEnv struct {
	h     *Hub
	store *msgstore.Embedded
	recs  *records.Embedded
	cache *authz.MemoryCache
	dir   string
}

const (
	rulesRoom = "s1"
	alice     = "alice" // member (seat)
	mona      = "mona"  // mod (modSeat)
	quinn     = "quinn" // muted: moderated (quietSeat)
	bea       = "bea"   // blind: canRead false (blindSeat)
	root      = "root"  // superAdmin, no seat
)

func newRulesEnv(t testing.TB, adjust func(*spec.Hub)) *rulesEnv {
	t.Helper()
	hs, err := spec.LoadFile("testdata/rules/hub.yaml", spec.LoadOptions{})
	require.NoError(t, err)
	if adjust != nil {
		adjust(hs)
	}
	eng, err := scripting.NewEngine(scripting.Options{})
	require.NoError(t, err)
	t.Cleanup(eng.Close)
	def, err := NewDefinition(hs, eng)
	require.NoError(t, err)
	store, err := msgstore.OpenEmbedded(filepath.Join(t.TempDir(), "messages.db"), msgstore.EmbeddedOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	e := &rulesEnv{store: store, dir: t.TempDir(), cache: authz.NewMemoryCache(0)}
	e.writeRecords(t, true, alice, mona, quinn, bea)
	e.recs, err = records.NewEmbedded(e.dir)
	require.NoError(t, err)
	e.h = New(def, Deps{Store: store, Records: e.recs, Cache: e.cache, OpTimeout: 5 * time.Second})
	t.Cleanup(func() { e.h.Close("test over") })
	return e
}

// writeRecords writes the stage s1 (open or not) and the seats of the
// given users, then reloads the records when they were loaded already.
func (e *rulesEnv) writeRecords(t testing.TB, open bool, users ...string) {
	t.Helper()
	seatOf := map[string]string{alice: "seat", mona: "modSeat", quinn: "quietSeat", bea: "blindSeat"}
	seats := map[string][]map[string]any{"seat": {}, "modSeat": {}, "quietSeat": {}, "blindSeat": {}}
	for i, u := range users {
		obj := seatOf[u]
		seats[obj] = append(seats[obj], map[string]any{"id": obj + string(rune('a'+i)), "userId": u, "stageId": rulesRoom})
	}
	write := func(name string, v any) {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(e.dir, name+".json"), b, 0o600))
	}
	write("stage", []map[string]any{{"id": rulesRoom, "open": open}})
	for obj, list := range seats {
		write(obj, list)
	}
	if e.recs != nil {
		require.NoError(t, e.recs.Reload())
	}
}

func sessionOf(userID string) *authz.Session {
	role := "user"
	if userID == root {
		role = "superAdmin"
	}
	return &authz.Session{UserID: userID, RoleID: role, Claims: map[string]any{"userId": userID, "roleId": role}}
}

// actor authorizes userID for the room as a REST call does.
func (e *rulesEnv) actor(t *testing.T, userID string) *Actor {
	t.Helper()
	a, err := e.h.ActorFor(context.Background(), sessionOf(userID), rulesRoom)
	require.NoError(t, err)
	return a
}

func (e *rulesEnv) refused(t *testing.T, userID, code string) {
	t.Helper()
	_, err := e.h.ActorFor(context.Background(), sessionOf(userID), rulesRoom)
	require.Error(t, err)
	require.Equal(t, code, clientErr(t, err).Code)
}

func TestEligibilityIsNeverServedFromTheAuthCache(t *testing.T) {
	e := newRulesEnv(t, nil)
	require.Equal(t, "member", e.actor(t, alice).HubRole)
	require.Equal(t, "system", e.actor(t, root).HubRole)
	require.Equal(t, 1, e.cache.Len(), "only the authSource grant is cached, not the absoluteRoles one")

	e.writeRecords(t, false, alice, mona, quinn, bea)
	e.refused(t, alice, authz.CodeRoomNotEligible)
	e.refused(t, root, authz.CodeRoomNotEligible)

	e.writeRecords(t, true, alice, mona, quinn, bea)
	require.Equal(t, "member", e.actor(t, alice).HubRole)
}

func TestAuthCacheGrantIsStaleWhenTheRoomChanged(t *testing.T) {
	e := newRulesEnv(t, nil)
	a := e.actor(t, alice)
	require.Equal(t, true, a.Room["open"])
	// Same eligibility, new room content: the grant made on the old room
	// is not used, and the actor carries the room as it is now.
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, "stage.json"), []byte(`[{"id":"s1","open":true,"title":"new"}]`), 0o600))
	require.NoError(t, e.recs.Reload())
	require.NoError(t, os.WriteFile(filepath.Join(e.dir, "seat.json"), []byte(`[]`), 0o600))
	require.NoError(t, e.recs.Reload())
	e.refused(t, alice, authz.CodeForbidden)
}

func TestMembershipRemovalDropsCachedGrants(t *testing.T) {
	e := newRulesEnv(t, nil)
	e.actor(t, alice)
	require.Equal(t, 1, e.cache.Len())
	e.writeRecords(t, true, mona)
	// The cached grant would still admit alice until the bridge reports
	// the removal, which reauthorizes her and drops the grants.
	require.Equal(t, "member", e.actor(t, alice).HubRole, "cached grant (same room record)")
	e.h.Reauthorize(context.Background(), rulesRoom, alice, OutMemberLeft.Of(Member{RoomID: rulesRoom, UserID: alice}), false)
	require.Equal(t, 0, e.cache.Len())
	e.refused(t, alice, authz.CodeForbidden)

	e.writeRecords(t, true, alice)
	e.actor(t, alice)
	e.h.CloseRoom(rulesRoom, RoomClosed{Reason: "ineligible", RoomID: rulesRoom})
	require.Equal(t, 0, e.cache.Len(), "a closed room's grants go")
}

func TestCanReadFalseReadsNothing(t *testing.T) {
	e := newRulesEnv(t, nil)
	ctx := context.Background()
	a := e.actor(t, alice)
	_, err := e.h.Send(ctx, a, SendInput{MessageType: "text", Content: json.RawMessage(`{"body":"hi"}`)})
	require.NoError(t, err)

	b := e.actor(t, bea)
	require.False(t, b.Permissions.CanRead)
	m := &member{userID: bea, roomID: rulesRoom, decision: &authz.Decision{Permissions: b.Permissions}}
	require.False(t, e.h.historyOnJoin(e.h.Definition(), m, ""), "no history on join")
	require.False(t, e.h.historyOnJoin(e.h.Definition(), m, "some-id"), "no since recovery")
	_, err = admitted(ctx, e.h, b, "hub:loadHistory", func() ([]*msgstore.Message, error) { return e.h.ListMessages(ctx, b, ListInput{}) })
	require.Equal(t, CodeForbidden, clientErr(t, err).Code)
	_, err = e.h.Receipts(ctx, b)
	require.Equal(t, CodeForbidden, clientErr(t, err).Code)
	_, err = e.h.Unread(ctx, b)
	require.Equal(t, CodeForbidden, clientErr(t, err).Code)
	_, err = e.h.Send(ctx, b, SendInput{MessageType: "text", Content: json.RawMessage(`{"body":"I can still send"}`)})
	require.NoError(t, err, "sending follows canSend")
}

func TestHistoryLimitZeroSendsNoHistoryOnJoinButPages(t *testing.T) {
	e := newRulesEnv(t, func(h *spec.Hub) { h.HistorySettings.HistoryLimit = 0 })
	ctx := context.Background()
	a := e.actor(t, alice)
	e.h.Spec().Guardrails.MessageRateLimit = 0
	var last *msgstore.Message
	for i := 0; i < 3; i++ {
		var err error
		last, err = e.h.Send(ctx, a, SendInput{MessageType: "text", Content: json.RawMessage(`{"body":"m"}`)})
		require.NoError(t, err)
	}
	m := &member{userID: alice, roomID: rulesRoom, decision: &authz.Decision{Permissions: a.Permissions}}
	require.False(t, e.h.historyOnJoin(e.h.Definition(), m, ""))
	msgs, err := e.h.history(ctx, rulesRoom, alice, "unknown-id", 0)
	require.NoError(t, err)
	require.Empty(t, msgs, "an unknown since with historyLimit 0 is not the whole history")
	page, err := e.h.ListMessages(ctx, a, ListInput{Limit: 2})
	require.NoError(t, err)
	require.Len(t, page, 2)
	require.Equal(t, last.ID, page[1].ID)
}

// emitEvent sends a member's clientToRoom custom event as hub:event does.
func (e *rulesEnv) emitEvent(t *testing.T, userID, event, data string) (map[string]any, error) {
	t.Helper()
	a := e.actor(t, userID)
	m := &member{userID: userID, roomID: rulesRoom, decision: &authz.Decision{HubRole: a.HubRole, Permissions: a.Permissions}}
	ev := &hubEvent{req: &eventRequest{RoomID: rulesRoom, Event: event, Data: json.RawMessage(data)}, m: m, uid: userID}
	return e.h.clientCustomEvent(context.Background(), ev, customEventOf(e.h.Spec(), event))
}

// admitted runs a Hub method as the socket dispatcher and REST do: after
// the pre-check of its protocol entry.
func admitted[T any](ctx context.Context, h *Hub, a *Actor, event string, op func() (T, error)) (T, error) {
	if err := h.Admit(ctx, InboundEvent(event), a); err != nil {
		var zero T
		return zero, err
	}
	return op()
}

func TestStoredCustomEventsShareTheMessageRateLimit(t *testing.T) {
	e := newRulesEnv(t, nil)
	ctx := context.Background()
	a := e.actor(t, alice)
	msg, err := admitted(ctx, e.h, a, "hub:send", func() (*msgstore.Message, error) {
		return e.h.Send(ctx, a, SendInput{MessageType: "text", Content: json.RawMessage(`{"body":"1"}`)})
	})
	require.NoError(t, err)
	edit := func(body string) error {
		_, err := admitted(ctx, e.h, a, "hub:edit", func() (*msgstore.Message, error) {
			return e.h.EditMessage(ctx, a, msg.ID, json.RawMessage(`{"body":"`+body+`"}`))
		})
		return err
	}
	_, err = e.emitEvent(t, alice, "pin", `{"n":2}`)
	require.NoError(t, err)
	require.NoError(t, edit("1 edited"), "the third write of the minute")
	_, err = e.emitEvent(t, alice, "pin", `{"n":4}`)
	require.Equal(t, CodeRateLimited, clientErr(t, err).Code)
	_, err = admitted(ctx, e.h, a, "hub:react", func() (*msgstore.Message, error) { return e.h.React(ctx, a, msg.ID, "👍") })
	require.Equal(t, CodeRateLimited, clientErr(t, err).Code, "reactions count too")
	require.Equal(t, CodeRateLimited, clientErr(t, edit("again")).Code, "edits count too")
	_, err = e.emitEvent(t, alice, "cursor", `{"x":1}`)
	require.NoError(t, err, "ephemeral events have the signal cap, not the message limit")
	require.Len(t, e.storedIn(t), 2)
}

func (e *rulesEnv) storedIn(t *testing.T) []*msgstore.Message {
	t.Helper()
	msgs, err := e.store.List(context.Background(), e.h.Name(), rulesRoom, msgstore.Query{})
	require.NoError(t, err)
	return msgs
}

func TestModeratedStoredCustomEventWaitsForApproval(t *testing.T) {
	e := newRulesEnv(t, nil)
	res, err := e.emitEvent(t, quinn, "pin", `{"note":"hold"}`)
	require.NoError(t, err)
	require.Equal(t, msgstore.StatusPending, res["status"])
	stored := e.storedIn(t)
	require.Len(t, stored, 1)
	require.Equal(t, msgstore.StatusPending, stored[0].Status)
	page, err := e.h.ListMessages(context.Background(), e.actor(t, alice), ListInput{})
	require.NoError(t, err)
	require.Empty(t, page, "not in history before approval")
	out, err := e.h.Approve(context.Background(), e.actor(t, mona), stored[0].ID)
	require.NoError(t, err)
	require.Equal(t, msgstore.StatusPublished, out.Status)
}

func TestGlobalModerationHoldsModeratorsToo(t *testing.T) {
	e := newRulesEnv(t, func(h *spec.Hub) { h.Guardrails.GlobalModeration = true })
	ctx := context.Background()
	for _, u := range []string{alice, mona, root} {
		a := e.actor(t, u)
		require.True(t, a.Permissions.Moderated, u)
		m, err := e.h.Send(ctx, a, SendInput{MessageType: "text", Content: json.RawMessage(`{"body":"x"}`)})
		require.NoError(t, err)
		require.Equal(t, msgstore.StatusPending, m.Status, u)
	}
	res, err := e.emitEvent(t, mona, "pin", `{}`)
	require.NoError(t, err)
	require.Equal(t, msgstore.StatusPending, res["status"])
	sys, err := e.h.SystemMessage(ctx, rulesRoom, "note", SystemData{})
	require.NoError(t, err)
	require.Nil(t, sys, "this hub has no system type")
	// A moderator approves a moderator's message, their own included.
	pending, err := e.h.PendingMessages(ctx, e.actor(t, mona))
	require.NoError(t, err)
	require.Len(t, pending, 4)
	_, err = e.h.Approve(ctx, e.actor(t, mona), pending[1].ID)
	require.NoError(t, err)
}

func TestBinaryAndOutOfRangeValuesAreRefusedWithTheirField(t *testing.T) {
	e := newRulesEnv(t, func(h *spec.Hub) { h.Guardrails.MessageRateLimit = 0 })
	ctx := context.Background()
	a := e.actor(t, alice)
	cases := []struct {
		name, typ, content, field string
	}{
		{"buffer in text", "text", `{"body":{"_placeholder":true,"num":0}}`, "content.body"},
		{"decimal overflow", "reading", `{"value":1e400}`, "content.value"},
		{"integer beyond 2^53", "reading", `{"value":1,"count":9007199254740993}`, "content.count"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.h.Send(ctx, a, SendInput{MessageType: tc.typ, Content: json.RawMessage(tc.content)})
			ce := clientErr(t, err)
			require.Equal(t, CodeInvalidMessage, ce.Code)
			details, ok := ce.Details.([]spec.FieldProblem)
			require.True(t, ok)
			require.Equal(t, tc.field, details[0].Field)
		})
	}
	_, err := e.emitEvent(t, alice, "pin", `{"file":[{"_placeholder":true,"num":0}]}`)
	ce := clientErr(t, err)
	require.Equal(t, CodeInvalidMessage, ce.Code)
	require.Equal(t, "data.file[0]", ce.Details.([]spec.FieldProblem)[0].Field)
	_, err = e.emitEvent(t, alice, "cursor", `{"x":1e400}`)
	require.Equal(t, CodeInvalidMessage, clientErr(t, err).Code, "ephemeral events too")
	require.Empty(t, e.storedIn(t), "nothing stored")
}

func TestCustomEventTakesTheNameOfADisabledStandardEvent(t *testing.T) {
	e := newRulesEnv(t, nil)
	_, err := e.emitEvent(t, alice, "typing", `{"where":"title"}`)
	require.NoError(t, err)
}

func TestRestrictedAudienceIsStoredAndShownOnlyToIt(t *testing.T) {
	e := newLogicEnv(t, scripting.Options{})
	ctx := context.Background()
	e.addMember("r1", "u1")
	_, err := e.send(e.actor("r1", "u1"), `{"op":"server"}`)
	require.NoError(t, err)
	_, err = e.send(e.actor("r1", "u1"), `{"op":"silent"}`)
	require.NoError(t, err)
	_, err = e.send(e.actor("r1", "u4"), `{"op":"reject"}`)
	require.Error(t, err)

	seen := func(user string) []string {
		t.Helper()
		msgs, err := e.h.ListMessages(ctx, e.actor("r1", user), ListInput{})
		require.NoError(t, err)
		var out []string
		for _, m := range msgs {
			var c struct {
				Op, Text, SystemAction string
			}
			require.NoError(t, json.Unmarshal(m.Content, &c))
			out = append(out, m.MessageType+":"+c.Op+c.Text+c.SystemAction)
		}
		return out
	}
	require.Equal(t, []string{"cmd:silent"}, seen("u1"), "the sender: their unbroadcast message only")
	require.Equal(t, []string{"cmd:server", "system:first", "note:third"}, seen("u2"))
	require.Equal(t, []string{"cmd:server", "note:third"}, seen("u3"))
	require.Equal(t, []string{"note:third", "system:rejected"}, seen("u4"))

	for user, want := range map[string]int64{"u1": 0, "u2": 3, "u3": 2, "u5": 1} {
		n, err := e.h.Unread(ctx, e.actor("r1", user))
		require.NoError(t, err)
		require.Equal(t, want, n, user)
	}
	all := e.stored(t, "r1")
	hidden := all[0] // cmd:server, for u2 and u3
	_, err = e.h.GetMessage(ctx, e.actor("r1", "u5"), hidden.ID)
	require.Equal(t, CodeNotFound, clientErr(t, err).Code)
	_, err = e.h.React(ctx, e.actor("r1", "u5"), hidden.ID, "👍")
	require.Error(t, err)
	msgs, err := e.h.history(ctx, "r1", "u5", all[0].ID, 50)
	require.NoError(t, err)
	require.Len(t, msgs, 1, "since recovery: only note:third")
}

func TestAnotherNodesRoomChangeDropsThisNodesGrants(t *testing.T) {
	for _, op := range []string{opReauthorize, opCloseRoom} {
		t.Run(op, func(t *testing.T) {
			e := newRulesEnv(t, nil)
			e.actor(t, alice)
			require.Equal(t, 1, e.cache.Len())
			raw, err := json.Marshal(roomOp{Op: op, Room: rulesRoom, User: alice, Event: "hub:memberLeft", Payload: json.RawMessage(`{}`)})
			require.NoError(t, err)
			e.h.onServerSideEvent(&sio.Event{Name: clusterEvent, Args: []json.RawMessage{raw}})
			require.Eventually(t, func() bool { return e.cache.Len() == 0 }, 5*time.Second, 5*time.Millisecond,
				"the memory cache of this node is dropped")
		})
	}
}

// A pending message with a restricted audience is shown only to the
// moderators it includes: in the pending list and in the live
// hub:pendingMessage delivery.
func TestPendingMessagesFollowTheirAudience(t *testing.T) {
	e := newRulesEnv(t, nil)
	ctx := context.Background()
	pending := func(body string, aud *msgstore.Audience) *msgstore.Message {
		stored, _, err := e.h.deps.Store.Append(ctx, &msgstore.Message{HubName: e.h.name, RoomID: rulesRoom, SenderID: quinn,
			MessageType: "text", Content: json.RawMessage(`{"body":"` + body + `"}`), Status: msgstore.StatusPending, Audience: aud})
		require.NoError(t, err)
		return stored
	}
	pending("for quinn only", &msgstore.Audience{Users: []string{quinn}})
	shared := pending("for quinn and mona", &msgstore.Audience{Users: []string{quinn, mona}})
	open := pending("for the room", nil)
	pending("for all but mona", &msgstore.Audience{Except: []string{mona}})

	mod := e.actor(t, mona)
	require.True(t, mod.Permissions.CanModerate)
	list, err := e.h.PendingMessages(ctx, mod)
	require.NoError(t, err)
	var ids []string
	for _, m := range list {
		ids = append(ids, m.ID)
	}
	require.ElementsMatch(t, []string{shared.ID, open.ID}, ids)

	for _, tc := range []struct {
		aud  *msgstore.Audience
		sees bool
	}{
		{&msgstore.Audience{Users: []string{quinn}}, false},
		{&msgstore.Audience{Users: []string{quinn, mona}}, true},
		{&msgstore.Audience{Users: []string{}}, false},
		{&msgstore.Audience{Except: []string{mona}}, false},
		{&msgstore.Audience{Except: []string{quinn}}, true},
		{nil, true},
	} {
		d := pendingDelivery(&msgstore.Message{RoomID: rulesRoom, Audience: tc.aud})
		require.Equal(t, toModerators, d.To)
		require.Equal(t, tc.sees, d.audience().Includes(mona), "audience %+v", tc.aud)
		// the delivery crosses nodes as JSON in a roomOp
		var op roomOp
		b, err := json.Marshal(roomOp{To: d.To, Kind: d.Kind, Users: d.Users})
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &op))
		require.Equal(t, tc.sees, op.delivery().audience().Includes(mona), "audience %+v on another node", tc.aud)
	}
}
