package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
)

// metricValue reads one sample of the text exposition: name{labels} value.
func metricValue(t *testing.T, body, series string) float64 {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	require.NotNil(t, m, "no series %s in\n%s", series, body)
	v, err := strconv.ParseFloat(m[1], 64)
	require.NoError(t, err)
	return v
}

// TestTransportAndStoreMetrics: what the transport, the timer wheel and the
// store count reaches /metrics.
func TestTransportAndStoreMetrics(t *testing.T) {
	srv := runningServer(t, nil)
	run(t, srv)
	public := "http://" + srv.Addr().String()
	code, _ := httpDo(t, "GET", public+"/socket.io/?EIO=4&transport=polling")
	require.Equal(t, http.StatusOK, code)
	require.Eventually(t, func() bool { return srv.wheel.Stats().Ticks > 0 }, 5*time.Second, 10*time.Millisecond)
	for i := range 3 {
		_, _, err := srv.back.store.Append(context.Background(), &msgstore.Message{HubName: "alpha", RoomID: "r1",
			SenderID: "alice", MessageType: "text", Content: json.RawMessage(fmt.Sprintf(`{"text":"m%d"}`, i))})
		require.NoError(t, err)
	}
	// A commit is observed once its transaction ended, just after its caller was answered.
	require.Eventually(t, func() bool {
		return histogramSum(t, srv, "hubd_msgstore_batch_size") >= 3
	}, 5*time.Second, time.Millisecond)

	code, body := httpDo(t, "GET", "http://"+srv.AdminAddr().String()+"/metrics")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, 1.0, metricValue(t, body, "hubd_sio_connections_total"))
	require.Equal(t, 1.0, metricValue(t, body, `hubd_sio_packets_total{direction="out"}`), "the open packet")
	require.Positive(t, metricValue(t, body, `hubd_sio_bytes_total{direction="out"}`))
	require.Equal(t, 0.0, metricValue(t, body, "hubd_sio_sockets"))
	for _, series := range []string{
		`hubd_sio_packets_total{direction="in"}`, "hubd_sio_write_syscalls_total", "hubd_sio_slow_consumer_disconnects_total",
		"hubd_sio_parse_errors_total", "hubd_sio_oversize_events_total", `hubd_sio_broadcasts_total{origin="local"}`,
		"hubd_timerwheel_timers", "hubd_timerwheel_fired_total", "hubd_msgstore_commits_total", "hubd_msgstore_writes_total",
		"hubd_msgstore_rollbacks_total",
	} {
		metricValue(t, body, series) // present
	}
	require.Positive(t, metricValue(t, body, "hubd_timerwheel_ticks_total"))
	// Group commits: as many observations as commits, sizes adding up to
	// the writes, durations short; timer wheel lag: one per tick processed.
	commits := metricValue(t, body, "hubd_msgstore_commits_total")
	require.Positive(t, commits)
	require.Equal(t, commits, metricValue(t, body, "hubd_msgstore_batch_size_count"))
	require.Equal(t, metricValue(t, body, "hubd_msgstore_writes_total"), metricValue(t, body, "hubd_msgstore_batch_size_sum"))
	require.Equal(t, commits, metricValue(t, body, "hubd_msgstore_commit_duration_seconds_count"))
	commitSum := metricValue(t, body, "hubd_msgstore_commit_duration_seconds_sum")
	require.True(t, commitSum > 0 && commitSum < 10*commits, "commit seconds %v for %v commits", commitSum, commits)
	lagCount := metricValue(t, body, "hubd_timerwheel_lag_seconds_count")
	require.Positive(t, lagCount)
	require.LessOrEqual(t, lagCount, metricValue(t, body, "hubd_timerwheel_ticks_total"))
	lagSum := metricValue(t, body, "hubd_timerwheel_lag_seconds_sum")
	require.True(t, lagSum >= 0 && lagSum/lagCount < 1, "mean lag %vs", lagSum/lagCount)
	metricValue(t, body, `hubd_timerwheel_lag_seconds_bucket{le="+Inf"}`)
	require.NotContains(t, body, "hubd_sio_adapter_", "no cluster adapter without Redis")
	require.NotContains(t, body, "hubd_msgstore_batch_fallbacks_total", "a PostgreSQL counter")
	ts := metricValue(t, body, "hubd_config_last_reload_success_timestamp_seconds")
	require.InDelta(t, float64(time.Now().Unix()), ts, 60)
}

// TestRemovedHubSeriesDeleted: a reload that removes a hub deletes its
// series.
func TestRemovedHubSeriesDeleted(t *testing.T) {
	srv, cfg := testServer(t)
	writeHub(t, cfg.Hubs, "b.yaml", "beta")
	require.NoError(t, srv.Reload())
	for _, hub := range []string{"alpha", "beta"} {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/"+hub+"/rooms/r1/messages", nil))
		require.Equal(t, http.StatusUnauthorized, rec.Code)
	}
	hubSeries := func(hub string) int {
		mfs, err := srv.metrics.Registry.Gather()
		require.NoError(t, err)
		n := 0
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "hub" && l.GetValue() == hub {
						n++
					}
				}
			}
		}
		return n
	}
	require.Positive(t, hubSeries("alpha"))
	require.NoError(t, os.Remove(filepath.Join(cfg.Hubs, "a.yaml")))
	require.NoError(t, srv.Reload())
	require.Zero(t, hubSeries("alpha"))
	require.Positive(t, hubSeries("beta"))
}

// TestAdapterMetrics: with Redis, the cluster adapter's counters reach
// /metrics (HUBD_TEST_REDIS_ADDR).
func TestAdapterMetrics(t *testing.T) {
	addr := os.Getenv("HUBD_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("HUBD_TEST_REDIS_ADDR is not set")
	}
	srv := runningServer(t, func(c *Config) {
		c.Redis.Addr = addr
		c.Redis.Prefix = "hubd-stats-test-" + strconv.Itoa(os.Getpid()) + ":"
	})
	run(t, srv)
	code, body := httpDo(t, "GET", "http://"+srv.AdminAddr().String()+"/metrics")
	require.Equal(t, http.StatusOK, code)
	for _, series := range []string{
		`hubd_sio_adapter_publish_total{result="published"}`, `hubd_sio_adapter_publish_total{result="dropped"}`,
		`hubd_sio_adapter_received_total{result="delivered"}`, `hubd_sio_adapter_received_total{result="decode_error"}`,
		"hubd_sio_adapter_reconnects_total",
	} {
		metricValue(t, body, series)
	}
}

// histogramSum is the sum of the observations of a histogram without labels.
func histogramSum(t *testing.T, srv *Server, name string) float64 {
	t.Helper()
	return firstSeries(t, srv, name).GetHistogram().GetSampleSum()
}
