package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
)

func testGetByClientID(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	first := msg("chat", "r1", "alice", 1)
	first.ClientMessageID = "c1"
	orig, created, err := s.Append(ctx, first)
	require.NoError(t, err)
	require.True(t, created)
	appendN(t, s, "chat", "r1", 2) // messages without a client id

	tests := []struct {
		name              string
		hub, sender, cmid string
		want              *msgstore.Message
	}{
		{"found", "chat", "alice", "c1", orig},
		{"other sender", "chat", "bob", "c1", nil},
		{"other client id", "chat", "alice", "c2", nil},
		{"other hub", "games", "alice", "c1", nil},
		{"unknown hub", "nohub", "alice", "c1", nil},
		{"empty client id", "chat", "alice", "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.GetByClientID(ctx, tc.hub, tc.sender, tc.cmid)
			if tc.want == nil {
				require.ErrorIs(t, err, msgstore.ErrNotFound)
				require.Nil(t, got)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}

	// It returns the message as it is now, like a repeated Append.
	edited, err := s.Update(ctx, "chat", orig.ID, func(m *msgstore.Message) error {
		m.Content = json.RawMessage(`{"text":"edited"}`)
		return nil
	})
	require.NoError(t, err)
	got, err := s.GetByClientID(ctx, "chat", "alice", "c1")
	require.NoError(t, err)
	require.Equal(t, edited, got)
	again, created, err := s.Append(ctx, first)
	require.NoError(t, err)
	require.False(t, created)
	require.Equal(t, again, got)

	require.NoError(t, s.Close())
	_, err = s.GetByClientID(ctx, "chat", "alice", "c1")
	require.ErrorIs(t, err, msgstore.ErrClosed)
}
