package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"
)

func TestDeleteHub(t *testing.T) {
	m := NewUnregistered()
	for _, hub := range []string{"gone", "kept"} {
		m.SocketConnections.WithLabelValues(hub).Set(3)
		m.EventsTotal.WithLabelValues(hub, "hub:send").Inc()
		m.EventDuration.WithLabelValues(hub, "hub:send").Observe(0.1)
		m.RESTRequestsTotal.WithLabelValues(hub, "/rooms", "").Inc()
	}
	m.Refusals.WithLabelValues("origin").Inc()
	require.Equal(t, 4, m.DeleteHub("gone"))
	require.Equal(t, 1, testutil.CollectAndCount(m.SocketConnections))
	require.Equal(t, 1, testutil.CollectAndCount(m.EventsTotal))
	require.Equal(t, 1, testutil.CollectAndCount(m.EventDuration))
	require.Equal(t, 1, testutil.CollectAndCount(m.Refusals), "series without a hub label stay")
	require.Equal(t, 3.0, testutil.ToFloat64(m.SocketConnections.WithLabelValues("kept")))
}
