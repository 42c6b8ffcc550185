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
