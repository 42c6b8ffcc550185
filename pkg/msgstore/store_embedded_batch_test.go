package msgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

func openTest(t *testing.T) *Embedded {
	t.Helper()
	e, err := OpenEmbedded(filepath.Join(t.TempDir(), "messages.db"), EmbeddedOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	return e
}

// holdWriter takes bbolt's writer lock so that the committer blocks on its
// next transaction; the returned func releases it.
func holdWriter(t *testing.T, e *Embedded) func() {
	t.Helper()
	tx, err := e.db.Begin(true)
	require.NoError(t, err)
	return func() { require.NoError(t, tx.Rollback()) }
}

// waitQueued polls until n writes in all were handed to the committer.
func waitQueued(t *testing.T, e *Embedded, n uint64) {
	t.Helper()
	require.Eventually(t, func() bool { return e.w.queued.Load() >= n }, 5*time.Second, time.Millisecond)
}

func textMsg(room, sender string, n int) *Message {
	return &Message{
		HubName: "chat", RoomID: room, SenderID: sender, MessageType: "text",
		Content: json.RawMessage(fmt.Sprintf(`{"text":"m%d"}`, n)),
	}
}

type appendResult struct {
	m   *Message
	err error
}

func appendAsync(e *Embedded, ctx context.Context, m *Message) <-chan appendResult {
	out := make(chan appendResult, 1)
	go func() {
		got, _, err := e.Append(ctx, m)
		out <- appendResult{got, err}
	}()
	return out
}

func TestCommitterGroupsWaitingWrites(t *testing.T) {
	const n = 50
	e := openTest(t)
	before := e.Stats()
	release := holdWriter(t, e)
	results := make([]<-chan appendResult, n)
	for i := range n {
		results[i] = appendAsync(e, context.Background(), textMsg("r1", "alice", i))
	}
	waitQueued(t, e, n)
	release()
	for _, r := range results {
		require.NoError(t, (<-r).err)
	}
	after := e.Stats()
	require.Equal(t, uint64(n), after.Writes-before.Writes)
	// the writer may have taken a first batch before the rest arrived; all
	// the others wait and share the next transaction
	require.LessOrEqual(t, after.Commits-before.Commits, uint64(2), "writes waiting together commit together")
}

func TestCommitterSkipsWriteCancelledWhileQueued(t *testing.T) {
	e := openTest(t)
	ctx := context.Background()
	release := holdWriter(t, e)
	first := appendAsync(e, ctx, textMsg("r1", "alice", 1))
	waitQueued(t, e, 1)
	cctx, cancel := context.WithCancel(ctx)
	second := appendAsync(e, cctx, textMsg("r1", "alice", 2))
	waitQueued(t, e, 2)
	cancel()
	release()

	r1, r2 := <-first, <-second
	require.NoError(t, r1.err)
	require.ErrorIs(t, r2.err, context.Canceled)
	third, _, err := e.Append(ctx, textMsg("r1", "alice", 3))
	require.NoError(t, err)
	require.Equal(t, int64(2), third.Seq, "the cancelled write took no seq")
	list, err := e.List(ctx, "chat", "r1", Query{})
	require.NoError(t, err)
	require.Equal(t, []*Message{r1.m, third}, list)
}

func TestCommitterIsolatesFailedWrite(t *testing.T) {
	tests := []struct {
		name string
		fn   func(tx *bolt.Tx) error
	}{
		{"error after writing", func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists([]byte("junk"))
			if err != nil {
				return err
			}
			if err := b.Put([]byte("k"), []byte("v")); err != nil {
				return err
			}
			return errors.New("broken write")
		}},
		{"panic after writing", func(tx *bolt.Tx) error {
			if _, err := tx.CreateBucketIfNotExists([]byte("junk")); err != nil {
				return err
			}
			panic("broken write")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := openTest(t)
			ctx := context.Background()
			release := holdWriter(t, e)
			first := appendAsync(e, ctx, textMsg("r1", "alice", 1))
			waitQueued(t, e, 1)
			failed := make(chan error, 1)
			go func() { failed <- e.w.do(ctx, tc.fn) }()
			waitQueued(t, e, 2)
			third := appendAsync(e, ctx, textMsg("r1", "bob", 3))
			waitQueued(t, e, 3)
			release()

			require.ErrorContains(t, <-failed, "broken write")
			r1, r3 := <-first, <-third
			require.NoError(t, r1.err)
			require.NoError(t, r3.err)
			require.Equal(t, []int64{1, 2}, []int64{r1.m.Seq, r3.m.Seq})
			list, err := e.List(ctx, "chat", "r1", Query{})
			require.NoError(t, err)
			require.Equal(t, []*Message{r1.m, r3.m}, list)
			require.NoError(t, e.db.View(func(tx *bolt.Tx) error {
				require.Nil(t, tx.Bucket([]byte("junk")), "the failed write was rolled back")
				return nil
			}))
		})
	}
}

func TestCommitterCloseFinishesQueuedWrites(t *testing.T) {
	e := openTest(t)
	ctx := context.Background()
	release := holdWriter(t, e)
	results := make([]<-chan appendResult, 10)
	for i := range results {
		results[i] = appendAsync(e, ctx, textMsg("r1", "alice", i))
	}
	waitQueued(t, e, 10)
	closed := make(chan struct{})
	go func() { e.w.close(); close(closed) }()
	release()
	<-closed
	for _, r := range results {
		require.NoError(t, (<-r).err)
	}
	_, _, err := e.Append(ctx, textMsg("r1", "alice", 99))
	require.ErrorIs(t, err, ErrClosed)
	list, err := e.List(ctx, "chat", "r1", Query{})
	require.NoError(t, err)
	require.Len(t, list, len(results), "every queued write committed before close returned")
}

// TestRoomSeqsFollowCommits: the rooms' seqs an append takes live in memory
// until its transaction commits; a transaction that fails as a whole (here
// in its final write of the rooms' entries) leaves the committed seqs as
// they were, and a room appended to several times in one transaction has its
// last seq on disk.
func TestRoomSeqsFollowCommits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "messages.db")
	e, err := OpenEmbedded(path, EmbeddedOptions{})
	require.NoError(t, err)
	ctx := context.Background()
	first, _, err := e.Append(ctx, textMsg("r1", "alice", 1))
	require.NoError(t, err)

	// a write that holds its transaction open until the next two are queued,
	// so that they share the following one
	started, unblock := make(chan struct{}), make(chan struct{})
	blocker := make(chan error, 1)
	go func() {
		blocker <- e.w.do(ctx, func(*bolt.Tx) error { close(started); <-unblock; return nil })
	}()
	<-started
	lost := appendAsync(e, ctx, textMsg("r1", "alice", 2))
	waitQueued(t, e, 3)
	failed := make(chan error, 1)
	go func() {
		failed <- e.w.do(ctx, func(tx *bolt.Tx) error { return tx.Bucket(bucketHubs).DeleteBucket([]byte("chat")) })
	}()
	waitQueued(t, e, 4)
	close(unblock)
	require.NoError(t, <-blocker)
	require.ErrorIs(t, (<-lost).err, ErrUnavailable, "the transaction failed as a whole")
	require.ErrorIs(t, <-failed, ErrUnavailable)

	release := holdWriter(t, e)
	var batch []<-chan appendResult
	for i := range 5 {
		batch = append(batch, appendAsync(e, ctx, textMsg("r1", "bob", 10+i)))
	}
	waitQueued(t, e, 9)
	release()
	var seqs []int64
	for _, r := range batch {
		res := <-r
		require.NoError(t, res.err)
		seqs = append(seqs, res.m.Seq)
	}
	require.ElementsMatch(t, []int64{2, 3, 4, 5, 6}, seqs, "the failed transaction took no seq")
	require.NoError(t, e.Close())

	e, err = OpenEmbedded(path, EmbeddedOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = e.Close() })
	next, _, err := e.Append(ctx, textMsg("r1", "carol", 20))
	require.NoError(t, err)
	require.Equal(t, int64(7), next.Seq, "the room's last seq was written")
	list, err := e.List(ctx, "chat", "r1", Query{})
	require.NoError(t, err)
	require.Len(t, list, 7)
	require.Equal(t, first, list[0])
}
