// Package storetest is the conformance suite every msgstore.Store passes.
//
// An implementation's test calls Run with a function opening an empty store,
// and RunDurability with one that opens the same location again and again.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
)

// Run runs the suite; open must return a new, empty store for each call and
// arrange its cleanup (the suite closes stores it is done with itself only
// where a subtest says so; closing twice must be harmless).
func Run(t *testing.T, open func(t *testing.T) msgstore.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s msgstore.Store)
	}{
		{"append assigns id, seq and timestamp", testAppendAssigns},
		{"append keeps explicit id and timestamp", testAppendExplicit},
		{"append rejects invalid messages", testAppendInvalid},
		{"seq per room independent across rooms and hubs", testSeqIndependent},
		{"concurrent appends in one room are gap-free", testConcurrentOneRoom},
		{"concurrent appends across rooms", testConcurrentRooms},
		{"client message id is idempotent per sender", testIdempotent},
		{"concurrent duplicate client message id stores once", testIdempotentConcurrent},
		{"get by client message id", testGetByClientID},
		{"list", testList},
		{"paging walks a room exactly once in order", testPaging},
		{"status filter", testStatusFilter},
		{"get and not found", testGet},
		{"update", testUpdate},
		{"read marks", testReadMarks},
		{"json round trip", testJSONRoundTrip},
		{"read marks of a room", testReadMarksList},
		{"count unread", testCountUnread},
		{"delivery receipts", testDelivered},
		{"moderation records", testModeration},
		{"room settings", testRoomSettings},
		{"persisted custom events replay in order", testPersistedEvents},
		{"restricted audience", testAudience},
		{"changes are numbered per room", testChangeNumbers},
		{"an aborted update uses no change number", testChangeAborted},
		{"concurrent updates of a room number their changes without holes", testChangeConcurrent},
		{"list over changes", testChangeList},
		{"bounds of the other kind are refused", testChangeQueryInvalid},
		{"closed store refuses calls", testClosed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			EnsureHubs(t, s, Hubs...)
			tc.fn(t, s)
		})
	}
}

// Opener opens the store at one fixed location; every call opens it again.
type Opener func() (msgstore.Store, error)

// RunDurability checks that a store reopened after Close keeps everything:
// messages (pending ones too), sequences, the client message id index, read
// marks, delivery receipts, moderation records and room settings.
// location must return an Opener for a new, empty location.
func RunDurability(t *testing.T, location func(t *testing.T) Opener) {
	t.Run("reopen after close keeps everything", func(t *testing.T) {
		ctx := context.Background()
		reopen := location(t)
		s, err := reopen()
		require.NoError(t, err)
		EnsureHubs(t, s, Hubs...)

		var want []*msgstore.Message
		for i := range 6 {
			m := msg("chat", fmt.Sprintf("room-%d", i%2), "alice", i)
			m.ClientMessageID = fmt.Sprintf("c-%d", i)
			stored, created, err := s.Append(ctx, m)
			require.NoError(t, err)
			require.True(t, created)
			want = append(want, stored)
		}
		other, _, err := s.Append(ctx, msg("games", "room-0", "bob", 0))
		require.NoError(t, err)
		edited, err := s.Update(ctx, "chat", want[2].ID, func(m *msgstore.Message) error {
			m.Content = json.RawMessage(`{"text":"edited"}`)
			return nil
		})
		require.NoError(t, err)
		want[2] = edited
		mark := time.Date(2026, 11, 27, 23, 59, 1, 123456789, time.UTC)
		require.NoError(t, s.SetReadMark(ctx, "chat", "room-0", "alice", mark))
		pendingIn := msg("chat", "room-1", "bob", 7)
		pendingIn.Status = msgstore.StatusPending
		pending, _, err := s.Append(ctx, pendingIn)
		require.NoError(t, err)
		require.NoError(t, s.SetDelivered(ctx, "chat", "room-0", "bob", want[0].ID, mark))
		mod := &msgstore.Moderation{HubName: "chat", RoomID: "room-0", UserID: "bob", Silenced: true, By: "mod", UpdatedAt: mark.Truncate(time.Millisecond)}
		require.NoError(t, s.SetModeration(ctx, mod))
		require.NoError(t, s.SetRoomSettings(ctx, "chat", "room-0", json.RawMessage(`{"topic":"kept"}`)))
		require.NoError(t, s.Close())

		s, err = reopen()
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })

		for _, w := range append(want, other) {
			got, err := s.Get(ctx, w.HubName, w.ID)
			require.NoError(t, err)
			require.Equal(t, w, got)
		}
		room0, err := s.List(ctx, "chat", "room-0", msgstore.Query{})
		require.NoError(t, err)
		require.Equal(t, []*msgstore.Message{want[0], want[2], want[4]}, room0)

		next, created, err := s.Append(ctx, msg("chat", "room-0", "alice", 9))
		require.NoError(t, err)
		require.True(t, created)
		require.Equal(t, int64(4), next.Seq, "seq continues after reopen")

		dup := msg("chat", "room-1", "alice", 99)
		dup.ClientMessageID = "c-1"
		orig, created, err := s.Append(ctx, dup)
		require.NoError(t, err)
		require.False(t, created, "client message id index survives reopen")
		require.Equal(t, want[1], orig)

		got, err := s.ReadMark(ctx, "chat", "room-0", "alice")
		require.NoError(t, err)
		require.True(t, mark.Truncate(time.Millisecond).Equal(got), "read mark %s, want %s", got, mark)

		pendingList, err := s.List(ctx, "chat", "room-1", msgstore.Query{Statuses: []string{msgstore.StatusPending}})
		require.NoError(t, err)
		require.Equal(t, []*msgstore.Message{pending}, pendingList, "pending messages survive")
		delivered, err := s.Delivered(ctx, "chat", want[0].ID)
		require.NoError(t, err)
		require.Equal(t, []msgstore.ReadMarkEntry{{UserID: "bob", At: mark.Truncate(time.Millisecond)}}, delivered)
		gotMod, err := s.GetModeration(ctx, "chat", "room-0", "bob")
		require.NoError(t, err)
		require.Equal(t, mod, gotMod)
		settings, err := s.RoomSettings(ctx, "chat", "room-0")
		require.NoError(t, err)
		require.JSONEq(t, `{"topic":"kept"}`, string(settings))

		require.Equal(t, int64(1), want[2].Rev)
		changes, err := s.List(ctx, "chat", "room-0", msgstore.Query{Changes: true})
		require.NoError(t, err)
		require.Equal(t, []*msgstore.Message{want[2]}, changes, "the change index survives reopen")
		again, err := s.Update(ctx, "chat", want[0].ID, func(m *msgstore.Message) error {
			m.Change = &msgstore.Change{Kind: msgstore.ChangeEdited, By: "alice"}
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, int64(2), again.Rev, "the change counter continues after reopen")
	})
}

// msg builds an unsaved text message whose content carries n.
func msg(hub, room, sender string, n int) *msgstore.Message {
	return &msgstore.Message{
		HubName:     hub,
		RoomID:      room,
		SenderID:    sender,
		MessageType: "text",
		Content:     json.RawMessage(fmt.Sprintf(`{"text":"message %d"}`, n)),
	}
}

// appendN appends n messages to one room and returns the stored copies.
func appendN(t *testing.T, s msgstore.Store, hub, room string, n int) []*msgstore.Message {
	t.Helper()
	out := make([]*msgstore.Message, 0, n)
	for i := range n {
		m, created, err := s.Append(context.Background(), msg(hub, room, "alice", i))
		require.NoError(t, err)
		require.True(t, created)
		out = append(out, m)
	}
	return out
}

func seqs(ms []*msgstore.Message) []int64 {
	return numbers(ms, func(m *msgstore.Message) int64 { return m.Seq })
}

func revs(ms []*msgstore.Message) []int64 {
	return numbers(ms, func(m *msgstore.Message) int64 { return m.Rev })
}

// numbers returns f of each message.
func numbers(ms []*msgstore.Message, f func(m *msgstore.Message) int64) []int64 {
	out := make([]int64, 0, len(ms))
	for _, m := range ms {
		out = append(out, f(m))
	}
	return out
}

func seqRange(from, to int64) []int64 {
	out := []int64{}
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func testAppendAssigns(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	before := time.Now().Add(-time.Millisecond)
	in := msg("chat", "r1", "alice", 1)
	in.Content = json.RawMessage("{ \"text\" : \"hi\" }")
	inCopy := in.Clone()

	got, created, err := s.Append(ctx, in)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, inCopy, in, "Append must not modify its argument")

	id, err := uuid.Parse(got.ID)
	require.NoError(t, err, "id %q", got.ID)
	require.Equal(t, uuid.Version(7), id.Version())
	require.Equal(t, int64(1), got.Seq)
	require.Equal(t, time.UTC, got.Timestamp.Location())
	require.False(t, got.Timestamp.Before(before.Truncate(time.Millisecond)), "timestamp %s before %s", got.Timestamp, before)
	require.False(t, got.Timestamp.After(time.Now()), "timestamp in the future")
	require.Zero(t, got.Timestamp.Nanosecond()%int(time.Millisecond), "timestamp has millisecond precision")
	require.Equal(t, msgstore.StatusPublished, got.Status, "empty status means published")
	require.JSONEq(t, `{"text":"hi"}`, string(got.Content))
	require.Equal(t, "chat", got.HubName)
	require.Equal(t, "r1", got.RoomID)
	require.Equal(t, "alice", got.SenderID)
	require.Equal(t, "text", got.MessageType)

	stored, err := s.Get(ctx, "chat", got.ID)
	require.NoError(t, err)
	require.Equal(t, got, stored, "Append returns what Get returns")

	second, _, err := s.Append(ctx, msg("chat", "r1", "alice", 2))
	require.NoError(t, err)
	require.Equal(t, int64(2), second.Seq)
	require.NotEqual(t, got.ID, second.ID)
	require.Less(t, got.ID, second.ID, "UUIDv7 ids sort by time")
}

func testAppendExplicit(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	ts := time.Date(2026, 11, 27, 23, 59, 1, 123456789, time.FixedZone("CET", 3600))
	fwd := true
	in := msg("chat", "r1", "alice", 1)
	in.ID = "0193a1d2-0000-7000-8000-000000000001"
	in.Timestamp = ts
	in.Seq = 42
	in.Status = msgstore.StatusPending
	in.ReplyTo = json.RawMessage(`{"id":"x"}`)
	in.Forwarded = &fwd

	got, created, err := s.Append(ctx, in)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, in.ID, got.ID)
	require.Equal(t, int64(1), got.Seq, "seq is always assigned")
	require.Equal(t, time.Date(2026, 11, 27, 22, 59, 1, 123000000, time.UTC), got.Timestamp)
	require.Equal(t, msgstore.StatusPending, got.Status)
	require.JSONEq(t, `{"id":"x"}`, string(got.ReplyTo))
	require.NotNil(t, got.Forwarded)
	require.True(t, *got.Forwarded)

	stored, err := s.Get(ctx, "chat", in.ID)
	require.NoError(t, err)
	require.Equal(t, got, stored)

	again := msg("chat", "r2", "bob", 2)
	again.ID = in.ID
	_, _, err = s.Append(ctx, again)
	require.ErrorIs(t, err, msgstore.ErrDuplicateID)
	list, err := s.List(ctx, "chat", "r2", msgstore.Query{})
	require.NoError(t, err)
	require.Empty(t, list, "a refused append stores nothing")
}

func testAppendInvalid(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	tests := []struct {
		name  string
		edit  func(m *msgstore.Message)
		field string
	}{
		{"no hub", func(m *msgstore.Message) { m.HubName = "" }, "hubName"},
		{"no room", func(m *msgstore.Message) { m.RoomID = "" }, "roomId"},
		{"unknown status", func(m *msgstore.Message) { m.Status = "draft" }, "status"},
		{"content not json", func(m *msgstore.Message) { m.Content = json.RawMessage(`{"text":`) }, "content"},
		{"reaction not json", func(m *msgstore.Message) { m.Reaction = json.RawMessage(`[{]`) }, "reaction"},
		{"huge room id", func(m *msgstore.Message) { m.RoomID = string(make([]byte, 5000)) }, "roomId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := msg("chat", "r1", "alice", 1)
			tc.edit(m)
			_, _, err := s.Append(ctx, m)
			require.ErrorIs(t, err, msgstore.ErrInvalid)
			var inv *msgstore.InvalidError
			require.ErrorAs(t, err, &inv)
			require.Equal(t, tc.field, inv.Field)
		})
	}
	list, err := s.List(ctx, "chat", "r1", msgstore.Query{})
	require.NoError(t, err)
	require.Empty(t, list)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, _, err = s.Append(cancelled, msg("chat", "r1", "alice", 1))
	require.ErrorIs(t, err, context.Canceled)
	_, err = s.List(ctx, "chat", "r1", msgstore.Query{Limit: -1})
	require.ErrorIs(t, err, msgstore.ErrInvalid)
}

func testSeqIndependent(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	steps := []struct{ hub, room string }{
		{"chat", "a"}, {"chat", "a"}, {"chat", "b"}, {"games", "a"},
		{"chat", "a"}, {"chat", "b"}, {"games", "a"}, {"games", "b"},
	}
	want := []int64{1, 2, 1, 1, 3, 2, 2, 1}
	for i, st := range steps {
		m, _, err := s.Append(ctx, msg(st.hub, st.room, "alice", i))
		require.NoError(t, err)
		require.Equal(t, want[i], m.Seq, "step %d: %s/%s", i, st.hub, st.room)
	}
}

func testConcurrentOneRoom(t *testing.T, s msgstore.Store) {
	const workers, each = 8, 25
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	got := make(chan *msgstore.Message, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				m, _, err := s.Append(ctx, msg("chat", "busy", fmt.Sprintf("u%d", w), i))
				if err != nil {
					errs <- err
					return
				}
				got <- m
			}
		})
	}
	wg.Wait()
	close(errs)
	close(got)
	for err := range errs {
		require.NoError(t, err)
	}
	var all []int64
	ids := map[string]bool{}
	for m := range got {
		all = append(all, m.Seq)
		require.False(t, ids[m.ID], "duplicate id %s", m.ID)
		ids[m.ID] = true
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	require.Equal(t, seqRange(1, workers*each), all)

	list, err := s.List(ctx, "chat", "busy", msgstore.Query{})
	require.NoError(t, err)
	require.Equal(t, seqRange(1, workers*each), seqs(list))
}

func testConcurrentRooms(t *testing.T, s msgstore.Store) {
	const rooms, each = 10, 10
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, rooms*2)
	for r := range rooms {
		for range 2 { // two writers per room
			wg.Go(func() {
				for i := range each {
					if _, _, err := s.Append(ctx, msg("chat", fmt.Sprintf("room-%d", r), "alice", i)); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for r := range rooms {
		list, err := s.List(ctx, "chat", fmt.Sprintf("room-%d", r), msgstore.Query{})
		require.NoError(t, err)
		require.Equal(t, seqRange(1, 2*each), seqs(list), "room-%d", r)
	}
}

func testIdempotent(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	first := msg("chat", "r1", "alice", 1)
	first.ClientMessageID = "c1"
	orig, created, err := s.Append(ctx, first)
	require.NoError(t, err)
	require.True(t, created)

	tests := []struct {
		name     string
		hub      string
		room     string
		sender   string
		cmid     string
		wantOrig bool
	}{
		{"same sender same id", "chat", "r1", "alice", "c1", true},
		{"same sender same id other room", "chat", "r2", "alice", "c1", true},
		{"other sender same id", "chat", "r1", "bob", "c1", false},
		{"same sender other id", "chat", "r1", "alice", "c2", false},
		{"same sender same id other hub", "games", "r1", "alice", "c1", false},
		{"no client id", "chat", "r1", "alice", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := msg(tc.hub, tc.room, tc.sender, 2)
			m.ClientMessageID = tc.cmid
			got, created, err := s.Append(ctx, m)
			require.NoError(t, err)
			if tc.wantOrig {
				require.False(t, created)
				require.Equal(t, orig, got)
				return
			}
			require.True(t, created)
			require.NotEqual(t, orig.ID, got.ID)
			require.Equal(t, tc.cmid, got.ClientMessageID)
		})
	}
	r1, err := s.List(ctx, "chat", "r1", msgstore.Query{})
	require.NoError(t, err)
	require.Len(t, r1, 4, "original, other sender, other id, no client id")
	r2, err := s.List(ctx, "chat", "r2", msgstore.Query{})
	require.NoError(t, err)
	require.Empty(t, r2, "a repeat stores nothing")

	// a repeat after an edit returns the message as it is now
	edited, err := s.Update(ctx, "chat", orig.ID, func(m *msgstore.Message) error {
		m.Content = json.RawMessage(`{"text":"edited"}`)
		return nil
	})
	require.NoError(t, err)
	again, created, err := s.Append(ctx, first)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, edited, again)
}

func testIdempotentConcurrent(t *testing.T, s msgstore.Store) {
	const senders = 16
	ctx := context.Background()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		ids     = map[string]int{}
		created int
		errs    []error
	)
	for range senders {
		wg.Go(func() {
			m := msg("chat", "r1", "alice", 1)
			m.ClientMessageID = "retry-me"
			got, c, err := s.Append(ctx, m)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			ids[got.ID]++
			if c {
				created++
			}
		})
	}
	wg.Wait()
	require.Empty(t, errs)
	require.Equal(t, 1, created)
	require.Len(t, ids, 1, "every caller gets the same message")
	list, err := s.List(ctx, "chat", "r1", msgstore.Query{})
	require.NoError(t, err)
	require.Len(t, list, 1)
}

func testList(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	all := appendN(t, s, "chat", "r1", 10)
	appendN(t, s, "chat", "r2", 3)
	appendN(t, s, "games", "r1", 4)

	tests := []struct {
		name string
		room string
		q    msgstore.Query
		want []int64
	}{
		{"everything", "r1", msgstore.Query{}, seqRange(1, 10)},
		{"newest 3 oldest first", "r1", msgstore.Query{Limit: 3}, []int64{8, 9, 10}},
		{"limit above count", "r1", msgstore.Query{Limit: 50}, seqRange(1, 10)},
		{"after 4 limit 3", "r1", msgstore.Query{AfterSeq: 4, Limit: 3}, []int64{5, 6, 7}},
		{"after 8 limit 5", "r1", msgstore.Query{AfterSeq: 8, Limit: 5}, []int64{9, 10}},
		{"after the last", "r1", msgstore.Query{AfterSeq: 10}, []int64{}},
		{"after beyond the last", "r1", msgstore.Query{AfterSeq: 99, Limit: 2}, []int64{}},
		{"before 4 limit 2", "r1", msgstore.Query{BeforeSeq: 4, Limit: 2}, []int64{2, 3}},
		{"before 4", "r1", msgstore.Query{BeforeSeq: 4}, []int64{1, 2, 3}},
		{"before 1", "r1", msgstore.Query{BeforeSeq: 1}, []int64{}},
		{"before beyond the last", "r1", msgstore.Query{BeforeSeq: 99, Limit: 2}, []int64{9, 10}},
		{"between", "r1", msgstore.Query{AfterSeq: 3, BeforeSeq: 7}, []int64{4, 5, 6}},
		{"between limit takes oldest", "r1", msgstore.Query{AfterSeq: 3, BeforeSeq: 9, Limit: 2}, []int64{4, 5}},
		{"other room", "r2", msgstore.Query{Limit: 2}, []int64{2, 3}},
		{"unknown room", "nope", msgstore.Query{Limit: 2}, []int64{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.List(ctx, "chat", tc.room, tc.q)
			require.NoError(t, err)
			require.Equal(t, tc.want, seqs(got))
			for _, m := range got {
				require.Equal(t, "chat", m.HubName)
				require.Equal(t, tc.room, m.RoomID)
			}
		})
	}
	got, err := s.List(ctx, "chat", "r1", msgstore.Query{Limit: 2})
	require.NoError(t, err)
	require.Equal(t, all[8:], got, "listed messages equal the stored ones")
	got, err = s.List(ctx, "nohub", "r1", msgstore.Query{})
	require.NoError(t, err)
	require.Empty(t, got)
}

func testPaging(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	const n, page = 23, 5
	appendN(t, s, "chat", "r1", n)

	var back []int64
	q := msgstore.Query{Limit: page}
	for pages := 0; ; pages++ {
		require.Less(t, pages, n, "backward paging does not end")
		got, err := s.List(ctx, "chat", "r1", q)
		require.NoError(t, err)
		if len(got) == 0 {
			break
		}
		require.LessOrEqual(t, len(got), page)
		back = append(seqs(got), back...)
		q.BeforeSeq = got[0].Seq
	}
	require.Equal(t, seqRange(1, n), back)

	// forward from a known message, as a join with "since" does
	const since = 3
	var fwd []int64
	q = msgstore.Query{AfterSeq: since, Limit: page}
	for pages := 0; ; pages++ {
		require.Less(t, pages, n, "forward paging does not end")
		got, err := s.List(ctx, "chat", "r1", q)
		require.NoError(t, err)
		if len(got) == 0 {
			break
		}
		require.LessOrEqual(t, len(got), page)
		fwd = append(fwd, seqs(got)...)
		q.AfterSeq = got[len(got)-1].Seq
	}
	require.Equal(t, seqRange(since+1, n), fwd)
}

func testStatusFilter(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	statuses := []string{
		msgstore.StatusPublished, msgstore.StatusPending, msgstore.StatusPublished,
		msgstore.StatusRejected, msgstore.StatusPublished, msgstore.StatusDeleted,
		msgstore.StatusPending, msgstore.StatusPublished,
	}
	for i, st := range statuses {
		m := msg("chat", "r1", "alice", i)
		m.Status = st
		_, _, err := s.Append(ctx, m)
		require.NoError(t, err)
	}
	tests := []struct {
		name string
		q    msgstore.Query
		want []int64
	}{
		{"published", msgstore.Query{Statuses: []string{msgstore.StatusPublished}}, []int64{1, 3, 5, 8}},
		{"pending or rejected", msgstore.Query{Statuses: []string{msgstore.StatusPending, msgstore.StatusRejected}}, []int64{2, 4, 7}},
		{"deleted", msgstore.Query{Statuses: []string{msgstore.StatusDeleted}}, []int64{6}},
		{"all", msgstore.Query{}, seqRange(1, 8)},
		{"newest 2 published", msgstore.Query{Limit: 2, Statuses: []string{msgstore.StatusPublished}}, []int64{5, 8}},
		{"after 1 limit 2 published", msgstore.Query{AfterSeq: 1, Limit: 2, Statuses: []string{msgstore.StatusPublished}}, []int64{3, 5}},
		{"before 5 limit 1 published", msgstore.Query{BeforeSeq: 5, Limit: 1, Statuses: []string{msgstore.StatusPublished}}, []int64{3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.List(ctx, "chat", "r1", tc.q)
			require.NoError(t, err)
			require.Equal(t, tc.want, seqs(got))
		})
	}
}

func testGet(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	m := appendN(t, s, "chat", "r1", 3)[1]
	tests := []struct {
		name    string
		hub, id string
		want    *msgstore.Message
	}{
		{"found", "chat", m.ID, m},
		{"unknown id", "chat", "0193a1d2-0000-7000-8000-00000000dead", nil},
		{"empty id", "chat", "", nil},
		{"other hub", "games", m.ID, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Get(ctx, tc.hub, tc.id)
			if tc.want == nil {
				require.ErrorIs(t, err, msgstore.ErrNotFound)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func testUpdate(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	errAbort := errors.New("not your message")
	editedAt := time.Date(2026, 11, 28, 0, 1, 2, 345678000, time.UTC)
	tests := []struct {
		name    string
		fn      func(m *msgstore.Message) error
		wantErr error
		check   func(t *testing.T, orig, got *msgstore.Message)
	}{
		{
			name: "edit content",
			fn: func(m *msgstore.Message) error {
				m.Content = json.RawMessage(`{"text": "edited"}`)
				m.EditedAt = &editedAt
				return nil
			},
			check: func(t *testing.T, orig, got *msgstore.Message) {
				require.JSONEq(t, `{"text":"edited"}`, string(got.Content))
				require.NotNil(t, got.EditedAt)
				require.Equal(t, editedAt.Truncate(time.Millisecond), *got.EditedAt)
				require.Equal(t, orig.Seq, got.Seq)
				require.Equal(t, orig.Timestamp, got.Timestamp)
			},
		},
		{
			name: "soft delete",
			fn: func(m *msgstore.Message) error {
				m.Status = msgstore.StatusDeleted
				return nil
			},
			check: func(t *testing.T, _, got *msgstore.Message) {
				require.Equal(t, msgstore.StatusDeleted, got.Status)
			},
		},
		{
			name: "reaction",
			fn: func(m *msgstore.Message) error {
				m.Reaction = json.RawMessage(`[{"emoji":"👍","userId":"bob","timestamp":"2026-11-28T00:00:00.000Z"}]`)
				return nil
			},
			check: func(t *testing.T, _, got *msgstore.Message) {
				require.JSONEq(t, `[{"emoji":"👍","userId":"bob","timestamp":"2026-11-28T00:00:00.000Z"}]`, string(got.Reaction))
			},
		},
		{
			name: "abort leaves it unchanged",
			fn: func(m *msgstore.Message) error {
				m.Content = json.RawMessage(`{"text":"should not stick"}`)
				return errAbort
			},
			wantErr: errAbort,
		},
		{
			name: "changing seq is refused",
			fn: func(m *msgstore.Message) error {
				m.Seq = 99
				return nil
			},
			wantErr: msgstore.ErrInvalid,
		},
		{
			name: "changing room is refused",
			fn: func(m *msgstore.Message) error {
				m.RoomID = "elsewhere"
				return nil
			},
			wantErr: msgstore.ErrInvalid,
		},
		{
			name: "unknown status is refused",
			fn: func(m *msgstore.Message) error {
				m.Status = "hidden"
				return nil
			},
			wantErr: msgstore.ErrInvalid,
		},
		{
			name: "panic is an error",
			fn: func(m *msgstore.Message) error {
				m.Status = msgstore.StatusDeleted
				panic("boom")
			},
			wantErr: errAny,
		},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			room := fmt.Sprintf("r%d", i)
			orig := appendN(t, s, "chat", room, 1)[0]
			got, err := s.Update(ctx, "chat", orig.ID, tc.fn)
			stored, gerr := s.Get(ctx, "chat", orig.ID)
			require.NoError(t, gerr)
			if tc.wantErr != nil {
				require.Error(t, err)
				if tc.wantErr != errAny {
					require.ErrorIs(t, err, tc.wantErr)
				}
				require.Nil(t, got)
				require.Equal(t, orig, stored, "a failed update changes nothing")
				return
			}
			require.NoError(t, err)
			require.NotSame(t, orig, got)
			tc.check(t, orig, got)
			require.Equal(t, got, stored, "Update returns what Get returns")
			list, err := s.List(ctx, "chat", room, msgstore.Query{})
			require.NoError(t, err)
			require.Equal(t, []*msgstore.Message{got}, list)
		})
	}

	t.Run("approve a pending message", func(t *testing.T) {
		m := msg("chat", "moderated", "alice", 1)
		m.Status = msgstore.StatusPending
		orig, _, err := s.Append(ctx, m)
		require.NoError(t, err)
		got, err := s.Update(ctx, "chat", orig.ID, func(m *msgstore.Message) error {
			m.Status = msgstore.StatusPublished
			return nil
		})
		require.NoError(t, err)
		require.Equal(t, msgstore.StatusPublished, got.Status)
		published, err := s.List(ctx, "chat", "moderated", msgstore.Query{Statuses: []string{msgstore.StatusPublished}})
		require.NoError(t, err)
		require.Equal(t, []*msgstore.Message{got}, published)
	})

	t.Run("unknown id", func(t *testing.T) {
		called := false
		_, err := s.Update(ctx, "chat", "0193a1d2-0000-7000-8000-00000000dead", func(m *msgstore.Message) error {
			called = true
			return nil
		})
		require.ErrorIs(t, err, msgstore.ErrNotFound)
		require.False(t, called)
	})

	t.Run("concurrent updates are serialized", func(t *testing.T) {
		orig := appendN(t, s, "chat", "counter", 1)[0]
		const n = 20
		var wg sync.WaitGroup
		for range n {
			wg.Go(func() {
				_, err := s.Update(ctx, "chat", orig.ID, func(m *msgstore.Message) error {
					var c struct{ N int }
					if err := json.Unmarshal(m.Reaction, &c); err != nil && len(m.Reaction) > 0 {
						return err
					}
					c.N++
					m.Reaction = json.RawMessage(fmt.Sprintf(`{"N":%d}`, c.N))
					return nil
				})
				assert(t, err)
			})
		}
		wg.Wait()
		got, err := s.Get(ctx, "chat", orig.ID)
		require.NoError(t, err)
		require.JSONEq(t, fmt.Sprintf(`{"N":%d}`, n), string(got.Reaction), "no lost update")
	})
}

// errAny marks a case where any error will do.
var errAny = errors.New("any error")

// assert reports err from a goroutine that is not the test's.
func assert(t *testing.T, err error) {
	if err != nil {
		t.Errorf("unexpected error: %v", err)
	}
}

func testReadMarks(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	t1 := time.Date(2026, 11, 27, 23, 59, 1, 123456789, time.UTC)
	t2 := t1.Add(time.Minute)

	// marks keep milliseconds, the precision of message timestamps
	w1, w2 := t1.Truncate(time.Millisecond), t2.Truncate(time.Millisecond)

	got, err := s.ReadMark(ctx, "chat", "r1", "alice")
	require.NoError(t, err)
	require.True(t, got.IsZero(), "no mark yet")

	require.NoError(t, s.SetReadMark(ctx, "chat", "r1", "alice", t1))
	require.NoError(t, s.SetReadMark(ctx, "chat", "r1", "bob", t2))
	require.NoError(t, s.SetReadMark(ctx, "chat", "r2", "alice", t2))
	require.NoError(t, s.SetReadMark(ctx, "games", "r1", "alice", t2))

	tests := []struct {
		hub, room, user string
		want            time.Time
	}{
		{"chat", "r1", "alice", w1},
		{"chat", "r1", "bob", w2},
		{"chat", "r2", "alice", w2},
		{"games", "r1", "alice", w2},
		{"games", "r1", "bob", time.Time{}},
		{"chat", "r1a", "lice", time.Time{}},
	}
	for _, tc := range tests {
		got, err := s.ReadMark(ctx, tc.hub, tc.room, tc.user)
		require.NoError(t, err)
		require.True(t, tc.want.Equal(got), "%s/%s/%s: got %s want %s", tc.hub, tc.room, tc.user, got, tc.want)
	}

	require.NoError(t, s.SetReadMark(ctx, "chat", "r1", "alice", t2.In(time.FixedZone("X", 7200))))
	got, err = s.ReadMark(ctx, "chat", "r1", "alice")
	require.NoError(t, err)
	require.True(t, w2.Equal(got), "overwritten: got %s", got)
	require.Equal(t, time.UTC, got.Location())

	require.NoError(t, s.SetReadMark(ctx, "chat", "r1", "alice", time.Time{}))
	got, err = s.ReadMark(ctx, "chat", "r1", "alice")
	require.NoError(t, err)
	require.True(t, got.IsZero(), "cleared")
}

var wireTime = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func testJSONRoundTrip(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	fwd := false
	in := msg("chat", "r1", "alice", 1)
	in.Timestamp = time.Date(2026, 11, 27, 23, 59, 1, 0, time.UTC)
	in.ClientMessageID = "c1"
	in.Forwarded = &fwd
	in.ReplyTo = json.RawMessage(`{"id":"m0","preview":"hi"}`)
	stored, _, err := s.Append(ctx, in)
	require.NoError(t, err)
	editedAt := time.Date(2026, 11, 28, 0, 0, 0, 5_000_000, time.UTC)
	stored, err = s.Update(ctx, "chat", stored.ID, func(m *msgstore.Message) error {
		m.EditedAt = &editedAt
		m.Change = &msgstore.Change{Kind: msgstore.ChangeEdited, By: "alice", At: editedAt.Add(999)}
		return nil
	})
	require.NoError(t, err)

	raw, err := json.Marshal(stored)
	require.NoError(t, err)
	var fields map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &fields))
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	require.Equal(t, []string{
		"change", "clientMessageId", "content", "editedAt", "forwarded", "id", "messageType",
		"replyTo", "rev", "roomId", "senderId", "seq", "status", "timestamp",
	}, keys)
	require.JSONEq(t, `1`, string(fields["rev"]))
	require.JSONEq(t, `{"kind":"edited","by":"alice","at":"2026-11-28T00:00:00.005Z"}`, string(fields["change"]))
	require.JSONEq(t, `"2026-11-27T23:59:01.000Z"`, string(fields["timestamp"]))
	require.JSONEq(t, `"2026-11-28T00:00:00.005Z"`, string(fields["editedAt"]))
	require.JSONEq(t, `false`, string(fields["forwarded"]))
	require.JSONEq(t, `1`, string(fields["seq"]))

	var back msgstore.Message
	require.NoError(t, json.Unmarshal(raw, &back))
	require.Empty(t, back.HubName, "hub name is not on the wire")
	back.HubName = stored.HubName
	require.Equal(t, stored, &back)

	plain, _, err := s.Append(ctx, msg("chat", "r1", "bob", 2))
	require.NoError(t, err)
	raw, err = json.Marshal(plain)
	require.NoError(t, err)
	fields = nil
	require.NoError(t, json.Unmarshal(raw, &fields))
	for _, k := range []string{"replyTo", "reaction", "forwarded", "clientMessageId", "editedAt", "hubName", "HubName"} {
		require.NotContains(t, fields, k)
	}
	var ts string
	require.NoError(t, json.Unmarshal(fields["timestamp"], &ts))
	require.Regexp(t, wireTime, ts)
}

func testClosed(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	m := appendN(t, s, "chat", "r1", 1)[0]
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "closing twice is harmless")

	_, _, err := s.Append(ctx, msg("chat", "r1", "alice", 2))
	require.ErrorIs(t, err, msgstore.ErrClosed)
	_, err = s.Get(ctx, "chat", m.ID)
	require.ErrorIs(t, err, msgstore.ErrClosed)
	_, err = s.List(ctx, "chat", "r1", msgstore.Query{})
	require.ErrorIs(t, err, msgstore.ErrClosed)
	_, err = s.Update(ctx, "chat", m.ID, func(*msgstore.Message) error { return nil })
	require.ErrorIs(t, err, msgstore.ErrClosed)
	require.ErrorIs(t, s.SetReadMark(ctx, "chat", "r1", "alice", time.Now()), msgstore.ErrClosed)
	_, err = s.ReadMark(ctx, "chat", "r1", "alice")
	require.ErrorIs(t, err, msgstore.ErrClosed)
	_, err = s.ReadMarks(ctx, "chat", "r1")
	require.ErrorIs(t, err, msgstore.ErrClosed)
	_, err = s.CountUnread(ctx, "chat", "r1", "alice")
	require.ErrorIs(t, err, msgstore.ErrClosed)
	require.ErrorIs(t, s.SetDelivered(ctx, "chat", "r1", "bob", m.ID, time.Now()), msgstore.ErrClosed)
	_, err = s.Delivered(ctx, "chat", m.ID)
	require.ErrorIs(t, err, msgstore.ErrClosed)
	require.ErrorIs(t, s.SetModeration(ctx, &msgstore.Moderation{HubName: "chat", RoomID: "r1", UserID: "bob"}), msgstore.ErrClosed)
	_, err = s.GetModeration(ctx, "chat", "r1", "bob")
	require.ErrorIs(t, err, msgstore.ErrClosed)
	_, err = s.ListModeration(ctx, "chat", "r1")
	require.ErrorIs(t, err, msgstore.ErrClosed)
	require.ErrorIs(t, s.SetRoomSettings(ctx, "chat", "r1", json.RawMessage(`{}`)), msgstore.ErrClosed)
	_, err = s.RoomSettings(ctx, "chat", "r1")
	require.ErrorIs(t, err, msgstore.ErrClosed)
}
