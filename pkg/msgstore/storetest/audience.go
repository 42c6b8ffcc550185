package storetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
)

// testAudience: a message stored for some users is listed (before the
// limit), counted as unread and kept across updates only for them.
func testAudience(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	add := func(n int, a *msgstore.Audience) *msgstore.Message {
		t.Helper()
		m := msg("chat", "aud", "system", n)
		m.Audience = a
		out, _, err := s.Append(ctx, m)
		require.NoError(t, err)
		require.Equal(t, a, out.Audience, "the stored copy keeps its audience")
		return out
	}
	all := add(1, nil)
	onlyBob := add(2, &msgstore.Audience{Users: []string{"bob"}})
	notBob := add(3, &msgstore.Audience{Except: []string{"bob"}})
	bobAndCarol := add(4, &msgstore.Audience{Users: []string{"bob", "carol"}})

	ids := func(q msgstore.Query) []string {
		t.Helper()
		msgs, err := s.List(ctx, "chat", "aud", q)
		require.NoError(t, err)
		var out []string
		for _, m := range msgs {
			out = append(out, m.ID)
		}
		return out
	}
	require.Equal(t, []string{all.ID, onlyBob.ID, notBob.ID, bobAndCarol.ID}, ids(msgstore.Query{}), "no viewer: everything")
	require.Equal(t, []string{all.ID, onlyBob.ID, bobAndCarol.ID}, ids(msgstore.Query{Viewer: "bob"}))
	require.Equal(t, []string{all.ID, notBob.ID, bobAndCarol.ID}, ids(msgstore.Query{Viewer: "carol"}))
	require.Equal(t, []string{all.ID, notBob.ID}, ids(msgstore.Query{Viewer: "dave"}))
	require.Equal(t, []string{notBob.ID, bobAndCarol.ID}, ids(msgstore.Query{Viewer: "carol", Limit: 2}), "filtered before the limit")
	require.Equal(t, []string{onlyBob.ID}, ids(msgstore.Query{Viewer: "bob", AfterSeq: all.Seq, Limit: 1}))

	got, err := s.Get(ctx, "chat", onlyBob.ID)
	require.NoError(t, err)
	require.Equal(t, onlyBob.Audience, got.Audience)

	for user, want := range map[string]int64{"bob": 3, "carol": 3, "dave": 2} {
		n, err := s.CountUnread(ctx, "chat", "aud", user)
		require.NoError(t, err)
		require.Equal(t, want, n, user)
	}

	up, err := s.Update(ctx, "chat", onlyBob.ID, func(m *msgstore.Message) error {
		m.Status = msgstore.StatusDeleted
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, onlyBob.Audience, up.Audience, "an update keeps the audience")
	_, err = s.Update(ctx, "chat", onlyBob.ID, func(m *msgstore.Message) error {
		m.Audience = nil
		return nil
	})
	require.ErrorIs(t, err, msgstore.ErrInvalid, "the audience cannot change")

	bad := msg("chat", "aud", "system", 9)
	bad.Audience = &msgstore.Audience{Users: []string{"a"}, Except: []string{"b"}}
	_, _, err = s.Append(ctx, bad)
	require.ErrorIs(t, err, msgstore.ErrInvalid)
}
