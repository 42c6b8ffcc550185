package msgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/spec"
)

// commitLog collects what a store's OnCommit reports.
type commitLog struct {
	mu      sync.Mutex
	commits int
	writes  int
	total   time.Duration
	sizes   []int
}

func (c *commitLog) observe(n int, d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.commits++
	c.writes += n
	c.total += d
	c.sizes = append(c.sizes, n)
}

// TestCommitObserver: both stores report every group commit with its size
// and duration; the sizes add up to the appends, and concurrent appends
// share commits.
func TestCommitObserver(t *testing.T) {
	cases := []struct {
		name string
		open func(t *testing.T, obs msgstore.CommitObserver) msgstore.Store
	}{
		{"embedded", func(t *testing.T, obs msgstore.CommitObserver) msgstore.Store {
			s, err := msgstore.OpenEmbedded(filepath.Join(t.TempDir(), "messages.db"), msgstore.EmbeddedOptions{OnCommit: obs})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			return s
		}},
		{"postgres", func(t *testing.T, obs msgstore.CommitObserver) msgstore.Store {
			dsn := testDSN(t)
			s, err := msgstore.OpenPostgres(context.Background(), msgstore.PostgresOptions{DSN: dsn, Schema: freshSchema(t, dsn), OnCommit: obs})
			require.NoError(t, err)
			t.Cleanup(func() { _ = s.Close() })
			chat := hubSpec("chat", "", []spec.HubMessageType{spec.MessageText}, nil, false, false, false)
			require.NoError(t, s.EnsureSchema(context.Background(), chat))
			return s
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			const n = 200
			var log commitLog
			s := tc.open(t, log.observe)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					m := &msgstore.Message{HubName: "chat", RoomID: fmt.Sprintf("r%d", i%4), SenderID: "alice",
						MessageType: "text", Content: json.RawMessage(`{"text":"x"}`)}
					_, _, err := s.Append(context.Background(), m)
					require.NoError(t, err)
				})
			}
			wg.Wait()
			// A batch is reported once its transaction ended, which may be
			// just after its callers were answered.
			require.Eventually(t, func() bool {
				log.mu.Lock()
				defer log.mu.Unlock()
				return log.writes == n
			}, 5*time.Second, time.Millisecond, "batch sizes add up to the appends")
			log.mu.Lock()
			defer log.mu.Unlock()
			require.Positive(t, log.commits)
			require.Less(t, log.commits, n, "concurrent appends shared commits: %v", log.sizes)
			require.Positive(t, log.total)
			require.Less(t, log.total, time.Minute)
		})
	}
}
