package msgstore

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// killWriterEnv names the file a re-executed test binary writes to until it
// is killed (see TestJournalSurvivesKill).
const killWriterEnv = "HUBD_TEST_JOURNAL_KILL_DB"

// TestJournalKillWriter is the process TestJournalSurvivesKill kills: eight
// writers append to twelve rooms of two hubs, with folds every few
// appends, and print each acknowledged message's id.
func TestJournalKillWriter(t *testing.T) {
	path := os.Getenv(killWriterEnv)
	if path == "" {
		t.Skip("run by TestJournalSurvivesKill")
	}
	e, err := openEmbedded(path, EmbeddedOptions{MaxBatchDelay: -1}, journalLimits{perRoom: 3, foldAt: 11, directAt: 3})
	require.NoError(t, err)
	var out sync.Mutex
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				m := textMsg(fmt.Sprintf("r%d", (w*7+i)%12), "alice", i)
				m.HubName = []string{"chat", "other"}[i%2]
				m.ClientMessageID = fmt.Sprintf("w%d-%d", w, i)
				got, _, err := e.Append(context.Background(), m)
				if err != nil {
					return
				}
				out.Lock()
				fmt.Printf("acked %s %s %s %d\n", got.HubName, got.RoomID, got.ID, got.Seq)
				out.Unlock()
			}
		}()
	}
	wg.Wait()
}

// TestJournalSurvivesKill: a process appending with folds running is killed
// (SIGKILL) at a random point; the reopened file holds every message the
// process acknowledged, each once, at its seq, every room's seqs
// contiguous, and the journal's invariants hold; appends go on after them.
func TestJournalSurvivesKill(t *testing.T) {
	if os.Getenv(killWriterEnv) != "" {
		t.Skip("the writer process")
	}
	for round := range 3 {
		path := filepath.Join(t.TempDir(), "messages.db")
		cmd := exec.Command(os.Args[0], "-test.run=^TestJournalKillWriter$", "-test.count=1")
		cmd.Env = append(os.Environ(), killWriterEnv+"="+path)
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		type ack struct {
			hub, room, id string
			seq           int64
		}
		var acked []ack
		lines := bufio.NewScanner(stdout)
		for lines.Scan() && len(acked) < 300+200*round {
			var a ack
			if _, err := fmt.Sscanf(lines.Text(), "acked %s %s %s %d", &a.hub, &a.room, &a.id, &a.seq); err == nil {
				acked = append(acked, a)
			}
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		for lines.Scan() { // acks printed before the kill landed count too
			var a ack
			if _, err := fmt.Sscanf(lines.Text(), "acked %s %s %s %d", &a.hub, &a.room, &a.id, &a.seq); err == nil {
				acked = append(acked, a)
			}
		}
		err = cmd.Wait()
		require.Error(t, err)
		require.True(t, strings.Contains(err.Error(), "killed"), "%v", err)

		e, err := OpenEmbedded(path, EmbeddedOptions{})
		require.NoError(t, err)
		ctx := context.Background()
		for _, a := range acked {
			m, err := e.Get(ctx, a.hub, a.id)
			require.NoError(t, err, "acknowledged %+v", a)
			require.Equal(t, a.seq, m.Seq)
		}
		for _, hub := range []string{"chat", "other"} {
			for r := range 12 {
				room := fmt.Sprintf("r%d", r)
				list, err := e.List(ctx, hub, room, Query{})
				require.NoError(t, err)
				for i, m := range list {
					require.Equal(t, int64(i+1), m.Seq, "%s/%s", hub, room)
				}
				next, _, err := e.Append(ctx, &Message{HubName: hub, RoomID: room, SenderID: "bob", MessageType: "text", Content: []byte(`{"text":"after"}`)})
				require.NoError(t, err)
				require.Equal(t, int64(len(list)+1), next.Seq, "%s/%s", hub, room)
			}
		}
		checkJournalInvariants(t, e)
		require.NoError(t, e.Close())
	}
}
