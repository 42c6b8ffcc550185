package bridge

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
)

// reasons is the bounded set of the failure counters' reason label.
var reasons = map[string]bool{
	ReasonConnection: true, ReasonTimeout: true, ReasonTopic: true, ReasonRecreated: true, ReasonLeader: true,
	ReasonGroup: true, ReasonOffset: true, ReasonAuth: true, ReasonBuffer: true, ReasonOther: true,
}

// failures sums a failure counter of reg by its reason label; every label
// value must be one of reasons.
func failures(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			require.Len(t, m.GetLabel(), 1, "%s has only the reason label", name)
			reason := m.GetLabel()[0].GetValue()
			require.True(t, reasons[reason], "%s{reason=%q} is not a known reason", name, reason)
			out[reason] += m.GetCounter().GetValue()
		}
	}
	return out
}

func total(m map[string]float64) float64 {
	var n float64
	for _, v := range m {
		n += v
	}
	return n
}

const (
	fetchFailuresMetric   = "hubd_bridge_fetch_failures_total"
	produceFailuresMetric = "hubd_bridge_produce_failures_total"
)

// TestFailureCountersFollowOutage: the fetch and produce failure counters
// rise while the broker is gone, by a known reason, and stand still while
// it is healthy, before the outage and after the recovery.
func TestFailureCountersFollowOutage(t *testing.T) {
	pc := newPortCluster(t, joinedTopic)
	h := memberHub(t)
	st := openOutboxStore(t, filepath.Join(t.TempDir(), "messages.db"))
	reg := prometheus.NewRegistry()
	b, _ := startBridgeWith(t, Options{Brokers: pc.addrs, Group: groupName(t), Outbox: st, Registerer: reg}, h)

	// traffic moves records both ways and waits until they are through and
	// the metadata check ran twice more.
	users, said := 0, 0
	traffic := func(c *collector) {
		t.Helper()
		produceJoins(t, pc.addrs, users, 5)
		users += 5
		waitJoined(t, h, users)
		for i := range 5 {
			say(t, st, fmt.Sprint("r", i%2), "m")
		}
		said += 5
		c.waitDistinct(t, said)
		waitOutboxEmpty(t, st)
		waitChecked(t, b)
	}
	still := func(phase string, c *collector) {
		t.Helper()
		fetch, produce := failures(t, reg, fetchFailuresMetric), failures(t, reg, produceFailuresMetric)
		for range 3 {
			traffic(c)
		}
		require.Equal(t, fetch, failures(t, reg, fetchFailuresMetric), "no fetch failure counted %s", phase)
		require.Equal(t, produce, failures(t, reg, produceFailuresMetric), "no produce failure counted %s", phase)
	}

	c := newCollector(t, pc.addrs)
	traffic(c) // the first records settle the group and the topics
	still("while healthy", c)

	fetch, produce := failures(t, reg, fetchFailuresMetric), failures(t, reg, produceFailuresMetric)
	pc.kill()
	for i := range 5 {
		say(t, st, fmt.Sprint("r", i%2), "during")
	}
	require.Eventually(t, func() bool {
		return total(failures(t, reg, fetchFailuresMetric)) > total(fetch) && total(failures(t, reg, produceFailuresMetric)) > total(produce)
	}, waitFor, tick, "fetch and produce failures counted while the broker is gone")
	for name, before := range map[string]map[string]float64{fetchFailuresMetric: fetch, produceFailuresMetric: produce} {
		after := failures(t, reg, name)
		for reason, n := range after {
			if n > before[reason] {
				require.Contains(t, []string{ReasonConnection, ReasonTimeout}, reason, "%s: a broker gone is a connection failure or a timeout", name)
			}
		}
	}

	pc.start(joinedTopic) // empty: topics, records and offsets are gone
	c = newCollector(t, pc.addrs)
	c.waitDistinct(t, 5) // the outage's events
	said = 5
	waitOutboxEmpty(t, st)
	// The new broker's first fetches may still fail (a group or a topic
	// being set up); counting stops once records flow again.
	traffic(c)
	still("after the recovery", c)
}
