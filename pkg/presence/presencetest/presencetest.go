// Package presencetest is the conformance suite every presence.Registry
// passes.
package presencetest

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/presence"
)

// Cluster is two nodes of one registry, on fresh state.
type Cluster struct {
	A, B presence.Registry
	// Kill makes node B dead, as a node that crashed and whose heartbeat
	// went stale: its records stop counting.
	Kill func()
}

// Run runs the suite; newCluster is called once per subtest.
func Run(t *testing.T, newCluster func(t *testing.T) Cluster) {
	ctx := context.Background()
	const hub = "chat"
	users := func(t *testing.T, r presence.Registry, room string) []presence.Entry {
		t.Helper()
		got, err := r.Room(ctx, hub, room)
		require.NoError(t, err)
		return got
	}
	online := func(id string, sockets int) presence.Entry {
		return presence.Entry{UserID: id, Status: presence.StatusOnline, Sockets: sockets}
	}

	t.Run("members of both nodes are listed from either", func(t *testing.T) {
		c := newCluster(t)
		_, err := c.A.Join(ctx, hub, "r1", "u1", presence.Limits{})
		require.NoError(t, err)
		_, err = c.B.Join(ctx, hub, "r1", "u2", presence.Limits{})
		require.NoError(t, err)
		want := []presence.Entry{online("u1", 1), online("u2", 1)}
		require.Equal(t, want, users(t, c.A, "r1"))
		require.Equal(t, want, users(t, c.B, "r1"))
		require.Empty(t, users(t, c.A, "r2"))
	})

	t.Run("a user on both nodes is one member; elsewhere tells", func(t *testing.T) {
		c := newCluster(t)
		elsewhere, err := c.A.Join(ctx, hub, "r1", "u1", presence.Limits{})
		require.NoError(t, err)
		require.False(t, elsewhere)
		elsewhere, err = c.B.Join(ctx, hub, "r1", "u1", presence.Limits{})
		require.NoError(t, err)
		require.True(t, elsewhere, "already in the room through A")
		require.Equal(t, []presence.Entry{online("u1", 2)}, users(t, c.B, "r1"))
		elsewhere, err = c.A.Leave(ctx, hub, "r1", "u1")
		require.NoError(t, err)
		require.True(t, elsewhere, "still in the room through B")
		require.Equal(t, []presence.Entry{online("u1", 1)}, users(t, c.A, "r1"))
		elsewhere, err = c.B.Leave(ctx, hub, "r1", "u1")
		require.NoError(t, err)
		require.False(t, elsewhere)
		require.Empty(t, users(t, c.A, "r1"))
	})

	t.Run("maxUsers counts distinct users over the nodes", func(t *testing.T) {
		c := newCluster(t)
		lim := presence.Limits{MaxUsers: 2}
		_, err := c.A.Join(ctx, hub, "r1", "u1", lim)
		require.NoError(t, err)
		_, err = c.B.Join(ctx, hub, "r1", "u2", lim)
		require.NoError(t, err)
		_, err = c.A.Join(ctx, hub, "r1", "u3", lim)
		require.ErrorIs(t, err, presence.ErrRoomFull)
		_, err = c.B.Join(ctx, hub, "r1", "u1", lim)
		require.NoError(t, err, "a member joining through another node takes no new place")
		require.Len(t, users(t, c.A, "r1"), 2, "the refused user left no record")
		_, err = c.B.Leave(ctx, hub, "r1", "u2")
		require.NoError(t, err)
		_, err = c.A.Join(ctx, hub, "r1", "u3", lim)
		require.NoError(t, err, "a place was freed on the other node")
	})

	t.Run("maxRooms counts the user's rooms over the nodes", func(t *testing.T) {
		c := newCluster(t)
		lim := presence.Limits{MaxRooms: 1}
		_, err := c.A.Join(ctx, hub, "r1", "u1", lim)
		require.NoError(t, err)
		_, err = c.B.Join(ctx, hub, "r2", "u1", lim)
		require.ErrorIs(t, err, presence.ErrTooManyRooms)
		_, err = c.B.Join(ctx, hub, "r1", "u1", lim)
		require.NoError(t, err, "the same room again is not another room")
		_, err = c.A.Join(ctx, "other", "r2", "u1", lim)
		require.NoError(t, err, "rooms of another hub do not count")
	})

	t.Run("status and sockets are merged: online wins, sockets add up", func(t *testing.T) {
		c := newCluster(t)
		_, err := c.A.Join(ctx, hub, "r1", "u1", presence.Limits{})
		require.NoError(t, err)
		require.NoError(t, c.A.Set(ctx, hub, "r1", presence.Entry{UserID: "u1", Status: presence.StatusAway, Sockets: 3}))
		require.Equal(t, []presence.Entry{{UserID: "u1", Status: presence.StatusAway, Sockets: 3}}, users(t, c.B, "r1"))
		_, err = c.B.Join(ctx, hub, "r1", "u1", presence.Limits{})
		require.NoError(t, err)
		require.Equal(t, []presence.Entry{online("u1", 4)}, users(t, c.A, "r1"))
		// Set does not create a record that is not there.
		require.NoError(t, c.A.Set(ctx, hub, "r1", presence.Entry{UserID: "ghost", Status: presence.StatusOnline, Sockets: 1}))
		require.Equal(t, []presence.Entry{online("u1", 4)}, users(t, c.A, "r1"))
	})

	t.Run("status of one user: online wins, absent is empty", func(t *testing.T) {
		c := newCluster(t)
		status := func(r presence.Registry, user string) string {
			t.Helper()
			st, err := r.Status(ctx, hub, "r1", user)
			require.NoError(t, err)
			return st
		}
		require.Empty(t, status(c.A, "u1"))
		_, err := c.A.Join(ctx, hub, "r1", "u1", presence.Limits{})
		require.NoError(t, err)
		require.NoError(t, c.A.Set(ctx, hub, "r1", presence.Entry{UserID: "u1", Status: presence.StatusAway, Sockets: 1}))
		require.Equal(t, presence.StatusAway, status(c.B, "u1"))
		_, err = c.B.Join(ctx, hub, "r1", "u1", presence.Limits{})
		require.NoError(t, err)
		require.Equal(t, presence.StatusOnline, status(c.A, "u1"), "online through B")
		require.Empty(t, status(c.A, "u2"))
		_, err = c.B.Leave(ctx, hub, "r1", "u1")
		require.NoError(t, err)
		require.Equal(t, presence.StatusAway, status(c.B, "u1"))
		_, err = c.A.Join(ctx, hub, "r2", "u1", presence.Limits{})
		require.NoError(t, err)
		_, err = c.A.Leave(ctx, hub, "r1", "u1")
		require.NoError(t, err)
		require.Empty(t, status(c.B, "u1"), "left r1; being in r2 does not count")
	})

	t.Run("the records of a dead node stop counting", func(t *testing.T) {
		c := newCluster(t)
		lim := presence.Limits{MaxUsers: 1}
		_, err := c.B.Join(ctx, hub, "r1", "u2", lim)
		require.NoError(t, err)
		_, err = c.A.Join(ctx, hub, "r1", "u1", lim)
		require.ErrorIs(t, err, presence.ErrRoomFull)
		c.Kill()
		require.Empty(t, users(t, c.A, "r1"))
		elsewhere, err := c.A.Join(ctx, hub, "r1", "u2", lim)
		require.NoError(t, err)
		require.False(t, elsewhere, "u2's record on the dead node does not count")
	})

	t.Run("hubs and rooms are separate", func(t *testing.T) {
		c := newCluster(t)
		_, err := c.A.Join(ctx, hub, "r1", "u1", presence.Limits{})
		require.NoError(t, err)
		_, err = c.A.Join(ctx, "other", "r1", "u2", presence.Limits{})
		require.NoError(t, err)
		require.Equal(t, []presence.Entry{online("u1", 1)}, users(t, c.B, "r1"))
		got, err := c.B.Room(ctx, "other", "r1")
		require.NoError(t, err)
		require.Equal(t, []presence.Entry{online("u2", 1)}, got)
	})

	t.Run("a cancelled context is an error", func(t *testing.T) {
		c := newCluster(t)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := c.A.Join(cctx, hub, "r1", "u1", presence.Limits{})
		require.Error(t, err)
		_, err = c.A.Room(cctx, hub, "r1")
		require.Error(t, err)
		require.Empty(t, users(t, c.A, "r1"))
	})
}
