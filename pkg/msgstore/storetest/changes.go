package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
)

// change returns an update function that edits m's content and records
// the change kind by user.
func change(kind, by string) func(m *msgstore.Message) error {
	return func(m *msgstore.Message) error {
		m.Content = json.RawMessage(fmt.Sprintf(`{"text":"%s by %s"}`, kind, by))
		m.Change = &msgstore.Change{Kind: kind, By: by}
		return nil
	}
}

// update applies fn to the message and returns the new copy.
func update(t *testing.T, s msgstore.Store, m *msgstore.Message, fn func(m *msgstore.Message) error) *msgstore.Message {
	t.Helper()
	got, err := s.Update(context.Background(), m.HubName, m.ID, fn)
	require.NoError(t, err)
	return got
}

// testChangeNumbers: a room's changes are numbered 1, 2, 3, ... across its
// messages; rooms and hubs count on their own; the change is kept.
func testChangeNumbers(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	in := msg("chat", "numbered", "alice", 0)
	in.Rev, in.Change = 7, &msgstore.Change{Kind: msgstore.ChangeEdited}
	first, _, err := s.Append(ctx, in)
	require.NoError(t, err)
	require.Zero(t, first.Rev, "append ignores Rev")
	require.Nil(t, first.Change, "append ignores Change")
	ms := append([]*msgstore.Message{first}, appendN(t, s, "chat", "numbered", 2)...)

	var got []int64
	for _, i := range []int{1, 0, 1, 2} {
		got = append(got, update(t, s, ms[i], change(msgstore.ChangeEdited, "alice")).Rev)
	}
	require.Equal(t, []int64{1, 2, 3, 4}, got)
	require.Equal(t, int64(1), update(t, s, appendN(t, s, "chat", "other room", 1)[0], change(msgstore.ChangeDeleted, "bob")).Rev)
	require.Equal(t, int64(1), update(t, s, appendN(t, s, "games", "numbered", 1)[0], change(msgstore.ChangeDeleted, "bob")).Rev)

	at := time.Date(2026, 11, 28, 0, 0, 0, 123456789, time.UTC)
	reacted := update(t, s, ms[0], func(m *msgstore.Message) error {
		m.Reaction = json.RawMessage(`[{"emoji":"👍","userId":"carol","timestamp":"2026-11-28T00:00:00.000Z"}]`)
		m.Change = &msgstore.Change{Kind: msgstore.ChangeReaction, By: "carol", At: at, Emoji: "👍", Reason: "a reason", ApprovedRev: 2, EditedRev: 3, Was: msgstore.StatusPending}
		return nil
	})
	require.Equal(t, int64(5), reacted.Rev)
	require.Equal(t, &msgstore.Change{Kind: msgstore.ChangeReaction, By: "carol", At: at.Truncate(time.Millisecond), Emoji: "👍", Reason: "a reason", ApprovedRev: 2, EditedRev: 3, Was: msgstore.StatusPending},
		reacted.Change, "every field of the change, its time in milliseconds")
	kept := update(t, s, ms[0], func(m *msgstore.Message) error {
		m.Status = msgstore.StatusDeleted
		return nil
	})
	require.Equal(t, int64(6), kept.Rev)
	require.Equal(t, reacted.Change, kept.Change, "a change fn leaves alone is kept as it was")

	stored, err := s.Get(ctx, "chat", kept.ID)
	require.NoError(t, err)
	require.Equal(t, kept, stored, "Get returns Rev and Change")
	bySeq, err := s.List(ctx, "chat", "numbered", msgstore.Query{})
	require.NoError(t, err)
	require.Equal(t, []int64{6, 3, 4}, revs(bySeq), "a seq query returns Rev")
	untouched := appendN(t, s, "chat", "numbered", 1)[0]
	stored, err = s.Get(ctx, "chat", untouched.ID)
	require.NoError(t, err)
	require.Zero(t, stored.Rev)
	require.Nil(t, stored.Change)
}

// testChangeAborted: an update that fails assigns no number.
func testChangeAborted(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	m := appendN(t, s, "chat", "aborted", 1)[0]
	require.Equal(t, int64(1), update(t, s, m, change(msgstore.ChangeEdited, "alice")).Rev)
	errAbort := errors.New("refused")
	failing := []struct {
		name string
		id   string
		fn   func(m *msgstore.Message) error
		want error
	}{
		{"fn error", m.ID, func(m *msgstore.Message) error { m.Status = msgstore.StatusDeleted; return errAbort }, errAbort},
		{"fn sets rev", m.ID, func(m *msgstore.Message) error { m.Rev = 9; return nil }, msgstore.ErrInvalid},
		{"change without kind", m.ID, func(m *msgstore.Message) error { m.Change = &msgstore.Change{By: "x"}; return nil }, msgstore.ErrInvalid},
		{"unknown id", "0193a1d2-0000-7000-8000-00000000beef", change(msgstore.ChangeEdited, "alice"), msgstore.ErrNotFound},
	}
	for _, tc := range failing {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Update(ctx, "chat", tc.id, tc.fn)
			require.ErrorIs(t, err, tc.want)
		})
	}
	require.Equal(t, int64(2), update(t, s, m, change(msgstore.ChangeEdited, "alice")).Rev, "no number was used")
}

// testChangeConcurrent: concurrent updates of one room's messages get the
// numbers 1..n once each.
func testChangeConcurrent(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	const writers, each = 8, 25
	ms := appendN(t, s, "chat", "busy", writers)
	var (
		mu  sync.Mutex
		got []int64
		wg  sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				// two writers per message: updates of one message contend too
				m, err := s.Update(ctx, "chat", ms[(w+i%2)%writers].ID, change(msgstore.ChangeEdited, fmt.Sprint(w)))
				assert(t, err)
				if err == nil {
					mu.Lock()
					got = append(got, m.Rev)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(got)
	require.Equal(t, seqRange(1, writers*each), got)
	last, err := s.List(ctx, "chat", "busy", msgstore.Query{Changes: true, Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []int64{writers * each}, revs(last))
	all, err := s.List(ctx, "chat", "busy", msgstore.Query{Changes: true})
	require.NoError(t, err)
	require.Len(t, all, writers, "each message once, at its last change")
	require.True(t, slices.IsSorted(revs(all)))
}

// testChangeList: a query over changes lists the changed messages by Rev,
// bounded and limited as a seq query is by Seq.
func testChangeList(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	ms := appendN(t, s, "chat", "changes", 6)
	secret := msg("chat", "changes", "system", 6)
	secret.Audience = &msgstore.Audience{Users: []string{"bob"}}
	hidden, _, err := s.Append(ctx, secret)
	require.NoError(t, err)
	ms = append(ms, hidden)
	// seq 1..7 changed in this order: revs 1..8, message 2 twice; 6 never
	for i, n := range []int{2, 0, 3, 6, 1, 2, 4, 3} {
		fn := change(msgstore.ChangeEdited, "alice")
		if i == 6 {
			fn = func(m *msgstore.Message) error {
				m.Status, m.Change = msgstore.StatusDeleted, &msgstore.Change{Kind: msgstore.ChangeDeleted, By: "alice"}
				return nil
			}
		}
		ms[n] = update(t, s, ms[n], fn)
	}
	// last changes: seq1@2, seq2@5, seq3@6, seq4@8, seq5@7 (deleted), seq7@4 (bob only)
	tests := []struct {
		name string
		q    msgstore.Query
		want []int64 // revs
	}{
		{"all, oldest change first", msgstore.Query{}, []int64{2, 4, 5, 6, 7, 8}},
		{"limit: the newest", msgstore.Query{Limit: 2}, []int64{7, 8}},
		{"limit 1: the last change", msgstore.Query{Limit: 1}, []int64{8}},
		{"after", msgstore.Query{AfterRev: 4}, []int64{5, 6, 7, 8}},
		{"after with limit: the oldest after", msgstore.Query{AfterRev: 2, Limit: 2}, []int64{4, 5}},
		{"before", msgstore.Query{BeforeRev: 6}, []int64{2, 4, 5}},
		{"before with limit: the newest before", msgstore.Query{BeforeRev: 7, Limit: 2}, []int64{5, 6}},
		{"after and before", msgstore.Query{AfterRev: 2, BeforeRev: 7}, []int64{4, 5, 6}},
		{"after and before with limit", msgstore.Query{AfterRev: 2, BeforeRev: 8, Limit: 2}, []int64{4, 5}},
		{"after the last", msgstore.Query{AfterRev: 8}, nil},
		{"status filter before the limit", msgstore.Query{Statuses: []string{msgstore.StatusPublished}, Limit: 2}, []int64{6, 8}},
		{"deleted only", msgstore.Query{Statuses: []string{msgstore.StatusDeleted}}, []int64{7}},
		{"viewer bob sees his", msgstore.Query{Viewer: "bob", AfterRev: 2, Limit: 1}, []int64{4}},
		{"viewer filter before the limit", msgstore.Query{Viewer: "carol", AfterRev: 2, Limit: 1}, []int64{5}},
		{"viewer carol", msgstore.Query{Viewer: "carol"}, []int64{2, 5, 6, 7, 8}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.Changes = true
			got, err := s.List(ctx, "chat", "changes", q)
			require.NoError(t, err)
			require.Equal(t, tc.want, nilIfEmpty(revs(got)))
			for _, m := range got {
				require.Equal(t, ms[m.Seq-1], m, "the message as its last change left it")
			}
		})
	}
	for _, room := range []string{"no such room", "quiet"} {
		appendN(t, s, "chat", "quiet", 1)
		got, err := s.List(ctx, "chat", room, msgstore.Query{Changes: true, Limit: 1})
		require.NoError(t, err)
		require.Empty(t, got, room)
	}
	got, err := s.List(ctx, "games", "changes", msgstore.Query{Changes: true})
	require.NoError(t, err)
	require.Empty(t, got, "another hub's room of the same name")
}

func nilIfEmpty(v []int64) []int64 {
	if len(v) == 0 {
		return nil
	}
	return v
}

// testChangeQueryInvalid: bounds of the other kind are refused.
func testChangeQueryInvalid(t *testing.T, s msgstore.Store) {
	appendN(t, s, "chat", "r", 1)
	for name, q := range map[string]msgstore.Query{
		"seq bound on changes":       {Changes: true, AfterSeq: 1},
		"before seq on changes":      {Changes: true, BeforeSeq: 1},
		"rev bound without changes":  {AfterRev: 1},
		"before rev without changes": {BeforeRev: 1},
		"negative after rev":         {Changes: true, AfterRev: -1},
		"negative before rev":        {Changes: true, BeforeRev: -1},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := s.List(context.Background(), "chat", "r", q)
			require.ErrorIs(t, err, msgstore.ErrInvalid)
		})
	}
}
