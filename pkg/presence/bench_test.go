package presence_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"
	"github.com/hubd/hubd/pkg/presence"
)

// BenchmarkRedisJoinLeave: one join and one leave of a new member in a room
// that already holds `members` users, with and without maxUsersPerRoom (a
// limit makes the join read the room's records).
//
//	HUBD_TEST_REDIS_ADDR=127.0.0.1:56379 go test -run '^$' -bench RedisJoinLeave ./pkg/presence
func BenchmarkRedisJoinLeave(b *testing.B) {
	client := testenv.Redis(b, rueidis.ClientOption{})
	ctx := context.Background()
	for _, members := range []int{10, 1000, 10000} {
		for _, limited := range []bool{false, true} {
			b.Run(fmt.Sprintf("members=%d/limit=%v", members, limited), func(b *testing.B) {
				r, err := presence.NewRedis(ctx, presence.RedisOptions{Client: client, Prefix: "bench:presence:" + randomID() + ":", Node: "n1"})
				require.NoError(b, err)
				defer r.Close()
				for i := range members {
					_, err := r.Join(ctx, "chat", "big", fmt.Sprintf("u%d", i), presence.Limits{})
					require.NoError(b, err)
				}
				lim := presence.Limits{}
				if limited {
					lim.MaxUsers = members + 10
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := r.Join(ctx, "chat", "big", "newcomer", lim); err != nil {
						b.Fatal(err)
					}
					if _, err := r.Leave(ctx, "chat", "big", "newcomer"); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
