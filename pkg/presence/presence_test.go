package presence_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"
	"github.com/hubd/hubd/pkg/presence"
	"github.com/hubd/hubd/pkg/presence/presencetest"
)

func TestLocal(t *testing.T) {
	presencetest.Run(t, func(t *testing.T) presencetest.Cluster {
		a := presence.NewLocal()
		b := a.Peer()
		return presencetest.Cluster{A: a, B: b, Kill: b.Stop}
	})
}

func randomID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func TestRedis(t *testing.T) {
	client := testenv.Redis(t, rueidis.ClientOption{})
	presencetest.Run(t, func(t *testing.T) presencetest.Cluster {
		prefix := "test:presence:" + randomID() + ":"
		mk := func(node string) *presence.Redis {
			r, err := presence.NewRedis(context.Background(), presence.RedisOptions{
				Client: client, Prefix: prefix, Node: node, Heartbeat: time.Minute,
			})
			require.NoError(t, err)
			t.Cleanup(func() { _ = r.Close() })
			return r
		}
		a, bNode := mk("a-"+randomID()), "b-"+randomID()
		b := mk(bNode)
		kill := func() {
			// A heartbeat older than the staleness limit, as if B stopped
			// long ago; its heartbeat loop does not run again in the test.
			ctx := context.Background()
			require.NoError(t, client.Do(ctx, client.B().Zadd().Key(prefix+"nodes").ScoreMember().ScoreMember(0, bNode).Build()).Error())
		}
		return presencetest.Cluster{A: a, B: b, Kill: kill}
	})
}

func TestRedisCloseRemovesTheNode(t *testing.T) {
	client := testenv.Redis(t, rueidis.ClientOption{})
	prefix := "test:presence:" + randomID() + ":"
	ctx := context.Background()
	a, err := presence.NewRedis(ctx, presence.RedisOptions{Client: client, Prefix: prefix, Node: "a"})
	require.NoError(t, err)
	b, err := presence.NewRedis(ctx, presence.RedisOptions{Client: client, Prefix: prefix, Node: "b"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = b.Close() })
	_, err = a.Join(ctx, "chat", "r1", "u1", presence.Limits{})
	require.NoError(t, err)
	require.NoError(t, a.Close())
	got, err := b.Room(ctx, "chat", "r1")
	require.NoError(t, err)
	require.Empty(t, got, "a node that shut down no longer counts")
}
