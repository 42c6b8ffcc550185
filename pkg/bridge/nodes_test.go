package bridge

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/msgstore/storetest"
)

// postgresStores opens n stores with an outbox on one new schema of
// HUBD_TEST_DATABASE_URL: n nodes sharing a database.
func postgresStores(t *testing.T, n int) []*msgstore.Postgres {
	t.Helper()
	dsn := testenv.DatabaseURL(t)
	schema := testenv.FreshSchema(t, dsn, "bridge_test_")
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
	requireRoomOrder(t, evs, true)
}

// TestDedupSurvivesRestart runs two bridges one after the other, in
// different groups, each with its own Dedup over the same state (a daemon
// restarted): the second reads every record again and applies none of
// those the first applied.
func TestDedupSurvivesRestart(t *testing.T) {
	tests := []struct {
		name string
		// open returns a Dedup over the test's state, as a new process
		// would open it.
		open func(t *testing.T) func() Dedup
	}{
		{"embedded store", func(t *testing.T) func() Dedup {
			path := filepath.Join(t.TempDir(), "messages.db")
			return func() Dedup {
				st, err := msgstore.OpenEmbedded(path, msgstore.EmbeddedOptions{NoSync: true, LockTimeout: waitFor})
				require.NoError(t, err)
				t.Cleanup(func() { _ = st.Close() })
				return &closingDedup{StoreDedup: NewStoreDedup(st, time.Hour), close: st.Close}
			}
		}},
		{"postgres store", func(t *testing.T) func() Dedup {
			stores := postgresStores(t, 2)
			n := 0
			return func() Dedup {
				n++
				return NewStoreDedup(stores[n-1], time.Hour)
			}
		}},
		{"redis", func(t *testing.T) func() Dedup {
			client := testenv.Redis(t, rueidis.ClientOption{DisableCache: true})
			prefix := fmt.Sprintf("test:%s:%d:", t.Name(), time.Now().UnixNano())
			return func() Dedup { return NewRedisDedup(client, prefix, time.Hour) }
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			open := tc.open(t)
			e := newEnv(t)
			h := memberHub(t)
			first := open()
			_, stop := startBridgeWith(t, Options{Brokers: e.addrs, Group: groupName(t), Dedup: first}, h)
			produceJoins(t, e.addrs, 0, 10)
			produceJoins(t, e.addrs, 0, 1) // u0's event again
			waitJoined(t, h, 10)
			stop()
			if c, ok := first.(*closingDedup); ok {
				require.NoError(t, c.close())
			}
			_, stop2 := startBridgeWith(t, Options{Brokers: e.addrs, Group: groupName(t) + "-restarted", Dedup: open()}, h)
			produceJoins(t, e.addrs, 10, 5)
			waitJoined(t, h, 15)
			stop2()
		})
	}
}

// closingDedup is a StoreDedup whose store the test closes (the embedded
// file is locked by one process at a time).
type closingDedup struct {
	*StoreDedup
	close func() error
}
