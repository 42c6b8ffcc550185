// Package metrics defines hubd's Prometheus metrics. Names follow
// hubd_<subsystem>_<name>_<unit>; labels come only from bounded sets
// (hub, event, code, result), never from users or rooms.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics holds every collector the daemon updates. A nil *Metrics is not
// valid; use New or NewUnregistered in tests.
type Metrics struct {
	Registry *prometheus.Registry

	HubsLoaded        prometheus.Gauge
	ReloadsTotal      *prometheus.CounterVec // result=success|failure
	ReloadLastSuccess prometheus.Gauge
	// ReloadSuccessTime is the Unix time of the last successful load of
	// the hub directory (the start, then each reload).
	ReloadSuccessTime prometheus.Gauge

	SocketConnections  *prometheus.GaugeVec   // hub
	EventsTotal        *prometheus.CounterVec // hub, event
	EventErrorsTotal   *prometheus.CounterVec // hub, event, code
	MessagesTotal      *prometheus.CounterVec // hub, type=builtin|custom
	RoomMembers        *prometheus.GaugeVec   // hub
	Rooms              *prometheus.GaugeVec   // hub
	EventDuration      *prometheus.HistogramVec
	StoreWriteDuration prometheus.Histogram
	AuthDecisionsTotal *prometheus.CounterVec // hub, layer, result
	ScriptDuration     *prometheus.HistogramVec
	ScriptErrorsTotal  *prometheus.CounterVec
	ConnectErrorsTotal *prometheus.CounterVec   // hub, reason
	RecoveriesTotal    *prometheus.CounterVec   // hub, result
	BridgeRecordsTotal *prometheus.CounterVec   // direction, kind, result
	RESTRequestsTotal  *prometheus.CounterVec   // hub, route, code
	RESTDuration       *prometheus.HistogramVec // hub, route
	// OwnerForwards counts requests forwarded to a room's owner node.
	OwnerForwards *prometheus.CounterVec // hub, kind, result
	// SessionTakeovers counts the resumed sessions whose socket was still
	// open on another node, which was asked to end it (hub package,
	// recovery_takeover.go).
	SessionTakeovers *prometheus.CounterVec // hub, result=ended|gone|no_answer|unsent
	// ScheduleLeaseErrors counts failed calls to the lease backend that
	// picks the node running a room's scheduled actions.
	ScheduleLeaseErrors *prometheus.CounterVec // hub
	// PresenceErrors counts failed calls to the cluster presence registry;
	// the node then falls back to its own view of the room.
	PresenceErrors *prometheus.CounterVec // hub
	// Refusals counts inputs the daemon refused to protect itself or its
	// other users (a hostile client, web page or hub script), by reason.
	// Reasons come from a fixed set named where each refusal happens
	// (docs/security.md lists them).
	Refusals *prometheus.CounterVec // reason
	// SequenceGaps counts the gaps in a room's sequence numbers that a
	// node's sequencer met: repaired from the message store, skipped (no
	// store answer after the bounded retries), and failed store reads.
	SequenceGaps *prometheus.CounterVec // hub, result=repaired|skipped|failed
	// RedisDegraded is 1 while the node gives up on Redis at once (it did
	// not answer in time) and runs on its own view; 0 otherwise.
	RedisDegraded prometheus.Gauge
	// StoreBatchSize and StoreCommitDuration describe the message store's
	// group commits: writes per transaction and the transaction's time.
	StoreBatchSize      prometheus.Histogram
	StoreCommitDuration prometheus.Histogram
	// TimerWheelLag is how late the timer wheel processes its ticks.
	TimerWheelLag prometheus.Histogram
}

// New creates the metrics and registers them, with Go and process
// collectors, on a fresh registry.
func New() *Metrics {
	m := NewUnregistered()
	m.Registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// NewUnregistered creates the metrics on a fresh registry without the
// runtime collectors (for tests).
func NewUnregistered() *Metrics {
	r := prometheus.NewRegistry()
	f := func(c prometheus.Collector) { r.MustRegister(c) }
	m := &Metrics{Registry: r}
	m.HubsLoaded = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hubd_config_hubs_loaded", Help: "Number of hubs in the active registry.",
	})
	m.ReloadsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_config_reloads_total", Help: "Hub directory reloads by result.",
	}, []string{"result"})
	m.ReloadLastSuccess = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hubd_config_last_reload_successful", Help: "1 if the last reload succeeded, 0 otherwise.",
	})
	m.SocketConnections = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hubd_hub_sockets", Help: "Sockets connected to a hub namespace.",
	}, []string{"hub"})
	m.EventsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_hub_events_total", Help: "Client events received by hub and event name.",
	}, []string{"hub", "event"})
	m.EventErrorsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_hub_event_errors_total", Help: "Client events rejected, by hub, event and error code.",
	}, []string{"hub", "event", "code"})
	m.MessagesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_hub_messages_total", Help: "Messages stored, by hub and status.",
	}, []string{"hub", "status"})
	m.RoomMembers = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hubd_hub_room_members", Help: "Joined room memberships (user, room pairs) on this node.",
	}, []string{"hub"})
	m.Rooms = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hubd_hub_rooms", Help: "Rooms with at least one member on this node.",
	}, []string{"hub"})
	m.EventDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hubd_hub_event_duration_seconds", Help: "Time to handle a client event.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"hub", "event"})
	m.StoreWriteDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "hubd_msgstore_write_duration_seconds", Help: "Time to persist one message.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
	})
	m.AuthDecisionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_authz_decisions_total", Help: "Room authorization decisions by hub, deciding layer and result.",
	}, []string{"hub", "layer", "result"})
	m.ScriptDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hubd_scripting_call_duration_seconds", Help: "MScript call duration.",
		Buckets: []float64{.0001, .0005, .001, .005, .01, .05, .1, .5, 1},
	}, []string{"kind"})
	m.ScriptErrorsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_scripting_errors_total", Help: "MScript call failures by kind.",
	}, []string{"kind"})
	m.OwnerForwards = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_hub_owner_forwards_total",
		Help: "Handler sends and state requests forwarded to the node owning the room, by kind (send, state) and result (answered, no_answer, unpublished).",
	}, []string{"hub", "kind", "result"})
	m.RecoveriesTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_hub_recoveries_total",
		Help: "Reconnects that asked to resume a session, by result (recovered, recovered_by_time, expired, refused, unavailable).",
	}, []string{"hub", "result"})
	m.SessionTakeovers = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_hub_session_takeovers_total",
		Help: "Resumed sessions whose socket was still open on another node, asked to end it, by result (ended, gone, no_answer, unsent).",
	}, []string{"hub", "result"})
	m.ConnectErrorsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_hub_connect_errors_total", Help: "Rejected namespace connections by hub and reason.",
	}, []string{"hub", "reason"})
	m.BridgeRecordsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_bridge_records_total", Help: "Kafka records consumed (in) and produced (out), by kind and result.",
	}, []string{"direction", "kind", "result"})
	m.RESTRequestsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_rest_requests_total", Help: "REST requests by hub, route pattern and error code (empty on success).",
	}, []string{"hub", "route", "code"})
	m.RESTDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "hubd_rest_request_duration_seconds", Help: "REST request duration by hub and route pattern.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"hub", "route"})
	m.ScheduleLeaseErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_schedule_lease_errors_total", Help: "Failed scheduled-action lease calls (acquire, renew, release) by hub.",
	}, []string{"hub"})
	m.PresenceErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_presence_errors_total", Help: "Failed cluster presence registry calls (join, update, leave, list) by hub.",
	}, []string{"hub"})
	m.Refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_refusals_total", Help: "Inputs refused to protect the daemon and its other users, by reason.",
	}, []string{"reason"})
	m.ReloadSuccessTime = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hubd_config_last_reload_success_timestamp_seconds", Help: "Unix time of the last successful load of the hub directory.",
	})
	m.SequenceGaps = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_cluster_sequence_gaps_total", Help: "Gaps in a room's sequence numbers met on this node, by hub and result (repaired, skipped, failed).",
	}, []string{"hub", "result"})
	m.RedisDegraded = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hubd_redis_degraded", Help: "1 while Redis does not answer in time and the node runs on its own view (presence, limits, leases, auth cache), else 0.",
	})
	m.StoreBatchSize = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "hubd_msgstore_batch_size", Help: "Writes group-committed in one message store transaction.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 to 1024
	})
	m.StoreCommitDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "hubd_msgstore_commit_duration_seconds", Help: "Time of one message store group commit (the whole batch's transaction).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	})
	m.TimerWheelLag = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "hubd_timerwheel_lag_seconds", Help: "How late the timer wheel processed a tick after it was due.",
		Buckets: []float64{.0001, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	})
	for _, c := range []prometheus.Collector{
		m.SessionTakeovers,
		m.StoreBatchSize, m.StoreCommitDuration, m.TimerWheelLag,
		m.ReloadSuccessTime, m.RedisDegraded, m.SequenceGaps, m.Refusals, m.PresenceErrors, m.ScheduleLeaseErrors, m.OwnerForwards, m.BridgeRecordsTotal, m.RESTRequestsTotal, m.RESTDuration,
		m.HubsLoaded, m.ReloadsTotal, m.ReloadLastSuccess, m.SocketConnections, m.EventsTotal,
		m.EventErrorsTotal, m.MessagesTotal, m.RoomMembers, m.Rooms, m.EventDuration, m.StoreWriteDuration,
		m.AuthDecisionsTotal, m.ScriptDuration, m.ScriptErrorsTotal, m.ConnectErrorsTotal, m.RecoveriesTotal,
	} {
		f(c)
	}
	return m
}

// ObserveCommit records one group commit of the message store (see
// msgstore.CommitObserver).
func (m *Metrics) ObserveCommit(writes int, d time.Duration) {
	m.StoreBatchSize.Observe(float64(writes))
	m.StoreCommitDuration.Observe(d.Seconds())
}

// ObserveTimerLag records how late the timer wheel processed a tick.
func (m *Metrics) ObserveTimerLag(d time.Duration) {
	m.TimerWheelLag.Observe(d.Seconds())
}
