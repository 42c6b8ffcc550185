package resume

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
)

// testStore is the suite every Store passes.
func testStore(t *testing.T, s Store) {
	ctx := context.Background()
	rec := &Record{PID: "p1", SID: "s1", Hub: "chat", UserID: "alice", Owner: "o1",
		Rooms: []Room{{ID: "lobby", HubRole: "member", JoinedAt: 42}}}
	_, err := s.Get(ctx, "chat", "p1")
	require.ErrorIs(t, err, ErrNotFound)

	require.NoError(t, s.Put(ctx, rec, time.Minute))
	got, err := s.Get(ctx, "chat", "p1")
	require.NoError(t, err)
	require.Equal(t, rec, got)
	_, err = s.Get(ctx, "other", "p1")
	require.ErrorIs(t, err, ErrNotFound, "records are per hub")

	rec.DisconnectedAt = time.Now().UTC().Truncate(time.Millisecond)
	require.NoError(t, s.Put(ctx, rec, 50*time.Millisecond))
	got, err = s.Get(ctx, "chat", "p1")
	require.NoError(t, err)
	require.True(t, rec.DisconnectedAt.Equal(got.DisconnectedAt))
	require.Eventually(t, func() bool {
		_, err := s.Get(ctx, "chat", "p1")
		return err == ErrNotFound
	}, 5*time.Second, 10*time.Millisecond, "the record expires")

	require.NoError(t, s.Put(ctx, rec, time.Minute))
	require.NoError(t, s.Delete(ctx, "chat", "p1"))
	require.NoError(t, s.Delete(ctx, "chat", "p1"))
	_, err = s.Get(ctx, "chat", "p1")
	require.ErrorIs(t, err, ErrNotFound)
}

func TestBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	b, err := OpenBolt(path)
	require.NoError(t, err)
	testStore(t, b)
	// Records survive a reopen (a restart).
	require.NoError(t, b.Put(context.Background(), &Record{PID: "p2", Hub: "chat", UserID: "bob"}, time.Minute))
	require.NoError(t, b.Close())
	b, err = OpenBolt(path)
	require.NoError(t, err)
	defer b.Close()
	got, err := b.Get(context.Background(), "chat", "p2")
	require.NoError(t, err)
	require.Equal(t, "bob", got.UserID)
}

func TestRedis(t *testing.T) {
	addr := os.Getenv("HUBD_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("HUBD_TEST_REDIS_ADDR not set")
	}
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	require.NoError(t, err)
	defer c.Close()
	testStore(t, NewRedis(c, "hubd-test-"+t.Name()+":"))
}
