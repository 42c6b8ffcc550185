package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/sio"
)

// statsMetric is one metric read from a component's Stats() at scrape time.
type statsMetric struct {
	desc  *prometheus.Desc
	kind  prometheus.ValueType
	value func(*statsSnapshot) (float64, bool) // false: not exported (backend absent)
	label string                               // the one label value, "" for none
}

// statsSnapshot holds the counters of every component, read once per
// scrape.
type statsSnapshot struct {
	sio      sio.Stats
	wheel    struct{ timers, fired, skipped, ticks, running float64 }
	adapter  *sio.AdapterStats
	embedded *msgstore.EmbeddedStats
	postgres *msgstore.PostgresStats
}

// statsCollector exports what the transport, the timer wheel, the cluster
// adapter and the message store count themselves (their Stats methods) as
// Prometheus metrics, read at scrape time.
type statsCollector struct {
	s       *Server
	metrics []statsMetric
}

var _ prometheus.Collector = (*statsCollector)(nil)

func newStatsCollector(s *Server) *statsCollector {
	c := &statsCollector{s: s}
	counter, gauge := prometheus.CounterValue, prometheus.GaugeValue
	descs := map[string]*prometheus.Desc{} // one per name: label values share it
	add := func(name, help string, kind prometheus.ValueType, labels []string, label string, v func(*statsSnapshot) (float64, bool)) {
		if descs[name] == nil {
			descs[name] = prometheus.NewDesc(name, help, labels, nil)
		}
		c.metrics = append(c.metrics, statsMetric{desc: descs[name], kind: kind, value: v, label: label})
	}
	always := func(f func(*statsSnapshot) float64) func(*statsSnapshot) (float64, bool) {
		return func(st *statsSnapshot) (float64, bool) { return f(st), true }
	}
	dir := []string{"direction"}
	add("hubd_sio_connections_total", "Engine.IO handshakes accepted.", counter, nil, "",
		always(func(st *statsSnapshot) float64 { return float64(st.sio.ConnectionsTotal) }))
	add("hubd_sio_sockets", "Connected Socket.IO sockets, every namespace.", gauge, nil, "",
		always(func(st *statsSnapshot) float64 { return float64(st.sio.Sockets) }))
	add("hubd_sio_packets_total", "Engine.IO packets by direction.", counter, dir, "in",
		always(func(st *statsSnapshot) float64 { return float64(st.sio.PacketsIn) }))
	add("hubd_sio_packets_total", "Engine.IO packets by direction.", counter, dir, "out",
		always(func(st *statsSnapshot) float64 { return float64(st.sio.PacketsOut) }))
	add("hubd_sio_bytes_total", "Engine.IO payload bytes by direction.", counter, dir, "in",
		always(func(st *statsSnapshot) float64 { return float64(st.sio.BytesIn) }))
	add("hubd_sio_bytes_total", "Engine.IO payload bytes by direction.", counter, dir, "out",
		always(func(st *statsSnapshot) float64 { return float64(st.sio.BytesOut) }))
	add("hubd_sio_write_syscalls_total", "WebSocket write system calls (each carries one or more packets).", counter, nil, "",
		always(func(st *statsSnapshot) float64 { return float64(st.sio.Writes) }))
	add("hubd_sio_slow_consumer_disconnects_total", "Connections closed because their write queue was full.", counter, nil, "",
		always(func(st *statsSnapshot) float64 { return float64(st.sio.SlowConsumerDisconnects) }))
	add("hubd_sio_parse_errors_total", "Connections closed for a malformed packet.", counter, nil, "",
		always(func(st *statsSnapshot) float64 { return float64(st.sio.ParseErrors) }))
	add("hubd_sio_oversize_events_total", "Events refused for exceeding their hub's size cap.", counter, nil, "",
		always(func(st *statsSnapshot) float64 { return float64(st.sio.OversizeEvents) }))
	add("hubd_sio_broadcasts_total", "Broadcasts by origin: emitted on this node (local) or received from another (remote).", counter, []string{"origin"}, "local",
		always(func(st *statsSnapshot) float64 { return float64(st.sio.Broadcasts) }))
	add("hubd_sio_broadcasts_total", "Broadcasts by origin: emitted on this node (local) or received from another (remote).", counter, []string{"origin"}, "remote",
		always(func(st *statsSnapshot) float64 { return float64(st.sio.RemoteBroadcasts) }))

	add("hubd_timerwheel_timers", "Scheduled timers not yet fired or stopped.", gauge, nil, "",
		always(func(st *statsSnapshot) float64 { return st.wheel.timers }))
	add("hubd_timerwheel_running", "Timer callbacks running now.", gauge, nil, "",
		always(func(st *statsSnapshot) float64 { return st.wheel.running }))
	add("hubd_timerwheel_fired_total", "Timer callbacks started.", counter, nil, "",
		always(func(st *statsSnapshot) float64 { return st.wheel.fired }))
	add("hubd_timerwheel_skipped_total", "Timer firings dropped because the previous callback still ran.", counter, nil, "",
		always(func(st *statsSnapshot) float64 { return st.wheel.skipped }))
	add("hubd_timerwheel_ticks_total", "Ticks the timer wheel advanced (one per tick even when late: ticks_total behind wall time is lag).", counter, nil, "",
		always(func(st *statsSnapshot) float64 { return st.wheel.ticks }))

	adapter := func(f func(a *sio.AdapterStats) uint64) func(*statsSnapshot) (float64, bool) {
		return func(st *statsSnapshot) (float64, bool) {
			if st.adapter == nil {
				return 0, false
			}
			return float64(f(st.adapter)), true
		}
	}
	adapterResult := []string{"result"}
	const adapterPub = "Broadcasts handed to the cluster adapter (Redis), by result: published, error (PUBLISH failed), dropped (publish queue full)."
	add("hubd_sio_adapter_publish_total", adapterPub, counter, adapterResult, "published", adapter(func(a *sio.AdapterStats) uint64 { return a.Published }))
	add("hubd_sio_adapter_publish_total", adapterPub, counter, adapterResult, "error", adapter(func(a *sio.AdapterStats) uint64 { return a.PublishErrors }))
	add("hubd_sio_adapter_publish_total", adapterPub, counter, adapterResult, "dropped", adapter(func(a *sio.AdapterStats) uint64 { return a.PublishDropped }))
	const adapterRecv = "Broadcasts received from other nodes, by result: delivered, dropped (delivery queue full), decode_error."
	add("hubd_sio_adapter_received_total", adapterRecv, counter, adapterResult, "delivered",
		adapter(func(a *sio.AdapterStats) uint64 { return a.Received - min(a.Received, a.DeliveryDropped) }))
	add("hubd_sio_adapter_received_total", adapterRecv, counter, adapterResult, "dropped", adapter(func(a *sio.AdapterStats) uint64 { return a.DeliveryDropped }))
	add("hubd_sio_adapter_received_total", adapterRecv, counter, adapterResult, "decode_error", adapter(func(a *sio.AdapterStats) uint64 { return a.DecodeErrors }))
	add("hubd_sio_adapter_reconnects_total", "Cluster adapter subscriptions re-established.", counter, nil, "", adapter(func(a *sio.AdapterStats) uint64 { return a.Reconnects }))

	store := func(emb func(*msgstore.EmbeddedStats) uint64, pg func(*msgstore.PostgresStats) uint64) func(*statsSnapshot) (float64, bool) {
		return func(st *statsSnapshot) (float64, bool) {
			switch {
			case st.embedded != nil && emb != nil:
				return float64(emb(st.embedded)), true
			case st.postgres != nil && pg != nil:
				return float64(pg(st.postgres)), true
			}
			return 0, false
		}
	}
	add("hubd_msgstore_commits_total", "Write transactions committed by the message store (writes_total / commits_total is the mean batch size).", counter, nil, "",
		store(func(e *msgstore.EmbeddedStats) uint64 { return e.Commits }, func(p *msgstore.PostgresStats) uint64 { return p.Commits }))
	add("hubd_msgstore_writes_total", "Writes committed by the message store; a transaction holds one or more.", counter, nil, "",
		store(func(e *msgstore.EmbeddedStats) uint64 { return e.Writes }, func(p *msgstore.PostgresStats) uint64 { return p.Appends }))
	add("hubd_msgstore_rollbacks_total", "Embedded store transactions rolled back because one write failed.", counter, nil, "",
		store(func(e *msgstore.EmbeddedStats) uint64 { return e.Rollbacks }, nil))
	add("hubd_msgstore_batch_fallbacks_total", "PostgreSQL batches that failed and were retried one append at a time.", counter, nil, "",
		store(nil, func(p *msgstore.PostgresStats) uint64 { return p.Fallbacks }))
	return c
}

// Describe implements prometheus.Collector.
func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	seen := map[*prometheus.Desc]bool{}
	for _, m := range c.metrics {
		if !seen[m.desc] {
			seen[m.desc] = true
			ch <- m.desc
		}
	}
}

// Collect implements prometheus.Collector.
func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.statsSnapshot()
	for _, m := range c.metrics {
		v, ok := m.value(st)
		if !ok {
			continue
		}
		var labels []string
		if m.label != "" {
			labels = []string{m.label}
		}
		ch <- prometheus.MustNewConstMetric(m.desc, m.kind, v, labels...)
	}
}

// statsSnapshot reads every component's counters.
func (s *Server) statsSnapshot() *statsSnapshot {
	st := &statsSnapshot{sio: s.sio.Stats()}
	w := s.wheel.Stats()
	st.wheel.timers, st.wheel.running = float64(w.Timers), float64(w.Running)
	st.wheel.fired, st.wheel.skipped, st.wheel.ticks = float64(w.Fired), float64(w.Skipped), float64(w.Ticks)
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
