package hub

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"
	"github.com/hubd/hubd/pkg/metrics"
	"github.com/hubd/hubd/pkg/redisguard"
	"github.com/hubd/hubd/pkg/resume"
)

// A record without a disconnect time (its node ended without closing the
// socket, kill -9) is usable only while its node's liveness stamp is.
func TestRecoverRecordOfAStoppedNode(t *testing.T) {
	records := boltRecords(t)
	m := metrics.NewUnregistered()
	e := newSocketEnv(t, func(d *Deps) { d.Resume, d.MaxDisconnection, d.Node, d.Metrics = records, time.Minute, "here", m })
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
	// The live node's record had no write log (written while connected):
	// its rooms were recovered by time, and the result says so.
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(m.RecoveriesTotal.WithLabelValues(e.h.Name(), "recovered_by_time")) == 1
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, 0.0, testutil.ToFloat64(m.RecoveriesTotal.WithLabelValues(e.h.Name(), "recovered")))
}

// Session records in a Redis that stops answering: a reconnect gets a
// fresh session (counted unavailable) while the guarded client reports the
// node degraded, and the same session recovers once Redis answers again.
func TestRecoverWhenRedisIsBack(t *testing.T) {
	p := testenv.NewStallProxy(t, testenv.RedisAddr(t))
	rc, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{p.Addr()}, DisableCache: true})
	require.NoError(t, err)
	g := redisguard.New(redisguard.Options{Client: rc, Timeout: 200 * time.Millisecond, ProbeInterval: 50 * time.Millisecond})
	t.Cleanup(g.Close)
	records := resume.NewRedis(g, "hubd-test-"+t.Name()+":")
	m := metrics.NewUnregistered()
	e := newSocketEnv(t, func(d *Deps) {
		d.Resume, d.MaxDisconnection, d.Node, d.Metrics = records, time.Minute, "here", m
	})
	ctx := context.Background()
	require.NoError(t, records.Beat(ctx, "here", time.Minute))
	count := func(result string) float64 {
		return testutil.ToFloat64(m.RecoveriesTotal.WithLabelValues(e.h.Name(), result))
	}

	u1, first := e.dialAs(t, "u1", nil)
	u1.join("1", "r1")
	u1.drop(records, e.h.Name(), first["pid"])

	p.SetStalled(true)
	_, fresh := e.dialAs(t, "u1", map[string]string{"pid": first["pid"]})
	require.NotEqual(t, first["pid"], fresh["pid"], "no record readable: a fresh session")
	require.True(t, g.Degraded(), "the node reports Redis degraded")
	require.Equal(t, 1.0, count("unavailable"))

	p.SetStalled(false)
	require.Eventually(t, func() bool { return !g.Degraded() }, 10*time.Second, 10*time.Millisecond)
	_, again := e.dialAs(t, "u1", map[string]string{"pid": first["pid"]})
	require.Equal(t, first, again, "recovered once Redis answers")
	require.Eventually(t, func() bool { return count("recovered") == 1 }, 5*time.Second, 10*time.Millisecond,
		"counted recovered once the restore ran")
}
