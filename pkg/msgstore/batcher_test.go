package msgstore

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestBatcherGroupsWhileBusy: ops queued while the writer is busy go into
// its next batch together; close finishes the queued ops and then refuses
// new ones.
func TestBatcherGroupsWhileBusy(t *testing.T) {
	release, holding := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var batches [][]int
	var observed []int
	var held time.Duration
	b := newBatcher(64, 0, 1, func(batch []int) {
		if batch[0] == 0 {
			close(holding)
			<-release // the first batch holds the writer
		}
		mu.Lock()
		batches = append(batches, append([]int(nil), batch...))
		mu.Unlock()
	}, func(n int, d time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if observed = append(observed, n); len(observed) == 1 {
			held = d
		}
	})
	ctx := context.Background()
	require.NoError(t, b.enqueue(ctx, 0))
	<-holding // the writer runs the batch of op 0
	for i := 1; i <= 10; i++ {
		require.NoError(t, b.enqueue(ctx, i))
	}
	time.Sleep(time.Millisecond) // the held commit lasts at least this long
	close(release)
	b.close()
	require.Equal(t, [][]int{{0}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}, batches)
	require.Equal(t, []int{1, 10}, observed, "each commit reported with its size")
	require.GreaterOrEqual(t, held, time.Millisecond, "the held commit's duration covers the hold")
	require.ErrorIs(t, b.enqueue(ctx, 11), ErrClosed)
	b.close() // idempotent
}

// TestBatcherCapsBatchesAndHonoursContext: a batch holds at most maxBatch
// ops, and an enqueue on a full queue gives up when its context ends.
func TestBatcherCapsBatchesAndHonoursContext(t *testing.T) {
	release, holding := make(chan struct{}), make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	b := newBatcher(3, 0, 1, func(batch []int) {
		if batch[0] == 0 {
			close(holding)
			<-release
		}
		mu.Lock()
		sizes = append(sizes, len(batch))
		mu.Unlock()
	}, nil)
	ctx := context.Background()
	require.NoError(t, b.enqueue(ctx, 0))
	<-holding
	for i := 1; i <= 3; i++ { // fills the queue (capacity maxBatch)
		require.NoError(t, b.enqueue(ctx, i))
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, b.enqueue(short, 4), context.DeadlineExceeded)
	close(release)
	b.close()
	require.Equal(t, []int{1, 3}, sizes)
}
