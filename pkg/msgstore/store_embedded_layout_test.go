package msgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// BenchmarkAppendLayout appends from 256 parallel writers, one room each (a
// busy node's shape), and reports what the file layout costs: the 4 KiB
// pages each message makes a commit write, the page splits per message,
// and the file's size per 1,000 messages.
//
//	go test ./pkg/msgstore -run '^$' -bench AppendLayout -benchtime 25600x
func BenchmarkAppendLayout(b *testing.B) {
	path := filepath.Join(b.TempDir(), "messages.db")
	e, err := OpenEmbedded(path, EmbeddedOptions{})
	require.NoError(b, err)
	content := json.RawMessage(`{"op":"accept","text":"a benchmark message of a typical chat length"}`)
	const writers = 256
	var next atomic.Int64
	b.SetParallelism((writers + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
	b.RunParallel(func(pb *testing.PB) {
		w := next.Add(1)
		for pb.Next() {
			m := &Message{HubName: "bench", RoomID: fmt.Sprintf("room-%d", w), SenderID: fmt.Sprintf("user-%d", w), MessageType: "cmd", Content: content}
			if _, _, err := e.Append(context.Background(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
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
	b.ReportMetric(n/float64(es.Commits), "writes/commit")
}
