package resume

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/hubd/hubd/internal/testenv"
	"github.com/hubd/hubd/pkg/redisguard"
)

// testStore is the suite every Store passes.
func testStore(t *testing.T, s Store) {
	ctx := context.Background()
	rec := &Record{PID: "p1", SID: "s1", Hub: "chat", UserID: "alice", Owner: "o1", Node: "n1",
		Rooms: []Room{{ID: "lobby", HubRole: "member", JoinedAt: 42, Written: 7}, {ID: "side", Written: 3}},
		Tail:  []Write{{Room: 1, Seq: 3}, {Room: 0, Seq: 7}}, TailRooms: []string{"lobby", "side"}, TailCut: true, Logged: true}
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

	testLiveness(t, s)
}

// testLiveness: a node's stamp is live for its ttl after each beat.
func testLiveness(t *testing.T, s Store) {
	ctx := context.Background()
	alive, err := s.Alive(ctx, "n-never")
	require.NoError(t, err)
	require.False(t, alive, "a node that never stamped")
	require.NoError(t, s.Beat(ctx, "n1", time.Minute))
	alive, err = s.Alive(ctx, "n1")
	require.NoError(t, err)
	require.True(t, alive)
	require.NoError(t, s.Beat(ctx, "n1", 100*time.Millisecond))
	require.Eventually(t, func() bool {
		alive, err := s.Alive(ctx, "n1")
		return err == nil && !alive
	}, 5*time.Second, 10*time.Millisecond, "the stamp lapses")
}

// A node that stops beating is not alive once window + one beat interval
// passed since its last stamp; a beating one stays alive.
func testLivenessRun(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(context.Background())
	l := &Liveness{Store: s, Node: "n-run", Window: 300 * time.Millisecond}
	require.Equal(t, 100*time.Millisecond, BeatInterval(l.Window))
	done := make(chan error, 1)
	go func() { done <- l.Run(ctx) }()
	require.Eventually(t, func() bool { ok, _ := s.Alive(ctx, "n-run"); return ok }, 5*time.Second, 10*time.Millisecond)
	// Alive across several windows while it beats.
	deadline := time.Now().Add(3 * l.TTL())
	for time.Now().Before(deadline) {
		ok, err := s.Alive(ctx, "n-run")
		require.NoError(t, err)
		require.True(t, ok, "a beating node stays alive")
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	require.NoError(t, <-done)
	stopped := time.Now()
	require.Eventually(t, func() bool { ok, _ := s.Alive(context.Background(), "n-run"); return !ok },
		5*time.Second, 10*time.Millisecond)
	require.LessOrEqual(t, time.Since(stopped), l.TTL()+time.Second, "not alive once window + one beat passed")
}

func TestBolt(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	b, err := OpenBolt(path)
	require.NoError(t, err)
	testStore(t, b)
	testLivenessRun(t, b)
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

// Records written by an earlier version (a JSON entry holding the expiry)
// are still read and swept after an upgrade, and writes of many sockets
// at once (a crowd joining, a node shutting down) all land.
func TestBoltOlderLayoutAndConcurrentWrites(t *testing.T) {
	b, err := OpenBolt(filepath.Join(t.TempDir(), "sessions.db"))
	require.NoError(t, err)
	defer b.Close()
	ctx := context.Background()
	put := func(pid string, exp time.Time) {
		v, err := json.Marshal(boltEntry{Record: &Record{PID: pid, Hub: "chat", UserID: "old"}, ExpiresAt: exp})
		require.NoError(t, err)
		require.NoError(t, b.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put([]byte(key("chat", pid)), v) }))
	}
	put("live", time.Now().Add(time.Minute))
	put("dead", time.Now().Add(-time.Minute))
	got, err := b.Get(ctx, "chat", "live")
	require.NoError(t, err)
	require.Equal(t, "old", got.UserID)
	_, err = b.Get(ctx, "chat", "dead")
	require.ErrorIs(t, err, ErrNotFound)

	var wg sync.WaitGroup
	for i := range sweepEvery {
		wg.Go(func() {
			assert.NoError(t, b.Put(ctx, &Record{PID: fmt.Sprint("p", i), Hub: "chat", UserID: "new"}, time.Minute))
		})
	}
	wg.Wait()
	for i := range sweepEvery {
		got, err := b.Get(ctx, "chat", fmt.Sprint("p", i))
		require.NoError(t, err)
		require.Equal(t, "new", got.UserID)
	}
	// The sweep at the 256th write removed the expired older entry only.
	require.NoError(t, b.db.View(func(tx *bolt.Tx) error {
		require.Nil(t, tx.Bucket(bucket).Get([]byte(key("chat", "dead"))))
		require.NotNil(t, tx.Bucket(bucket).Get([]byte(key("chat", "live"))))
		return nil
	}))
}

func TestRedis(t *testing.T) {
	addr := os.Getenv("HUBD_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("HUBD_TEST_REDIS_ADDR not set")
	}
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	require.NoError(t, err)
	defer c.Close()
	r := NewRedis(c, "hubd-test-"+t.Name()+":")
	testStore(t, r)
	testLivenessRun(t, r)
}

// Records in a Redis that stops answering: reads fail with an error that
// is not ErrNotFound (recovery reports "unavailable", not "expired"), the
// guarded client reports the node degraded, and the same records are
// usable again once Redis answers.
func TestRedisDegradedAndBack(t *testing.T) {
	p := testenv.NewStallProxy(t, testenv.RedisAddr(t))
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{p.Addr()}, DisableCache: true})
	require.NoError(t, err)
	g := redisguard.New(redisguard.Options{Client: c, Timeout: 200 * time.Millisecond, ProbeInterval: 50 * time.Millisecond})
	defer g.Close()
	s := NewRedis(g, "hubd-test-"+t.Name()+":")
	ctx := context.Background()
	require.NoError(t, s.Put(ctx, &Record{PID: "p", Hub: "chat", UserID: "u"}, time.Minute))
	require.NoError(t, s.Beat(ctx, "n", time.Minute))

	p.SetStalled(true)
	_, err = s.Get(ctx, "chat", "p")
	require.Error(t, err)
	require.NotErrorIs(t, err, ErrNotFound)
	require.True(t, g.Degraded())
	_, err = s.Alive(ctx, "n")
	require.ErrorIs(t, err, redisguard.ErrDegraded)

	p.SetStalled(false)
	require.Eventually(t, func() bool { return !g.Degraded() }, 10*time.Second, 10*time.Millisecond)
	got, err := s.Get(ctx, "chat", "p")
	require.NoError(t, err)
	require.Equal(t, "u", got.UserID)
	alive, err := s.Alive(ctx, "n")
	require.NoError(t, err)
	require.True(t, alive)
}
