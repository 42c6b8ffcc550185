package hub

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/records"
)

// about are the events next reads: those about a message.
var about = map[string]bool{"hub:messageArrived": true, "hub:messageEdited": true, "hub:messageDeleted": true,
	"hub:reaction": true, "hub:messageRejected": true}

// next reads the next event about a message, whatever its name: its name,
// the id of the message, and its recovery offset ("" when it has none).
func (rc *rawClient) next() (name, id, off string) {
	rc.t.Helper()
	name, id, off, _ = rc.nextWith()
	return name, id, off
}

// nextWith is next, with the event's payload.
func (rc *rawClient) nextWith() (name, id, off string, payload json.RawMessage) {
	rc.t.Helper()
	var args []json.RawMessage
	for !about[name] {
		raw := strings.TrimPrefix(rc.read("42"+rc.nsp+`,["`), "42"+rc.nsp+",")
		require.NoError(rc.t, json.Unmarshal([]byte(raw), &args))
		require.NoError(rc.t, json.Unmarshal(args[0], &name))
	}
	var p struct {
		MessageID string `json:"messageId"`
		Message   struct {
			ID string `json:"id"`
		} `json:"message"`
	}
	require.NoError(rc.t, json.Unmarshal(args[1], &p))
	id = p.MessageID
	if id == "" {
		id = p.Message.ID
	}
	if len(args) > 2 {
		require.NoError(rc.t, json.Unmarshal(args[len(args)-1], &off))
	}
	return name, id, off, args[1]
}

// roomActor is an actor of room r1 with the given permissions.
func roomActor(userID string, p authz.Permissions) *Actor {
	p.CanRead, p.CanSend = true, true
	return &Actor{Session: &authz.Session{UserID: userID, Claims: map[string]any{"userId": userID}},
		RoomID: "r1", Permissions: p, Room: records.Record{"id": "r1"}}
}

// Edits, deletions, reactions and approvals made while a client was away
// come back with its session: each change it missed once, in the room's
// change order, after the messages it missed, as the events they were; a
// message sent while it was away comes as it is now (its later changes
// not repeated), one sent and deleted while it was away not at all.
func TestRecoverChanges(t *testing.T) {
	records := boltRecords(t)
	e := newSocketEnv(t, func(d *Deps) { d.Resume, d.MaxDisconnection = records, time.Minute })
	ctx := context.Background()
	u2, mod := roomActor("u2", authz.Permissions{}), roomActor("mod", authz.Permissions{CanModerate: true})
	post := func(body, status string) *msgstore.Message {
		m, err := e.h.commit(ctx, &msgstore.Message{HubName: e.h.Name(), RoomID: "r1", SenderID: "u2",
			MessageType: "text", Content: json.RawMessage(`{"body":"` + body + `"}`), Status: status}, arrived)
		require.NoError(t, err)
		return m
	}
	edit := func(m *msgstore.Message, body string) {
		_, err := e.h.EditMessage(ctx, u2, m.ID, json.RawMessage(`{"body":"`+body+`"}`))
		require.NoError(t, err)
	}

	u1, first := e.dialAs(t, "u1", nil)
	u1.join("1", "r1")
	m0, m1, m2 := post("m0", msgstore.StatusPublished), post("m1", msgstore.StatusPublished), post("m2", msgstore.StatusPublished)
	p1 := post("p1", msgstore.StatusPending)
	m3 := post("m3", msgstore.StatusPublished)
	for _, m := range []*msgstore.Message{m0, m1, m2, m3} {
		name, id, _ := u1.next()
		require.Equal(t, []string{"hub:messageArrived", m.ID}, []string{name, id})
	}
	edit(m1, "m1 edited")
	name, id, last := u1.next()
	require.Equal(t, []string{"hub:messageEdited", m1.ID}, []string{name, id})
	require.True(t, strings.HasPrefix(last, "c1."), "a change carries its offset: %s", last)
	u1.drop(records, e.h.Name(), first["pid"])

	// While u1 is away.
	edit(m2, "m2 edited")
	_, err := e.h.React(ctx, u2, m3.ID, "👍")
	require.NoError(t, err)
	_, err = e.h.DeleteMessage(ctx, u2, m1.ID)
	require.NoError(t, err)
	_, err = e.h.Approve(ctx, mod, p1.ID)
	require.NoError(t, err)
	m4 := post("m4", msgstore.StatusPublished)
	edit(m4, "m4 edited")
	p2 := post("p2", msgstore.StatusPending)
	_, err = e.h.Approve(ctx, mod, p2.ID)
	require.NoError(t, err)
	edit(p2, "p2 edited")
	m5 := post("m5", msgstore.StatusPublished)
	_, err = e.h.DeleteMessage(ctx, u2, m5.ID)
	require.NoError(t, err)
	edit(m0, "m0 edited")
	_, err = e.h.React(ctx, u2, m0.ID, "🙂")
	require.NoError(t, err)

	back, again := e.dialAs(t, "u1", map[string]string{"pid": first["pid"], "offset": last})
	require.Equal(t, first, again, "recovered")
	want := [][]string{
		{"hub:messageArrived", m4.ID}, {"hub:messageArrived", p2.ID}, // sent while away, as they are now
		{"hub:messageEdited", m2.ID}, {"hub:reaction", m3.ID}, {"hub:messageDeleted", m1.ID},
		{"hub:messageArrived", p1.ID}, // sent before the drop, approved while away
		{"hub:messageEdited", m0.ID},  // edited, then reacted to: the message as it is now
	}
	var got [][]string
	for range want {
		name, id, off := back.next()
		require.NotEmpty(t, off, "%s of %s replayed with its offset", name, id)
		got = append(got, []string{name, id})
	}
	require.Equal(t, want, got, "every event missed once, in order")
	// Nothing more: the next event is a live one.
	edit(m3, "m3 edited")
	name, id, off := back.next()
	require.Equal(t, []string{"hub:messageEdited", m3.ID}, []string{name, id})
	stored, err := e.h.deps.Store.Get(ctx, e.h.Name(), m3.ID)
	require.NoError(t, err)
	require.Equal(t, changeOffsetOf(stored), off)
}

// A room's changes committed on one node reach the members on the other in
// rev order, each once, with their offsets; a change whose notice was lost
// is read back from the store before the next one is shown. A session
// dropped on one node recovers the changes it missed through the other.
func TestChangesAcrossNodes(t *testing.T) {
	a, b, records := newTakeoverCluster(t)
	ctx := context.Background()
	u2 := roomActor("u2", authz.Permissions{})
	u1, first := b.dialAs(t, "u1", nil)
	u1.join("1", "r1")
	m, err := a.h.commit(ctx, &msgstore.Message{HubName: a.h.Name(), RoomID: "r1", SenderID: "u2",
		MessageType: "text", Content: json.RawMessage(`{"body":"m"}`)}, arrived)
	require.NoError(t, err)
	name, id, _ := u1.next()
	require.Equal(t, []string{"hub:messageArrived", m.ID}, []string{name, id})

	edit := func(body string) *msgstore.Message {
		out, err := a.h.EditMessage(ctx, u2, m.ID, json.RawMessage(`{"body":"`+body+`"}`))
		require.NoError(t, err)
		return out
	}
	// A change committed without a notice to anyone (its node lost it),
	// then one that is announced: node b reads the first from the store.
	_ = edit("one")
	lost, err := a.h.deps.Store.Update(ctx, a.h.Name(), m.ID, func(mm *msgstore.Message) error {
		mm.Content = json.RawMessage(`{"body":"two"}`)
		mm.Change = &msgstore.Change{Kind: msgstore.ChangeEdited, By: "u2", At: time.Now()}
		return nil
	})
	require.NoError(t, err)
	reacted, err := a.h.React(ctx, u2, m.ID, "👍")
	require.NoError(t, err)
	name, id, off := u1.next()
	require.Equal(t, []string{"hub:messageEdited", m.ID}, []string{name, id})
	require.True(t, strings.HasPrefix(off, "c1."), off)
	// The lost edit was replaced by the reaction: node b shows the message
	// as it is now, edited and reacted to, at the reaction's number.
	name, id, off, payload := u1.nextWith()
	require.Equal(t, []string{"hub:messageEdited", m.ID, changeOffsetOf(reacted)}, []string{name, id, off})
	var p MessageEdited
	require.NoError(t, json.Unmarshal(payload, &p))
	require.JSONEq(t, `{"body":"two"}`, string(p.Message.Content))
	require.JSONEq(t, string(reacted.Reaction), string(p.Message.Reaction))
	require.Equal(t, lost.Rev+1, reacted.Rev)

	// u1 drops on b; changes made on a meanwhile come back through a.
	u1.drop(records, b.h.Name(), first["pid"])
	edited := edit("three")
	back, again := a.dialAs(t, "u1", map[string]string{"pid": first["pid"], "offset": changeOffsetOf(reacted)})
	require.Equal(t, first, again, "recovered on the other node")
	name, id, off = back.next()
	require.Equal(t, []string{"hub:messageEdited", m.ID, changeOffsetOf(edited)}, []string{name, id, off})
}

// Deleting a message that was never published tells the readers nothing:
// they never saw it. Its change is numbered all the same.
func TestDeletingAPendingMessageTellsNoReader(t *testing.T) {
	e := newSocketEnv(t, func(*Deps) {})
	ctx := context.Background()
	u2 := roomActor("u2", authz.Permissions{})
	u1, _ := e.dialAs(t, "u1", nil)
	u1.join("1", "r1")
	post := func(body, status string) *msgstore.Message {
		m, err := e.h.commit(ctx, &msgstore.Message{HubName: e.h.Name(), RoomID: "r1", SenderID: "u2",
			MessageType: "text", Content: json.RawMessage(`{"body":"` + body + `"}`), Status: status}, arrived)
		require.NoError(t, err)
		return m
	}
	p := post("pending", msgstore.StatusPending)
	deleted, err := e.h.DeleteMessage(ctx, u2, p.ID)
	require.NoError(t, err)
	require.Equal(t, &msgstore.Change{Kind: msgstore.ChangeDeleted, By: "u2", At: deleted.Change.At, Was: msgstore.StatusPending}, deleted.Change)
	m := post("published", msgstore.StatusPublished)
	_, err = e.h.DeleteMessage(ctx, u2, m.ID)
	require.NoError(t, err)
	for _, want := range [][]string{{"hub:messageArrived", m.ID}, {"hub:messageDeleted", m.ID}} {
		name, id, _ := u1.next()
		require.Equal(t, want, []string{name, id}, "nothing about the pending message")
	}
}
