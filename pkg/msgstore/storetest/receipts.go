package storetest

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/spec"
)

// Hubs are the hubs the suite writes to.
var Hubs = []string{"chat", "games", "bench"}

// TestHub returns a minimal valid spec of a hub named name with every
// built-in message type, a custom type "poll", replyTo, reaction and
// forwarded enabled, a persisted custom event "nudge" and an ephemeral one
// "wave": the schema the suite's messages need.
func TestHub(name string) *spec.Hub {
	return &spec.Hub{
		HubBasics: spec.HubBasics{Name: name},
		MessageSettings: spec.HubMessageSettings{
			DataObjectName:     name + "Message",
			MessageTypes:       append([]spec.HubMessageType(nil), spec.BuiltinMessageTypes...),
			EnableReplyTo:      true,
			EnableReaction:     true,
			EnableForwarded:    true,
			CustomMessageTypes: []spec.HubCustomMessageType{{Name: "poll"}},
		},
		EventSettings: spec.HubEventSettings{
			CustomEvents: []spec.HubCustomEvent{
				{Name: PersistedEvent, Direction: spec.ClientToRoom},
				{Name: "wave", Direction: spec.ClientToRoom, Ephemeral: true},
			},
		},
	}
}

// PersistedEvent is TestHub's non-ephemeral custom event.
const PersistedEvent = "nudge"

// EnsureHubs creates the schema of TestHub(name) for each name when s is a
// msgstore.SchemaManager; other stores need nothing.
func EnsureHubs(t testing.TB, s msgstore.Store, names ...string) {
	t.Helper()
	sm, ok := s.(msgstore.SchemaManager)
	if !ok {
		return
	}
	for _, n := range names {
		require.NoError(t, sm.EnsureSchema(context.Background(), TestHub(n)), "ensure schema of %s", n)
	}
}

func testReadMarksList(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	base := time.Date(2026, 11, 27, 23, 59, 1, 123456789, time.UTC)

	got, err := s.ReadMarks(ctx, "chat", "r1")
	require.NoError(t, err)
	require.Empty(t, got, "no marks yet")

	require.NoError(t, s.SetReadMark(ctx, "chat", "r1", "carol", base.Add(2*time.Second)))
	require.NoError(t, s.SetReadMark(ctx, "chat", "r1", "alice", base))
	require.NoError(t, s.SetReadMark(ctx, "chat", "r1", "bob", base.Add(time.Second)))
	require.NoError(t, s.SetReadMark(ctx, "chat", "r1a", "lice", base)) // a room whose id extends r1
	require.NoError(t, s.SetReadMark(ctx, "chat", "r", "1alice", base)) // and one it extends
	require.NoError(t, s.SetReadMark(ctx, "games", "r1", "dave", base)) // another hub
	require.NoError(t, s.SetReadMark(ctx, "chat", "r1", "erin", base))  // set, then cleared
	require.NoError(t, s.SetReadMark(ctx, "chat", "r1", "erin", time.Time{}))

	ms := base.Truncate(time.Millisecond)
	want := []msgstore.ReadMarkEntry{
		{UserID: "alice", At: ms},
		{UserID: "bob", At: ms.Add(time.Second)},
		{UserID: "carol", At: ms.Add(2 * time.Second)},
	}
	got, err = s.ReadMarks(ctx, "chat", "r1")
	require.NoError(t, err)
	require.Equal(t, want, got)

	got, err = s.ReadMarks(ctx, "nohub", "r1")
	require.NoError(t, err)
	require.Empty(t, got)
}

func testCountUnread(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	base := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	add := func(room, sender string, sec int, status string) {
		t.Helper()
		m := msg("chat", room, sender, sec)
		m.Timestamp = base.Add(time.Duration(sec) * time.Second)
		m.Status = status
		_, _, err := s.Append(ctx, m)
		require.NoError(t, err)
	}
	pub := msgstore.StatusPublished
	add("r1", "bob", 1, pub)
	add("r1", "alice", 2, pub)
	add("r1", "bob", 3, pub)
	add("r1", "bob", 4, msgstore.StatusPending)
	add("r1", "carol", 5, pub)
	add("r1", "bob", 6, msgstore.StatusDeleted)
	add("r2", "bob", 7, pub) // another room

	tests := []struct {
		name string
		user string
		mark time.Time // zero: no mark
		want int64
	}{
		{"no mark: every published message of others", "alice", time.Time{}, 3},
		{"mark between", "alice", base.Add(2 * time.Second), 2},
		{"mark equal to a timestamp excludes it", "alice", base.Add(3 * time.Second), 1},
		{"mark after everything", "alice", base.Add(time.Hour), 0},
		{"own messages never count", "bob", time.Time{}, 2},
		{"user who never posted", "dave", base.Add(500 * time.Millisecond), 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, s.SetReadMark(ctx, "chat", "r1", tc.user, tc.mark))
			n, err := s.CountUnread(ctx, "chat", "r1", tc.user)
			require.NoError(t, err)
			require.Equal(t, tc.want, n)
		})
	}
	n, err := s.CountUnread(ctx, "chat", "nope", "alice")
	require.NoError(t, err)
	require.Zero(t, n, "unknown room")
	n, err = s.CountUnread(ctx, "nohub", "r1", "alice")
	require.NoError(t, err)
	require.Zero(t, n, "unknown hub")
}

func testDelivered(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	ms := appendN(t, s, "chat", "r1", 2)
	t1 := time.Date(2026, 11, 27, 23, 0, 0, 123456789, time.UTC)

	got, err := s.Delivered(ctx, "chat", ms[0].ID)
	require.NoError(t, err)
	require.Empty(t, got)

	require.NoError(t, s.SetDelivered(ctx, "chat", "r1", "carol", ms[0].ID, t1.Add(time.Second)))
	require.NoError(t, s.SetDelivered(ctx, "chat", "r1", "bob", ms[0].ID, t1))
	require.NoError(t, s.SetDelivered(ctx, "chat", "r1", "bob", ms[0].ID, t1.Add(time.Hour)), "a repeat is harmless")
	require.NoError(t, s.SetDelivered(ctx, "chat", "r1", "dave", ms[1].ID, t1))

	w := t1.Truncate(time.Millisecond)
	got, err = s.Delivered(ctx, "chat", ms[0].ID)
	require.NoError(t, err)
	require.Equal(t, []msgstore.ReadMarkEntry{{UserID: "bob", At: w}, {UserID: "carol", At: w.Add(time.Second)}}, got,
		"by user id; the first receipt's time is kept")
	got, err = s.Delivered(ctx, "chat", ms[1].ID)
	require.NoError(t, err)
	require.Equal(t, []msgstore.ReadMarkEntry{{UserID: "dave", At: w}}, got)
	got, err = s.Delivered(ctx, "games", ms[0].ID)
	require.NoError(t, err)
	require.Empty(t, got, "receipts are per hub")

	err = s.SetDelivered(ctx, "chat", "r1", "", ms[0].ID, t1)
	require.ErrorIs(t, err, msgstore.ErrInvalid)
}

func testModeration(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	_, err := s.GetModeration(ctx, "chat", "r1", "bob")
	require.ErrorIs(t, err, msgstore.ErrNotFound)
	list, err := s.ListModeration(ctx, "chat", "r1")
	require.NoError(t, err)
	require.Empty(t, list)

	until := time.Date(2026, 11, 28, 1, 0, 0, 987654321, time.FixedZone("X", 3600))
	at := time.Date(2026, 11, 28, 0, 0, 0, 5_000_000, time.UTC)
	block := &msgstore.Moderation{
		HubName: "chat", RoomID: "r1", UserID: "bob",
		Blocked: true, BlockedUntil: until, Reason: "spam", By: "mod", UpdatedAt: at,
	}
	require.NoError(t, s.SetModeration(ctx, block))
	silence := &msgstore.Moderation{HubName: "chat", RoomID: "r1", UserID: "alice", Silenced: true, By: "mod"}
	before := time.Now().Add(-time.Millisecond)
	require.NoError(t, s.SetModeration(ctx, silence))
	require.NoError(t, s.SetModeration(ctx, &msgstore.Moderation{HubName: "chat", RoomID: "r2", UserID: "bob", Silenced: true}))
	require.NoError(t, s.SetModeration(ctx, &msgstore.Moderation{HubName: "games", RoomID: "r1", UserID: "bob", Blocked: true}))

	wantBlock := block.Clone()
	wantBlock.BlockedUntil = until.UTC().Truncate(time.Millisecond)
	got, err := s.GetModeration(ctx, "chat", "r1", "bob")
	require.NoError(t, err)
	require.Equal(t, wantBlock, got)

	gotSilence, err := s.GetModeration(ctx, "chat", "r1", "alice")
	require.NoError(t, err)
	require.True(t, gotSilence.Silenced)
	require.False(t, gotSilence.Blocked)
	require.True(t, gotSilence.BlockedUntil.IsZero())
	require.False(t, gotSilence.UpdatedAt.Before(before.Truncate(time.Millisecond)), "UpdatedAt set when zero")
	require.Equal(t, time.UTC, gotSilence.UpdatedAt.Location())

	list, err = s.ListModeration(ctx, "chat", "r1")
	require.NoError(t, err)
	require.Equal(t, []*msgstore.Moderation{gotSilence, wantBlock}, list, "by user id")

	// an upsert replaces the record
	unblock := &msgstore.Moderation{HubName: "chat", RoomID: "r1", UserID: "bob", By: "mod2", UpdatedAt: at.Add(time.Minute)}
	require.NoError(t, s.SetModeration(ctx, unblock))
	got, err = s.GetModeration(ctx, "chat", "r1", "bob")
	require.NoError(t, err)
	require.Equal(t, unblock, got)

	tests := []struct {
		name string
		m    *msgstore.Moderation
	}{
		{"nil", nil},
		{"no user", &msgstore.Moderation{HubName: "chat", RoomID: "r1"}},
		{"no room", &msgstore.Moderation{HubName: "chat", UserID: "u"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.ErrorIs(t, s.SetModeration(ctx, tc.m), msgstore.ErrInvalid)
		})
	}
}

func testRoomSettings(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	got, err := s.RoomSettings(ctx, "chat", "r1")
	require.NoError(t, err)
	require.Nil(t, got)

	require.NoError(t, s.SetRoomSettings(ctx, "chat", "r1", json.RawMessage(`{ "topic" : "hello", "slow": 5 }`)))
	require.NoError(t, s.SetRoomSettings(ctx, "chat", "r2", json.RawMessage(`{"topic":"other"}`)))
	got, err = s.RoomSettings(ctx, "chat", "r1")
	require.NoError(t, err)
	require.JSONEq(t, `{"topic":"hello","slow":5}`, string(got))

	require.NoError(t, s.SetRoomSettings(ctx, "chat", "r1", json.RawMessage(`{"topic":"replaced"}`)))
	got, err = s.RoomSettings(ctx, "chat", "r1")
	require.NoError(t, err)
	require.JSONEq(t, `{"topic":"replaced"}`, string(got), "replaces, does not merge")

	got, err = s.RoomSettings(ctx, "games", "r1")
	require.NoError(t, err)
	require.Nil(t, got, "settings are per hub")

	require.ErrorIs(t, s.SetRoomSettings(ctx, "chat", "r1", json.RawMessage(`{"topic":`)), msgstore.ErrInvalid)
	require.NoError(t, s.SetRoomSettings(ctx, "chat", "r1", nil))
	got, err = s.RoomSettings(ctx, "chat", "r1")
	require.NoError(t, err)
	require.Nil(t, got, "nil removes")
	got, err = s.RoomSettings(ctx, "chat", "r2")
	require.NoError(t, err)
	require.JSONEq(t, `{"topic":"other"}`, string(got))
}
