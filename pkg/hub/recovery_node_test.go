package hub

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/resume"
)

// A record without a disconnect time (its node ended without closing the
// socket, kill -9) is usable only while its node's liveness stamp is.
func TestRecoverRecordOfAStoppedNode(t *testing.T) {
	records, err := resume.OpenBolt(filepath.Join(t.TempDir(), "sessions.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = records.Close() })
	e := newSocketEnv(t, func(d *Deps) { d.Resume, d.MaxDisconnection, d.Node = records, time.Minute, "here" })
	ctx := context.Background()
	for _, c := range []struct {
		name, node string
		stamp      time.Duration // 0: never stamped
		recovered  bool
	}{
		{"a node that never stamped", "gone", 0, false},
		{"a record without a node", "", 0, false},
		{"a live node", "live", time.Minute, true},
		{"a stamp that lapsed", "lapsed", time.Millisecond, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.stamp > 0 {
				require.NoError(t, records.Beat(ctx, c.node, c.stamp))
			}
			pid := "pid-" + c.name
			require.NoError(t, records.Put(ctx, &resume.Record{PID: pid, SID: "sid-" + c.name, Hub: e.h.Name(),
				UserID: "u1", Owner: "crashed", Node: c.node}, time.Hour))
			if c.stamp == time.Millisecond {
				require.Eventually(t, func() bool { ok, _ := records.Alive(ctx, c.node); return !ok }, 5*time.Second, time.Millisecond)
			}
			_, reply := e.dialAs(t, "u1", map[string]string{"pid": pid})
			require.Equal(t, c.recovered, reply["pid"] == pid, "recovered")
			require.Equal(t, c.recovered, reply["sid"] == "sid-"+c.name)
		})
	}
}
