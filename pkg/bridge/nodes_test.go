package bridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/msgstore/storetest"
)

// postgresStores opens n stores with an outbox on one new schema of
// HUBD_TEST_DATABASE_URL: n nodes sharing a database.
func postgresStores(t *testing.T, n int) []*msgstore.Postgres {
	t.Helper()
	dsn := os.Getenv("HUBD_TEST_DATABASE_URL")
	if dsn == "" {
		t.Skip("HUBD_TEST_DATABASE_URL not set")
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "bridge_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			return
		}
		defer pool.Close()
		_, _ = pool.Exec(ctx, `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`)
	})
	out := make([]*msgstore.Postgres, n)
	for i := range out {
		s, err := msgstore.OpenPostgres(context.Background(), msgstore.PostgresOptions{DSN: dsn, Schema: schema, Outbox: true, MaxConns: 4})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		storetest.EnsureHubs(t, s, "chatHub")
		out[i] = s
	}
	return out
}

func TestTwoNodesPublishEachEventOnce(t *testing.T) {
	stores := postgresStores(t, 2)
	e := newEnv(t)
	for _, st := range stores {
		// A timeout would publish a batch again: not while healthy.
		startBridgeWith(t, Options{Brokers: e.addrs, Group: groupName(t), Outbox: st, PublishTimeout: time.Minute}, newFakeHub(t, chatSpec("chatHub")))
	}
	const perNode = 100
	var wg sync.WaitGroup
	for n, st := range stores {
		wg.Go(func() {
			for i := range perNode {
				say(t, st, fmt.Sprint("r", i%4), fmt.Sprintf("node %d msg %d", n, i))
			}
		})
	}
	wg.Wait()
	evs := newCollector(t, e.addrs).waitDistinct(t, 2*perNode)
	require.Len(t, evs, 2*perNode, "each event published by one node")
	requireRoomOrder(t, evs)
}

func TestRedisDedupSurvivesRestart(t *testing.T) {
	addr := os.Getenv("HUBD_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("HUBD_TEST_REDIS_ADDR not set")
	}
	client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{addr}, DisableCache: true})
	require.NoError(t, err)
	t.Cleanup(client.Close)
	prefix := fmt.Sprintf("test:%s:%d:", t.Name(), time.Now().UnixNano())
	e := newEnv(t)
	h := memberHub(t)
	// Two daemons one after the other, in different groups: the second
	// reads every record again and applies none of those the first did.
	_, stop := startBridgeWith(t, Options{Brokers: e.addrs, Group: groupName(t), Dedup: NewRedisDedup(client, prefix, time.Hour)}, h)
	produceJoins(t, e.addrs, 0, 10)
	produceJoins(t, e.addrs, 0, 1) // u0's event again
	waitJoined(t, h, 10)
	stop()
	_, stop2 := startBridgeWith(t, Options{Brokers: e.addrs, Group: groupName(t) + "-restarted", Dedup: NewRedisDedup(client, prefix, time.Hour)}, h)
	produceJoins(t, e.addrs, 10, 5)
	waitJoined(t, h, 15)
	stop2()
}
