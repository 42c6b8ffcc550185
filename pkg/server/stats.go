package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/sio"
	"github.com/hubd/hubd/pkg/timerwheel"
)

// statsSnapshot holds the counters of every component, read once per
// scrape.
type statsSnapshot struct {
	sio      sio.Stats
	wheel    timerwheel.Stats
	adapter  *sio.AdapterStats       // nil without Redis
	embedded *msgstore.EmbeddedStats // nil unless the embedded store runs
	postgres *msgstore.PostgresStats // nil unless the PostgreSQL store runs
}

// statsRow is one exported series: its metric, its one label (name and
// value, or none) and how it is read from a snapshot (false: not exported
// on this daemon, e.g. adapter series without Redis).
type statsRow struct {
	name, help   string
	kind         prometheus.ValueType
	label, value string
	read         func(*statsSnapshot) (float64, bool)
}

func sioStat(f func(sio.Stats) uint64) func(*statsSnapshot) (float64, bool) {
	return func(st *statsSnapshot) (float64, bool) { return float64(f(st.sio)), true }
}

func wheelStat(f func(timerwheel.Stats) float64) func(*statsSnapshot) (float64, bool) {
	return func(st *statsSnapshot) (float64, bool) { return f(st.wheel), true }
}

func adapterStat(f func(sio.AdapterStats) uint64) func(*statsSnapshot) (float64, bool) {
	return func(st *statsSnapshot) (float64, bool) {
		if st.adapter == nil {
			return 0, false
		}
		return float64(f(*st.adapter)), true
	}
}

// storeStat reads the embedded store's counter (emb) or the PostgreSQL
// store's (pg); a nil reader means the store has no such counter.
func storeStat(emb func(msgstore.EmbeddedStats) uint64, pg func(msgstore.PostgresStats) uint64) func(*statsSnapshot) (float64, bool) {
	return func(st *statsSnapshot) (float64, bool) {
		switch {
		case st.embedded != nil && emb != nil:
			return float64(emb(*st.embedded)), true
		case st.postgres != nil && pg != nil:
			return float64(pg(*st.postgres)), true
		}
		return 0, false
	}
}

const (
	counter = prometheus.CounterValue
	gauge   = prometheus.GaugeValue

	helpPackets    = "Engine.IO packets by direction."
	helpBytes      = "Engine.IO payload bytes by direction."
	helpBroadcasts = "Broadcasts by origin: emitted on this node (local) or received from another (remote)."
	helpPublish    = "Broadcasts handed to the cluster adapter (Redis), by result: published, error (PUBLISH failed), dropped (publish queue full)."
	helpReceived   = "Broadcasts received from other nodes, by result: delivered, dropped (delivery queue full), decode_error."
)

// statsRows is every series the stats collector exports.
var statsRows = []statsRow{
	{"hubd_sio_connections_total", "Engine.IO handshakes accepted.", counter, "", "", sioStat(func(s sio.Stats) uint64 { return s.ConnectionsTotal })},
	{"hubd_sio_sockets", "Connected Socket.IO sockets, every namespace.", gauge, "", "", sioStat(func(s sio.Stats) uint64 { return uint64(s.Sockets) })},
	{"hubd_sio_packets_total", helpPackets, counter, "direction", "in", sioStat(func(s sio.Stats) uint64 { return s.PacketsIn })},
	{"hubd_sio_packets_total", helpPackets, counter, "direction", "out", sioStat(func(s sio.Stats) uint64 { return s.PacketsOut })},
	{"hubd_sio_bytes_total", helpBytes, counter, "direction", "in", sioStat(func(s sio.Stats) uint64 { return s.BytesIn })},
	{"hubd_sio_bytes_total", helpBytes, counter, "direction", "out", sioStat(func(s sio.Stats) uint64 { return s.BytesOut })},
	{"hubd_sio_write_syscalls_total", "WebSocket write system calls (each carries one or more packets).", counter, "", "", sioStat(func(s sio.Stats) uint64 { return s.Writes })},
	{"hubd_sio_slow_consumer_disconnects_total", "Connections closed because their write queue was full.", counter, "", "", sioStat(func(s sio.Stats) uint64 { return s.SlowConsumerDisconnects })},
	{"hubd_sio_parse_errors_total", "Connections closed for a malformed packet.", counter, "", "", sioStat(func(s sio.Stats) uint64 { return s.ParseErrors })},
	{"hubd_sio_oversize_events_total", "Events refused for exceeding their hub's size cap.", counter, "", "", sioStat(func(s sio.Stats) uint64 { return s.OversizeEvents })},
	{"hubd_sio_broadcasts_total", helpBroadcasts, counter, "origin", "local", sioStat(func(s sio.Stats) uint64 { return s.Broadcasts })},
	{"hubd_sio_broadcasts_total", helpBroadcasts, counter, "origin", "remote", sioStat(func(s sio.Stats) uint64 { return s.RemoteBroadcasts })},

	{"hubd_timerwheel_timers", "Scheduled timers not yet fired or stopped.", gauge, "", "", wheelStat(func(w timerwheel.Stats) float64 { return float64(w.Timers) })},
	{"hubd_timerwheel_running", "Timer callbacks running now.", gauge, "", "", wheelStat(func(w timerwheel.Stats) float64 { return float64(w.Running) })},
	{"hubd_timerwheel_fired_total", "Timer callbacks started.", counter, "", "", wheelStat(func(w timerwheel.Stats) float64 { return float64(w.Fired) })},
	{"hubd_timerwheel_skipped_total", "Timer firings dropped because the previous callback still ran.", counter, "", "", wheelStat(func(w timerwheel.Stats) float64 { return float64(w.Skipped) })},
	{"hubd_timerwheel_ticks_total", "Ticks the timer wheel advanced (ticks_total behind wall time is lag).", counter, "", "", wheelStat(func(w timerwheel.Stats) float64 { return float64(w.Ticks) })},

	{"hubd_sio_adapter_publish_total", helpPublish, counter, "result", "published", adapterStat(func(a sio.AdapterStats) uint64 { return a.Published })},
	{"hubd_sio_adapter_publish_total", helpPublish, counter, "result", "error", adapterStat(func(a sio.AdapterStats) uint64 { return a.PublishErrors })},
	{"hubd_sio_adapter_publish_total", helpPublish, counter, "result", "dropped", adapterStat(func(a sio.AdapterStats) uint64 { return a.PublishDropped })},
	{"hubd_sio_adapter_received_total", helpReceived, counter, "result", "delivered", adapterStat(func(a sio.AdapterStats) uint64 { return a.Received - min(a.Received, a.DeliveryDropped) })},
	{"hubd_sio_adapter_received_total", helpReceived, counter, "result", "dropped", adapterStat(func(a sio.AdapterStats) uint64 { return a.DeliveryDropped })},
	{"hubd_sio_adapter_received_total", helpReceived, counter, "result", "decode_error", adapterStat(func(a sio.AdapterStats) uint64 { return a.DecodeErrors })},
	{"hubd_sio_adapter_reconnects_total", "Cluster adapter subscriptions re-established.", counter, "", "", adapterStat(func(a sio.AdapterStats) uint64 { return a.Reconnects })},

	{"hubd_msgstore_commits_total", "Write transactions committed by the message store (writes_total / commits_total is the mean batch size).", counter, "", "",
		storeStat(func(e msgstore.EmbeddedStats) uint64 { return e.Commits }, func(p msgstore.PostgresStats) uint64 { return p.Commits })},
	{"hubd_msgstore_writes_total", "Writes committed by the message store; a transaction holds one or more.", counter, "", "",
		storeStat(func(e msgstore.EmbeddedStats) uint64 { return e.Writes }, func(p msgstore.PostgresStats) uint64 { return p.Appends })},
	{"hubd_msgstore_rollbacks_total", "Embedded store transactions rolled back because one write failed.", counter, "", "",
		storeStat(func(e msgstore.EmbeddedStats) uint64 { return e.Rollbacks }, nil)},
	{"hubd_msgstore_batch_fallbacks_total", "PostgreSQL batches that failed and were retried one append at a time.", counter, "", "",
		storeStat(nil, func(p msgstore.PostgresStats) uint64 { return p.Fallbacks })},
}

// statsCollector exports what the transport, the timer wheel, the cluster
// adapter and the message store count themselves (their Stats methods) as
// Prometheus metrics, read at scrape time.
type statsCollector struct {
	s     *Server
	descs map[string]*prometheus.Desc // by metric name: label values share one
}

var _ prometheus.Collector = (*statsCollector)(nil)

func newStatsCollector(s *Server) *statsCollector {
	c := &statsCollector{s: s, descs: map[string]*prometheus.Desc{}}
	for _, r := range statsRows {
		if c.descs[r.name] != nil {
			continue
		}
		var labels []string
		if r.label != "" {
			labels = []string{r.label}
		}
		c.descs[r.name] = prometheus.NewDesc(r.name, r.help, labels, nil)
	}
	return c
}

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.statsSnapshot()
	for _, r := range statsRows {
		v, ok := r.read(st)
		if !ok {
			continue
		}
		var values []string
		if r.label != "" {
			values = []string{r.value}
		}
		ch <- prometheus.MustNewConstMetric(c.descs[r.name], r.kind, v, values...)
	}
}

// statsSnapshot reads every component's counters.
func (s *Server) statsSnapshot() *statsSnapshot {
	st := &statsSnapshot{sio: s.sio.Stats(), wheel: s.wheel.Stats()}
	if s.adapter != nil {
		a := s.adapter.Stats()
		st.adapter = &a
	}
	switch store := s.back.store.(type) {
	case *msgstore.Embedded:
		e := store.Stats()
		st.embedded = &e
	case *msgstore.Postgres:
		p := store.Stats()
		st.postgres = &p
	}
	return st
}
