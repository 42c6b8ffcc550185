package presence

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"
)

// TestRedisRewritesRecordsAfterAStaleHeartbeat: a node whose heartbeat went
// stale (Redis unreachable) had its records reaped by another node; its
// next heartbeat finds that out and writes them again. The heartbeats are
// driven by hand (the loop's period is an hour).
func TestRedisRewritesRecordsAfterAStaleHeartbeat(t *testing.T) {
	client := testenv.Redis(t, rueidis.ClientOption{})
	prefix := fmt.Sprintf("test:presence:%d:", time.Now().UnixNano())
	ctx := context.Background()
	mk := func(node string) *Redis {
		r, err := NewRedis(ctx, RedisOptions{Client: client, Prefix: prefix, Node: node, Heartbeat: time.Hour})
		require.NoError(t, err)
		t.Cleanup(func() { _ = r.Close() })
		return r
	}
	a, b := mk("a"), mk("b")
	_, err := a.Join(ctx, "chat", "r1", "u1", Limits{})
	require.NoError(t, err)
	fresh, err := a.beat(ctx)
	require.NoError(t, err)
	require.True(t, fresh, "a heartbeat in time")

	// A looks dead to B, whose next call reaps A's records.
	require.NoError(t, client.Do(ctx, client.B().Zadd().Key(prefix+"nodes").ScoreMember().ScoreMember(0, "a").Build()).Error())
	got, err := b.Room(ctx, "chat", "r1")
	require.NoError(t, err)
	require.Empty(t, got)

	fresh, err = a.beat(ctx)
	require.NoError(t, err)
	require.False(t, fresh, "A learns that its heartbeat had gone stale")
	require.NoError(t, a.rewrite(ctx))
	got, err = b.Room(ctx, "chat", "r1")
	require.NoError(t, err)
	require.Equal(t, []Entry{{UserID: "u1", Status: StatusOnline, Sockets: 1}}, got)
	elsewhere, err := b.Join(ctx, "chat", "r1", "u1", Limits{MaxUsers: 1})
	require.NoError(t, err, "u1 is in the room: no new place taken")
	require.True(t, elsewhere, "u1 is there through A again")
}

// TestRedisResyncReplacesTheNodesRecords: while Redis did not answer, the
// node admitted u2 and let u1 go on its own view (its mirror); Resync makes
// Redis match that view.
func TestRedisResyncReplacesTheNodesRecords(t *testing.T) {
	client := testenv.Redis(t, rueidis.ClientOption{})
	prefix := fmt.Sprintf("test:presence:%d:", time.Now().UnixNano())
	ctx := context.Background()
	a, err := NewRedis(ctx, RedisOptions{Client: client, Prefix: prefix, Node: "a", Heartbeat: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { _ = a.Close() })
	_, err = a.Join(ctx, "chat", "r1", "u1", Limits{})
	require.NoError(t, err)
	// What failed calls leave behind: u1's leave is forgotten locally, u2's
	// join and u3's away are remembered locally; Redis saw none of them.
	a.remember(recordKey{"chat", "r1", "u1"}, "")
	a.remember(recordKey{"chat", "r1", "u2"}, encodeRecord(StatusOnline, 2))
	a.remember(recordKey{"chat", "r2", "u3"}, encodeRecord(StatusAway, 1))

	require.NoError(t, a.Resync(ctx))
	got, err := a.Room(ctx, "chat", "r1")
	require.NoError(t, err)
	require.Equal(t, []Entry{{UserID: "u2", Status: StatusOnline, Sockets: 2}}, got)
	got, err = a.Room(ctx, "chat", "r2")
	require.NoError(t, err)
	require.Equal(t, []Entry{{UserID: "u3", Status: StatusAway, Sockets: 1}}, got)
	// The counts follow: u2 holds the only place of a one-user room.
	_, err = a.Join(ctx, "chat", "r1", "u4", Limits{MaxUsers: 1})
	require.ErrorIs(t, err, ErrRoomFull)
}
