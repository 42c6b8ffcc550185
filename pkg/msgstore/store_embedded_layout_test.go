package msgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/hubd/hubd/internal/testenv"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// BenchmarkAppendLayout appends from 256 parallel writers, one room each (a
// busy node's shape), and reports what the file layout costs: the 4 KiB
// pages each message makes a commit write, the page splits per message,
// and the file's size per 1,000 messages.
//
//	go test ./pkg/msgstore -run '^$' -bench AppendLayout -benchtime 25600x
func BenchmarkAppendLayout(b *testing.B) { benchAppendLayout(b, false) }

// BenchmarkAppendLayoutClientIDs is BenchmarkAppendLayout with a random
// client message id on every message, as the JavaScript client sends
// (crypto.randomUUID): the cmids index costs its own pages.
func BenchmarkAppendLayoutClientIDs(b *testing.B) { benchAppendLayout(b, true) }

func benchAppendLayout(b *testing.B, clientIDs bool) {
	path := filepath.Join(b.TempDir(), "messages.db")
	e, err := OpenEmbedded(path, EmbeddedOptions{})
	require.NoError(b, err)
	content := json.RawMessage(`{"op":"accept","text":"a benchmark message of a typical chat length"}`)
	const writers = 256
	var next atomic.Int64
	b.SetParallelism((writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	cpu0 := testenv.ProcessCPU()
	b.RunParallel(func(pb *testing.PB) {
		w := next.Add(1)
		for pb.Next() {
			m := &Message{HubName: "bench", RoomID: fmt.Sprintf("room-%d", w), SenderID: fmt.Sprintf("user-%d", w), MessageType: "cmd", Content: content}
			if clientIDs {
				m.ClientMessageID = uuid.NewString()
			}
			if _, _, err := e.Append(context.Background(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	cpu := testenv.ProcessCPU() - cpu0
	st, es := e.db.Stats(), e.Stats()
	var leaves int
	require.NoError(b, e.db.View(func(tx *bolt.Tx) error {
		leaves = tx.Bucket(bucketHubs).Bucket([]byte("bench")).Bucket(bucketMsgs).Stats().LeafPageN
		return nil
	}))
	require.NoError(b, e.Close())
	fi, err := os.Stat(path)
	require.NoError(b, err)
	n := float64(es.Writes)
	b.ReportMetric(float64(st.TxStats.GetWrite())/n, "pages/msg")
	b.ReportMetric(float64(st.TxStats.GetSplit())/n, "splits/msg")
	b.ReportMetric(float64(leaves)*1000/n, "leaves/1k-msgs")
	b.ReportMetric(float64(fi.Size())/1024*1000/n, "fileKB/1k-msgs")
	b.ReportMetric(float64(st.FreePageN+st.PendingPageN)*4*1000/n, "freeKB/1k-msgs")
	b.ReportMetric(n/float64(es.Commits), "writes/commit")
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-us/msg")
}

// BenchmarkUpdateLayout updates the messages of one room of 1,000, one
// writer, and reports the 4 KiB pages each update makes its commit write
// (fsync cost is mostly pages; time on a shared disk is too noisy to
// compare).
//
//	go test ./pkg/msgstore -run '^$' -bench UpdateLayout -benchtime 2000x
func BenchmarkUpdateLayout(b *testing.B) {
	e, err := OpenEmbedded(filepath.Join(b.TempDir(), "messages.db"), EmbeddedOptions{NoSync: true})
	require.NoError(b, err)
	defer func() { require.NoError(b, e.Close()) }()
	ctx := context.Background()
	var ids []string
	for i := range 1000 {
		m, _, err := e.Append(ctx, &Message{HubName: "bench", RoomID: "r", SenderID: "u", MessageType: "text", Content: json.RawMessage(fmt.Sprintf(`{"text":"message %d"}`, i))})
		require.NoError(b, err)
		ids = append(ids, m.ID)
	}
	before := e.db.Stats()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		_, err := e.Update(ctx, "bench", ids[i%len(ids)], func(m *Message) error {
			m.Content = json.RawMessage(fmt.Sprintf(`{"text":"edit %d"}`, i))
			m.Change = &Change{Kind: ChangeEdited, By: "u"}
			return nil
		})
		require.NoError(b, err)
	}
	b.StopTimer()
	after := e.db.Stats()
	st := after.Sub(&before)
	b.ReportMetric(float64(st.TxStats.GetWrite())/float64(b.N), "pages/update")
}
