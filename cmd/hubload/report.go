package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
)

// Report is what one hubload run prints; sections a scenario does not fill
// are omitted.
type Report struct {
	Scenario  string         `json:"scenario"`
	URL       string         `json:"url"`
	Namespace string         `json:"namespace"`
	Clients   int            `json:"clients"`
	Seconds   float64        `json:"durationSec"`
	Connect   *ConnectStats  `json:"connect,omitempty"`
	Traffic   *TrafficStats  `json:"traffic,omitempty"`
	Memory    *MemoryStats   `json:"memory,omitempty"`
	Crowd     *CrowdStats    `json:"crowd,omitempty"`
	CPU       *CPUStats      `json:"cpu,omitempty"`
	Errors    map[string]int `json:"errors"`
	// LoadAverage is /proc/loadavg's first three fields at the end of the
	// run: on a shared machine it says how much the figures can be trusted.
	LoadAverage string `json:"loadAverage,omitempty"`
}

// TrafficStats covers the fanout and rooms scenarios. Sent, Expected,
// Delivered and the ack counts are about messages sent inside the window;
// the per-second figures count what arrived while the window was open.
type TrafficStats struct {
	Rooms      int     `json:"rooms"`
	Senders    int     `json:"senders"`
	Mode       string  `json:"mode"`               // open or closed
	Inflight   int     `json:"inflight,omitempty"` // closed loop: sends in flight per sender
	TargetRate float64 `json:"targetRate"`         // open loop: msgs/s offered

	Sent              int64       `json:"sent"`
	SendRate          float64     `json:"sendRate"`
	SendWriteErrors   int64       `json:"sendWriteErrors"`
	SkippedBehind     int64       `json:"skippedBehindSchedule"`
	Expected          int64       `json:"expectedDeliveries"`
	Delivered         int64       `json:"delivered"`
	DeliveredPerSec   float64     `json:"deliveredPerSec"`
	Latency           Percentiles `json:"latency"`
	AcksOK            int64       `json:"acksOk"`
	AcksFailed        int64       `json:"acksFailed"`
	AcksMissing       int64       `json:"acksMissing"`
	PersistedPerSec   float64     `json:"persistedPerSec"`
	AckLatency        Percentiles `json:"ackLatency"`
	UnparsedDelivered int64       `json:"unparsedDelivered"`
}

// MemoryStats is the server's memory around the ramp. Readings before the
// ramp and after the settle follow a collection (GC says how); the heap and
// stack figures come from the server's /metrics (with --admin-url).
type MemoryStats struct {
	GC                    string  `json:"gc"`
	BeforeBytes           int64   `json:"beforeBytes"`
	AfterRampBytes        int64   `json:"afterRampBytes"`
	AfterBytes            int64   `json:"afterBytes"`
	PerConnBytes          float64 `json:"perConnBytes"`
	BeforeHeapInuseBytes  int64   `json:"beforeHeapInuseBytes,omitempty"`
	AfterHeapInuseBytes   int64   `json:"afterHeapInuseBytes,omitempty"`
	HeapPerConnBytes      float64 `json:"heapPerConnBytes,omitempty"`
	BeforeStackInuseBytes int64   `json:"beforeStackInuseBytes,omitempty"`
	AfterStackInuseBytes  int64   `json:"afterStackInuseBytes,omitempty"`
	StackPerConnBytes     float64 `json:"stackPerConnBytes,omitempty"`
	BeforeGoroutines      int64   `json:"beforeGoroutines,omitempty"`
	AfterGoroutines       int64   `json:"afterGoroutines,omitempty"`
}

// memoryStats compares two readings over n connections.
func memoryStats(gc string, before, afterRamp, after memSample, n int) *MemoryStats {
	m := &MemoryStats{
		GC:                    gc,
		BeforeBytes:           before.rss,
		AfterRampBytes:        afterRamp.rss,
		AfterBytes:            after.rss,
		BeforeHeapInuseBytes:  before.heapInuse,
		AfterHeapInuseBytes:   after.heapInuse,
		BeforeStackInuseBytes: before.stackInuse,
		AfterStackInuseBytes:  after.stackInuse,
		BeforeGoroutines:      before.goroutines,
		AfterGoroutines:       after.goroutines,
	}
	if n > 0 {
		m.PerConnBytes = float64(after.rss-before.rss) / float64(n)
		if after.heapInuse > 0 {
			m.HeapPerConnBytes = float64(after.heapInuse-before.heapInuse) / float64(n)
			m.StackPerConnBytes = float64(after.stackInuse-before.stackInuse) / float64(n)
		}
	}
	return m
}

func (rep *Report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func (rep *Report) writeText(w io.Writer) error {
	var err error
	pf := func(format string, a ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, a...)
		}
	}
	pf("scenario %s  url %s  namespace %s  clients %d\n", rep.Scenario, rep.URL, rep.Namespace, rep.Clients)
	if c := rep.Connect; c != nil {
		pf("connect   opened %d  failed %d  in %.2fs  %.0f conn/s  (concurrency %d)\n",
			c.Opened, c.Failed, c.Seconds, c.PerSec, c.Concurrent)
		pf("          connect latency p50 %.1fms  p90 %.1fms  p99 %.1fms  max %.1fms\n",
			c.LatencyMs.P50, c.LatencyMs.P90, c.LatencyMs.P99, c.LatencyMs.Max)
	}
	if t := rep.Traffic; t != nil {
		pace := fmt.Sprintf("target %.0f msg/s", t.TargetRate)
		if t.Mode == "closed" {
			pace = fmt.Sprintf("closed loop, %d in flight each", t.Inflight)
		}
		pf("traffic   %d rooms  %d senders  %s  sent %d (%.0f msg/s)  skipped %d  write errors %d\n",
			t.Rooms, t.Senders, pace, t.Sent, t.SendRate, t.SkippedBehind, t.SendWriteErrors)
		pf("delivery  %.0f deliveries/s  delivered %d of %d expected (%.2f%%)\n",
			t.DeliveredPerSec, t.Delivered, t.Expected, pct(t.Delivered, t.Expected))
		pf("          latency p50 %.1fms  p90 %.1fms  p99 %.1fms  max %.1fms\n",
			t.Latency.P50, t.Latency.P90, t.Latency.P99, t.Latency.Max)
		pf("acks      ok %d  failed %d  missing %d  %.0f persisted/s\n",
			t.AcksOK, t.AcksFailed, t.AcksMissing, t.PersistedPerSec)
		pf("          ack latency p50 %.1fms  p90 %.1fms  p99 %.1fms  max %.1fms\n",
			t.AckLatency.P50, t.AckLatency.P90, t.AckLatency.P99, t.AckLatency.Max)
	}
	if m := rep.Memory; m != nil {
		pf("memory    server rss %.1f MiB -> %.1f MiB (after ramp %.1f MiB)  %.0f bytes/conn  (gc: %s)\n",
			mib(m.BeforeBytes), mib(m.AfterBytes), mib(m.AfterRampBytes), m.PerConnBytes, m.GC)
		if m.AfterHeapInuseBytes > 0 {
			pf("          heap in use %.1f -> %.1f MiB (%.0f bytes/conn)  stacks %.1f -> %.1f MiB (%.0f bytes/conn)  goroutines %d -> %d\n",
				mib(m.BeforeHeapInuseBytes), mib(m.AfterHeapInuseBytes), m.HeapPerConnBytes,
				mib(m.BeforeStackInuseBytes), mib(m.AfterStackInuseBytes), m.StackPerConnBytes,
				m.BeforeGoroutines, m.AfterGoroutines)
		}
	}
	if c := rep.Crowd; c != nil {
		pf("crowd     %d idle held to the end of %d  pings answered %d  fan-out room %s  server rss at end %.1f MiB\n",
			c.HeldAtEnd, c.Idle, c.PingsAnswered, c.FanoutRoom, mib(c.RSSAtEndBytes))
	}
	if c := rep.CPU; c != nil {
		pf("cpu       server %.2f cores  hubload %.2f cores (during the window)\n", c.ServerCores, c.ClientCores)
	}
	if rep.LoadAverage != "" {
		pf("machine   load average %s\n", rep.LoadAverage)
	}
	kinds := make([]string, 0, len(rep.Errors))
	for k := range rep.Errors {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	if len(kinds) == 0 {
		pf("errors    none\n")
	}
	for _, k := range kinds {
		pf("error     %6d  %s\n", rep.Errors[k], k)
	}
	return err
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
