package msgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/msgstore/storetest"
)

func openEmbedded(t testing.TB, path string) *msgstore.Embedded {
	t.Helper()
	s, err := msgstore.OpenEmbedded(path, msgstore.EmbeddedOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestEmbeddedConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) msgstore.Store {
		return openEmbedded(t, filepath.Join(t.TempDir(), "messages.db"))
	})
}

// foldingLimits make the journal fold often, so that the suites see a
// room's messages split between msgs and the journal at every point: a room
// folded before each append; room folds only; both, full folds every few
// appends; and rooms that skip the journal after one or two appends in a
// transaction, folding first.
var foldingLimits = []struct{ perRoom, foldAt, directAt int }{{1, 1, 0}, {3, 1 << 20, 0}, {2, 5, 0}, {3, 7, 1}, {4, 1 << 20, 2}}

func TestEmbeddedConformanceFolding(t *testing.T) {
	for _, l := range foldingLimits {
		t.Run(fmt.Sprintf("perRoom=%d/foldAt=%d/directAt=%d", l.perRoom, l.foldAt, l.directAt), func(t *testing.T) {
			storetest.Run(t, func(t *testing.T) msgstore.Store {
				s, err := msgstore.OpenEmbeddedFolding(filepath.Join(t.TempDir(), "messages.db"), msgstore.EmbeddedOptions{}, l.perRoom, l.foldAt, l.directAt)
				require.NoError(t, err)
				t.Cleanup(func() { _ = s.Close() })
				return s
			})
		})
	}
}

func TestEmbeddedDurabilityFolding(t *testing.T) {
	for _, l := range foldingLimits {
		t.Run(fmt.Sprintf("perRoom=%d/foldAt=%d/directAt=%d", l.perRoom, l.foldAt, l.directAt), func(t *testing.T) {
			storetest.RunDurability(t, func(t *testing.T) storetest.Opener {
				path := filepath.Join(t.TempDir(), "data", "messages.db")
				return func() (msgstore.Store, error) {
					return msgstore.OpenEmbeddedFolding(path, msgstore.EmbeddedOptions{}, l.perRoom, l.foldAt, l.directAt)
				}
			})
		})
	}
}

func TestEmbeddedDurability(t *testing.T) {
	storetest.RunDurability(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "data", "messages.db")
		return func() (msgstore.Store, error) {
			return msgstore.OpenEmbedded(path, msgstore.EmbeddedOptions{})
		}
	})
}

func TestEmbeddedOpen(t *testing.T) {
	t.Run("creates missing directories", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "a", "b", "messages.db")
		s := openEmbedded(t, path)
		require.Equal(t, path, s.Path())
		require.FileExists(t, path)
	})
	t.Run("second open of a held file fails with ErrLocked", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "messages.db")
		first := openEmbedded(t, path)
		start := time.Now()
		_, err := msgstore.OpenEmbedded(path, msgstore.EmbeddedOptions{LockTimeout: 50 * time.Millisecond})
		require.ErrorIs(t, err, msgstore.ErrLocked)
		require.Contains(t, err.Error(), path)
		require.Less(t, time.Since(start), 5*time.Second)

		require.NoError(t, first.Close())
		again, err := msgstore.OpenEmbedded(path, msgstore.EmbeddedOptions{LockTimeout: time.Second})
		require.NoError(t, err, "the lock is released on Close")
		require.NoError(t, again.Close())
	})
	t.Run("a path that is a directory fails", func(t *testing.T) {
		_, err := msgstore.OpenEmbedded(t.TempDir(), msgstore.EmbeddedOptions{})
		require.Error(t, err)
	})
}

// BenchmarkAppendParallel: 100 rooms, fsync on every commit; one writer per
// room (the daemon's shape), the same with client message ids, and four
// writers per room.
//
//	go test ./pkg/msgstore -run '^$' -bench AppendParallel -benchtime 20000x
func BenchmarkAppendParallel(b *testing.B) {
	for _, o := range []storetest.BenchOptions{
		{Rooms: 100, Writers: 100},
		{Rooms: 100, Writers: 100, ClientMessageIDs: true},
		{Rooms: 100, Writers: 400},
	} {
		b.Run(fmt.Sprintf("rooms=%d/writers=%d/cmid=%v", o.Rooms, o.Writers, o.ClientMessageIDs), func(b *testing.B) {
			s := openEmbedded(b, filepath.Join(b.TempDir(), "messages.db"))
			storetest.BenchAppendParallel(b, s, o)
			if st := s.Stats(); st.Commits > 0 {
				b.ReportMetric(float64(st.Writes)/float64(st.Commits), "writes/commit")
			}
		})
	}
}

// BenchmarkAppendOutbox: 100 rooms, one writer each, fsync on, without and
// with the outbox (the daemon with kafka.brokers): the cost of the event
// recorded in each append's transaction.
func BenchmarkAppendOutbox(b *testing.B) {
	for _, outbox := range []bool{false, true} {
		b.Run(fmt.Sprintf("outbox=%v", outbox), func(b *testing.B) {
			s, err := msgstore.OpenEmbedded(filepath.Join(b.TempDir(), "messages.db"), msgstore.EmbeddedOptions{Outbox: outbox})
			require.NoError(b, err)
			b.Cleanup(func() { _ = s.Close() })
			storetest.BenchAppendParallel(b, s, storetest.BenchOptions{Rooms: 100, Writers: 100})
		})
	}
}

// BenchmarkAppendSerial: one writer, so every message pays a full commit.
func BenchmarkAppendSerial(b *testing.B) {
	s := openEmbedded(b, filepath.Join(b.TempDir(), "messages.db"))
	ctx := context.Background()
	for b.Loop() {
		m := &msgstore.Message{HubName: "bench", RoomID: "r", SenderID: "u", MessageType: "text", Content: json.RawMessage(`{"text":"hi"}`)}
		if _, _, err := s.Append(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkUpdateParallel: Update with fsync on: one writer (every update
// pays a commit), one writer in each of 100 rooms (the daemon's shape), and
// 16 writers in one room (contending for its change counter).
//
//	go test ./pkg/msgstore -run '^$' -bench UpdateParallel -benchtime 2000x
func BenchmarkUpdateParallel(b *testing.B) {
	for _, o := range updateBenchShapes {
		b.Run(fmt.Sprintf("rooms=%d/writers=%d", o.Rooms, o.Writers), func(b *testing.B) {
			storetest.BenchUpdateParallel(b, openEmbedded(b, filepath.Join(b.TempDir(), "messages.db")), o)
		})
	}
}

var updateBenchShapes = []storetest.BenchOptions{{Rooms: 1, Writers: 1}, {Rooms: 100, Writers: 100}, {Rooms: 1, Writers: 16}}

// BenchmarkListNewest50: the history a join sends, from a room of 2,000 messages.
func BenchmarkListNewest50(b *testing.B) {
	s := openEmbedded(b, filepath.Join(b.TempDir(), "messages.db"))
	storetest.BenchList(b, s, 2000, 50)
}

// TestEmbeddedOpensOlderLayout: a file whose hubs predate the receipt,
// moderation, room settings and change buckets gets them on open; its
// messages read with Rev 0 and a room's first update gets rev 1.
func TestEmbeddedOpensOlderLayout(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "messages.db")
	s := openEmbedded(t, path)
	m, _, err := s.Append(ctx, &msgstore.Message{HubName: "chat", RoomID: "r1", SenderID: "alice", MessageType: "text", Content: json.RawMessage(`{"text":"old"}`)})
	require.NoError(t, err)
	require.NoError(t, s.Close())

	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		hb := tx.Bucket([]byte("hubs")).Bucket([]byte("chat"))
		for _, name := range []string{"delivered", "moderation", "roomsettings", "changes"} {
			if err := hb.DeleteBucket([]byte(name)); err != nil {
				return err
			}
		}
		return nil
	}))
	require.NoError(t, db.Close())

	s = openEmbedded(t, path)
	got, err := s.Get(ctx, "chat", m.ID)
	require.NoError(t, err)
	require.Equal(t, m, got)
	require.NoError(t, s.SetDelivered(ctx, "chat", "r1", "bob", m.ID, time.Now()))
	require.NoError(t, s.SetModeration(ctx, &msgstore.Moderation{HubName: "chat", RoomID: "r1", UserID: "bob", Silenced: true}))
	require.NoError(t, s.SetRoomSettings(ctx, "chat", "r1", json.RawMessage(`{"a":1}`)))
	list, err := s.ListModeration(ctx, "chat", "r1")
	require.NoError(t, err)
	require.Len(t, list, 1)

	require.Zero(t, got.Rev)
	changed, err := s.Update(ctx, "chat", m.ID, func(m *msgstore.Message) error {
		m.Change = &msgstore.Change{Kind: msgstore.ChangeEdited, By: "alice"}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, int64(1), changed.Rev)
	changes, err := s.List(ctx, "chat", "r1", msgstore.Query{Changes: true, Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []*msgstore.Message{changed}, changes)
}

func TestEmbeddedOutbox(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "messages.db")
		return func() (msgstore.Store, error) {
			return msgstore.OpenEmbedded(path, msgstore.EmbeddedOptions{Outbox: true, NoSync: true})
		}
	})
}

func TestEmbeddedAppliedEvents(t *testing.T) {
	storetest.RunAppliedEvents(t, func(t *testing.T) storetest.Opener {
		path := filepath.Join(t.TempDir(), "messages.db")
		return func() (msgstore.Store, error) {
			return msgstore.OpenEmbedded(path, msgstore.EmbeddedOptions{NoSync: true})
		}
	})
}
