package console

import (
	"net/http"
	"sort"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// Metric families the operations glance reads.
const (
	metricConnections = "hubd_sio_connections"
	metricSockets     = "hubd_hub_sockets"
	metricRooms       = "hubd_hub_rooms"
	metricMembers     = "hubd_hub_room_members"
	metricMessages    = "hubd_hub_messages_total"
	metricEventErrors = "hubd_hub_event_errors_total"
	metricRESTErrors  = "hubd_rest_requests_total"
)

// Sampling bounds: rates are per minute over the newest sample at least
// rateWindow old (or the oldest kept); samples closer than minGap to the
// previous one are not kept, so polling clients cannot grow the buffer.
const (
	rateWindow = time.Minute
	keepFor    = 3 * time.Minute
	minGap     = 2 * time.Second
	maxSamples = 128
)

// hubOps is one hub's row of the operations glance.
type hubOps struct {
	Hub     string  `json:"hub"`
	Sockets float64 `json:"sockets"`
	Rooms   float64 `json:"rooms"`
	Members float64 `json:"members"`
	// Messages and Errors are totals since start; the per-minute rates are
	// absent until a second sample exists.
	Messages          float64            `json:"messages"`
	MessagesPerMinute *float64           `json:"messagesPerMinute,omitempty"`
	Errors            map[string]float64 `json:"errors"`
	ErrorsPerMinute   map[string]float64 `json:"errorsPerMinute,omitempty"`
}

type opsResponse struct {
	At            time.Time `json:"at"`
	WindowSeconds float64   `json:"windowSeconds"`
	Connections   float64   `json:"connections"`
	Hubs          []*hubOps `json:"hubs"`
}

func (c *Console) serveOps(w http.ResponseWriter, _ *http.Request) {
	if c.opts.Metrics == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "no metrics registry")
		return
	}
	fams, err := c.opts.Metrics.Gather()
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL", "gather metrics: "+err.Error())
		return
	}
	writeJSON(w, http.StatusOK, c.rates.glance(fams))
}

// counterKey names one counter series the sampler follows.
type counterKey struct{ hub, code string } // code "" is the messages total

type sample struct {
	at     time.Time
	values map[counterKey]float64
}

// sampler keeps recent counter values to turn totals into rates.
type sampler struct {
	now     func() time.Time
	mu      sync.Mutex
	samples []sample
}

func newSampler(now func() time.Time) *sampler { return &sampler{now: now} }

// glance builds the operations glance from gathered metric families.
func (s *sampler) glance(fams []*dto.MetricFamily) opsResponse {
	now := s.now()
	rows := map[string]*hubOps{}
	row := func(hub string) *hubOps {
		if r := rows[hub]; r != nil {
			return r
		}
		r := &hubOps{Hub: hub, Errors: map[string]float64{}}
		rows[hub] = r
		return r
	}
	out := opsResponse{At: now.UTC()}
	cur := map[counterKey]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			l := labels(m)
			switch f.GetName() {
			case metricConnections:
				out.Connections += m.GetGauge().GetValue()
			case metricSockets:
				row(l["hub"]).Sockets += m.GetGauge().GetValue()
			case metricRooms:
				row(l["hub"]).Rooms += m.GetGauge().GetValue()
			case metricMembers:
				row(l["hub"]).Members += m.GetGauge().GetValue()
			case metricMessages:
				row(l["hub"]).Messages += m.GetCounter().GetValue()
				cur[counterKey{hub: l["hub"]}] += m.GetCounter().GetValue()
			case metricEventErrors, metricRESTErrors:
				if l["code"] == "" { // REST successes
					continue
				}
				v := m.GetCounter().GetValue()
				row(l["hub"]).Errors[l["code"]] += v
				cur[counterKey{hub: l["hub"], code: l["code"]}] += v
			}
		}
	}
	base, ok := s.record(sample{at: now, values: cur})
	if ok {
		out.WindowSeconds = now.Sub(base.at).Seconds()
		perMin := time.Minute.Seconds() / out.WindowSeconds
		for k, v := range cur {
			d := v - base.values[k]
			if d < 0 { // a counter reset: count from zero
				d = v
			}
			r := row(k.hub)
			if k.code == "" {
				x := d * perMin
				r.MessagesPerMinute = &x
				continue
			}
			if r.ErrorsPerMinute == nil {
				r.ErrorsPerMinute = map[string]float64{}
			}
			r.ErrorsPerMinute[k.code] = d * perMin
		}
	}
	out.Hubs = make([]*hubOps, 0, len(rows))
	for _, r := range rows {
		out.Hubs = append(out.Hubs, r)
	}
	sort.Slice(out.Hubs, func(i, j int) bool { return out.Hubs[i].Hub < out.Hubs[j].Hub })
	return out
}

// record keeps cur (unless the previous sample is too recent) and returns
// the sample rates are measured from: the newest one at least rateWindow
// older than cur, else the oldest one older than cur.
func (s *sampler) record(cur sample) (sample, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := s.samples[:0]
	for _, x := range s.samples {
		if cur.at.Sub(x.at) <= keepFor {
			kept = append(kept, x)
		}
	}
	s.samples = kept
	var base sample
	found := false
	for _, x := range s.samples {
		if !x.at.Before(cur.at) {
			continue
		}
		if !found || cur.at.Sub(x.at) >= rateWindow {
			base, found = x, true
		}
	}
	if n := len(s.samples); n == 0 || cur.at.Sub(s.samples[n-1].at) >= minGap {
		if n >= maxSamples {
			s.samples = append(s.samples[:0], s.samples[1:]...)
		}
		s.samples = append(s.samples, cur)
	}
	return base, found
}

func labels(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}
