package bridge

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// stoppingDedup is a Dedup whose first Seen stands for a store lookup
// still in flight when the daemon shuts down: it tells the test to stop
// the bridge and answers with the end of its context, as the real stores
// do.
type stoppingDedup struct {
	Dedup
	once    sync.Once
	looking chan struct{}
}

func (d *stoppingDedup) Seen(ctx context.Context, key string) (bool, error) {
	first := false
	d.once.Do(func() { first = true; close(d.looking) })
	if !first {
		return d.Dedup.Seen(ctx, key)
	}
	<-ctx.Done()
	return false, ctx.Err()
}

// TestDedupLookupCutByShutdown: a bridge stopped while it asks the dedup
// store about a record applies neither that record nor the rest of its
// poll (a failed lookup otherwise lets an event through, applied twice
// rather than lost), and commits none of them, so the next consumer of
// the group applies the new ones.
func TestDedupLookupCutByShutdown(t *testing.T) {
	e := newEnv(t)
	h := memberHub(t)
	shared := NewMemoryDedup(DefaultDedupWindow) // one state across the three bridges, as a store
	_, stop := startBridgeWith(t, Options{Brokers: e.addrs, Group: groupName(t) + "-first", Dedup: shared}, h)
	produceJoins(t, e.addrs, 0, 10)
	waitJoined(t, h, 10)
	stop()

	produceJoins(t, e.addrs, 10, 2) // applied by nobody yet
	d := &stoppingDedup{Dedup: shared, looking: make(chan struct{})}
	_, stop2 := startBridgeWith(t, Options{Brokers: e.addrs, Group: groupName(t), Dedup: d}, h)
	<-d.looking
	stop2()
	require.Equal(t, 10, len(joined(h)), "a record whose lookup the shutdown cut is not applied: %v", joined(h))

	_, stop3 := startBridgeWith(t, Options{Brokers: e.addrs, Group: groupName(t), Dedup: shared}, h)
	waitJoined(t, h, 12)
	stop3()
}
