package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
)

// RunOutbox runs the outbox suite; location must return an Opener for a new,
// empty location whose stores keep an outbox (msgstore.Outbox).
func RunOutbox(t *testing.T, location func(t *testing.T) Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, reopen Opener)
	}{
		{"every committed change is recorded in order", testOutboxChanges},
		{"done events go, the rest stay with their ids", testOutboxDone},
		{"one claim at a time", testOutboxOneClaim},
		{"events survive a reopen", testOutboxReopen},
		{"concurrent appends to a room are recorded in seq order", testOutboxRoomOrder},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, location(t)) })
	}
}

func openOutbox(t *testing.T, reopen Opener) (msgstore.Store, msgstore.Outbox) {
	t.Helper()
	s, err := reopen()
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	EnsureHubs(t, s, Hubs...)
	ob, ok := s.(msgstore.Outbox)
	require.True(t, ok, "%T does not implement msgstore.Outbox", s)
	return s, ob
}

// claimAll returns every waiting event, marking those done keep selects.
func claimAll(t *testing.T, ob msgstore.Outbox, keep func(*msgstore.OutboxEvent) bool) []*msgstore.OutboxEvent {
	t.Helper()
	var got []*msgstore.OutboxEvent
	claimed, err := ob.ClaimOutbox(context.Background(), 10000, func(_ context.Context, evs []*msgstore.OutboxEvent) []int64 {
		got = evs
		var done []int64
		for _, ev := range evs {
			if keep != nil && keep(ev) {
				done = append(done, ev.Pos)
			}
		}
		return done
	})
	require.NoError(t, err)
	require.True(t, claimed)
	return got
}

func appendText(t *testing.T, s msgstore.Store, room, sender, cmid, text string) *msgstore.Message {
	t.Helper()
	m, _, err := s.Append(context.Background(), &msgstore.Message{
		HubName: "chat", RoomID: room, SenderID: sender, MessageType: "text", ClientMessageID: cmid,
		Content: json.RawMessage(fmt.Sprintf(`{"text":%q}`, text)), Status: msgstore.StatusPublished,
	})
	require.NoError(t, err)
	return m
}

func testOutboxChanges(t *testing.T, reopen Opener) {
	ctx := context.Background()
	s, ob := openOutbox(t, reopen)
	a1 := appendText(t, s, "a", "alice", "c1", "one")
	a2 := appendText(t, s, "a", "bob", "", "two")
	b1 := appendText(t, s, "b", "alice", "", "three")
	// A repeated client message id stores nothing and records nothing.
	again := appendText(t, s, "a", "alice", "c1", "one")
	require.Equal(t, a1.ID, again.ID)
	edited, err := s.Update(ctx, "chat", a1.ID, func(m *msgstore.Message) error {
		m.Content = json.RawMessage(`{"text":"one, edited"}`)
		m.Change = &msgstore.Change{Kind: msgstore.ChangeEdited, By: "alice"}
		return nil
	})
	require.NoError(t, err)
	deleted, err := s.Update(ctx, "chat", a2.ID, func(m *msgstore.Message) error {
		m.Status = msgstore.StatusDeleted
		m.Change = &msgstore.Change{Kind: msgstore.ChangeDeleted, By: "bob"}
		return nil
	})
	require.NoError(t, err)
	// An update that fails records nothing.
	_, err = s.Update(ctx, "chat", b1.ID, func(*msgstore.Message) error { return fmt.Errorf("refused") })
	require.Error(t, err)

	want := []struct {
		op string
		m  *msgstore.Message
	}{
		{msgstore.OutboxCreated, a1}, {msgstore.OutboxCreated, a2}, {msgstore.OutboxCreated, b1},
		{msgstore.OutboxUpdated, edited}, {msgstore.OutboxDeleted, deleted},
	}
	got := claimAll(t, ob, nil)
	require.Len(t, got, len(want))
	ids := map[string]bool{}
	for i, ev := range got {
		require.Equal(t, want[i].op, ev.Op, "event %d", i)
		requireSameMessage(t, want[i].m, ev.Message)
		require.NotEmpty(t, ev.ID)
		require.False(t, ids[ev.ID], "event ids are unique")
		ids[ev.ID] = true
		require.False(t, ev.At.IsZero())
		if i > 0 {
			require.Greater(t, ev.Pos, got[i-1].Pos)
		}
	}
}

func requireSameMessage(t *testing.T, want, got *msgstore.Message) {
	t.Helper()
	require.Equal(t, "chat", got.HubName)
	require.Equal(t, want.ID, got.ID)
	require.Equal(t, want.RoomID, got.RoomID)
	require.Equal(t, want.Seq, got.Seq)
	require.Equal(t, want.Status, got.Status)
	require.Equal(t, want.SenderID, got.SenderID)
	require.JSONEq(t, string(want.Content), string(got.Content))
	require.True(t, want.Timestamp.Equal(got.Timestamp), "timestamp %s != %s", want.Timestamp, got.Timestamp)
	require.Equal(t, want.Rev, got.Rev, "the change number")
	require.Equal(t, want.Change, got.Change)
}

func testOutboxDone(t *testing.T, reopen Opener) {
	ctx := context.Background()
	s, ob := openOutbox(t, reopen)
	st, err := ob.OutboxStats(ctx)
	require.NoError(t, err)
	require.Equal(t, msgstore.OutboxStats{}, st)
	for i := range 5 {
		appendText(t, s, "r", "alice", "", fmt.Sprint(i))
	}
	first := claimAll(t, ob, func(ev *msgstore.OutboxEvent) bool { return ev.Message.Seq <= 2 })
	require.Len(t, first, 5)
	st, err = ob.OutboxStats(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 3, st.Depth)
	require.False(t, st.Oldest.IsZero())
	rest := claimAll(t, ob, func(*msgstore.OutboxEvent) bool { return true })
	require.Len(t, rest, 3)
	for i, ev := range rest {
		require.Equal(t, first[i+2].ID, ev.ID, "a republished event keeps its id")
		require.Equal(t, first[i+2].Pos, ev.Pos)
	}
	require.Empty(t, claimAll(t, ob, nil))
	st, err = ob.OutboxStats(ctx)
	require.NoError(t, err)
	require.Equal(t, msgstore.OutboxStats{}, st)
}

func testOutboxOneClaim(t *testing.T, reopen Opener) {
	ctx := context.Background()
	s, ob := openOutbox(t, reopen)
	appendText(t, s, "r", "alice", "", "x")
	var inner bool
	var innerErr error
	claimed, err := ob.ClaimOutbox(ctx, 10, func(ctx context.Context, evs []*msgstore.OutboxEvent) []int64 {
		var wg sync.WaitGroup
		wg.Go(func() {
			inner, innerErr = ob.ClaimOutbox(ctx, 10, func(context.Context, []*msgstore.OutboxEvent) []int64 {
				panic("a second claim ran")
			})
		})
		wg.Wait()
		return nil
	})
	require.NoError(t, err)
	require.True(t, claimed)
	require.NoError(t, innerErr)
	require.False(t, inner, "a second claim waits for the first")
	require.Len(t, claimAll(t, ob, nil), 1)
}

func testOutboxReopen(t *testing.T, reopen Opener) {
	s, ob := openOutbox(t, reopen)
	m := appendText(t, s, "r", "alice", "", "kept")
	before := claimAll(t, ob, nil)
	require.NoError(t, s.Close())
	_, ob = openOutbox(t, reopen)
	after := claimAll(t, ob, nil)
	require.Len(t, after, 1)
	require.Equal(t, before[0].ID, after[0].ID)
	requireSameMessage(t, m, after[0].Message)
}

func testOutboxRoomOrder(t *testing.T, reopen Opener) {
	s, ob := openOutbox(t, reopen)
	const n = 60
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { appendText(t, s, fmt.Sprint("room", i%3), "alice", "", fmt.Sprint(i)) })
	}
	wg.Wait()
	got := claimAll(t, ob, nil)
	require.Len(t, got, n)
	last := map[string]int64{}
	for _, ev := range got {
		require.Equal(t, last[ev.Message.RoomID]+1, ev.Message.Seq, "room %s in seq order", ev.Message.RoomID)
		last[ev.Message.RoomID] = ev.Message.Seq
	}
}

// RunAppliedEvents runs the applied events suite (msgstore.AppliedEvents);
// location must return an Opener for a new, empty location.
func RunAppliedEvents(t *testing.T, location func(t *testing.T) Opener) {
	t.Run("marked keys are seen until they expire, across a reopen", func(t *testing.T) {
		ctx := context.Background()
		reopen := location(t)
		s, err := reopen()
		require.NoError(t, err)
		ap, ok := s.(msgstore.AppliedEvents)
		require.True(t, ok, "%T does not implement msgstore.AppliedEvents", s)
		seen, err := ap.EventApplied(ctx, "k1")
		require.NoError(t, err)
		require.False(t, seen)
		require.NoError(t, ap.MarkEventsApplied(ctx, []string{"k1", "k1", "k3"}, time.Hour)) // a key twice: harmless
		require.NoError(t, ap.MarkEventsApplied(ctx, []string{"k1"}, time.Hour))             // again: harmless
		require.NoError(t, ap.MarkEventsApplied(ctx, []string{"short"}, 50*time.Millisecond))
		require.NoError(t, ap.MarkEventsApplied(ctx, nil, time.Hour))
		require.Error(t, ap.MarkEventsApplied(ctx, []string{"ok", ""}, time.Hour))
		require.NoError(t, s.Close())

		s, err = reopen()
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		ap = s.(msgstore.AppliedEvents)
		seen, err = ap.EventApplied(ctx, "k1")
		require.NoError(t, err)
		require.True(t, seen, "kept across a reopen")
		seen, err = ap.EventApplied(ctx, "k3")
		require.NoError(t, err)
		require.True(t, seen)
		seen, err = ap.EventApplied(ctx, "ok")
		require.NoError(t, err)
		require.False(t, seen, "a refused mark records nothing")
		require.Eventually(t, func() bool {
			seen, err := ap.EventApplied(ctx, "short")
			return err == nil && !seen
		}, 5*time.Second, 10*time.Millisecond, "expired")
		seen, err = ap.EventApplied(ctx, "k2")
		require.NoError(t, err)
		require.False(t, seen)
	})
}
