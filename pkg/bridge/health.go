package bridge

import (
	"context"
	"errors"
	"io"
	"net"
	"sort"
	"sync"
	"syscall"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// Failure reasons, the label of the failure counters.
const (
	ReasonConnection = "connection"    // refused, reset, closed
	ReasonTimeout    = "timeout"       // no answer in time (a frozen broker)
	ReasonTopic      = "unknown_topic" // topic or topic id unknown to the broker
	ReasonRecreated  = "recreated"     // a topic came back with another id
	ReasonLeader     = "leader"        // leadership moved
	ReasonGroup      = "group"         // group membership or coordinator
	ReasonOffset     = "offset"        // offset out of range
	ReasonAuth       = "auth"
	ReasonBuffer     = "buffer_full"
	ReasonOther      = "other"
)

// reasonTable maps broker errors to reasons; the first match wins.
var reasonTable = []struct {
	reason string
	errs   []error
}{
	{ReasonRecreated, []error{errRecreatedInFlight, errTopicsRecreated}},
	{ReasonTopic, []error{kerr.UnknownTopicOrPartition, kerr.UnknownTopicID, kerr.InconsistentTopicID}},
	{ReasonLeader, []error{kerr.NotLeaderForPartition, kerr.LeaderNotAvailable, kerr.FencedLeaderEpoch, kerr.UnknownLeaderEpoch, kerr.ReplicaNotAvailable, kerr.BrokerNotAvailable}},
	{ReasonGroup, []error{kerr.GroupIDNotFound, kerr.CoordinatorNotAvailable, kerr.NotCoordinator, kerr.CoordinatorLoadInProgress, kerr.UnknownMemberID, kerr.IllegalGeneration, kerr.RebalanceInProgress}},
	{ReasonOffset, []error{kerr.OffsetOutOfRange}},
	{ReasonAuth, []error{kerr.SaslAuthenticationFailed, kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed, kerr.ClusterAuthorizationFailed}},
	{ReasonTimeout, []error{context.DeadlineExceeded, kgo.ErrRecordTimeout, kerr.RequestTimedOut}},
	{ReasonBuffer, []error{kgo.ErrMaxBuffered}},
	{ReasonConnection, []error{syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.EPIPE, io.EOF, io.ErrUnexpectedEOF, net.ErrClosed}},
}

// reasonOf classifies a broker error into a bounded reason.
func reasonOf(err error) string {
	for _, r := range reasonTable {
		for _, e := range r.errs {
			if errors.Is(err, e) {
				return r.reason
			}
		}
	}
	var loss *kgo.ErrDataLoss
	if errors.As(err, &loss) {
		return ReasonOffset // the partition was reset below what was consumed
	}
	var ne net.Error
	if errors.As(err, &ne) {
		if ne.Timeout() {
			return ReasonTimeout
		}
		return ReasonConnection
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return ReasonConnection
	}
	return ReasonOther
}

// Parts of the bridge whose health makes hubd_bridge_up.
const (
	PartConsumer = "consumer"
	PartProducer = "producer"
	PartBroker   = "broker" // the metadata check
)

// health holds the bridge's collectors and its up/degraded state.
type health struct {
	log *zap.Logger

	fetchFailures   *prometheus.CounterVec // reason
	produceFailures *prometheus.CounterVec // reason
	rebuilds        *prometheus.CounterVec // client, reason
	duplicates      prometheus.Counter
	outboxDepth     prometheus.Gauge
	outboxAge       prometheus.Gauge
	lag             *prometheus.GaugeVec // topic
	up              prometheus.Gauge

	mu   sync.Mutex
	down map[string]string // part → reason
}

func newHealth(reg prometheus.Registerer, log *zap.Logger) *health {
	h := &health{log: log, down: map[string]string{}}
	h.fetchFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_bridge_fetch_failures_total", Help: "Kafka fetch (consume) failures by reason.",
	}, []string{"reason"})
	h.produceFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_bridge_produce_failures_total", Help: "Kafka records not acknowledged by the broker, by reason.",
	}, []string{"reason"})
	h.rebuilds = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hubd_bridge_client_rebuilds_total", Help: "Kafka clients closed and created again after a failure, by client and reason.",
	}, []string{"client", "reason"})
	h.duplicates = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hubd_bridge_duplicates_total", Help: "Inbound records skipped because the same event was applied before.",
	})
	h.outboxDepth = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hubd_bridge_outbox_depth", Help: "Message events committed and not yet acknowledged by Kafka.",
	})
	h.outboxAge = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hubd_bridge_outbox_oldest_age_seconds", Help: "Age of the oldest unpublished message event (0 when none).",
	})
	h.lag = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hubd_bridge_consumer_lag_records", Help: "Records of a consumed topic not yet handled, summed over the partitions this node consumes.",
	}, []string{"topic"})
	h.up = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "hubd_bridge_up", Help: "1 when the bridge consumes and publishes; 0 when degraded (see the bridge log).",
	})
	h.up.Set(1)
	if reg != nil {
		for _, c := range []prometheus.Collector{h.fetchFailures, h.produceFailures, h.rebuilds, h.duplicates, h.outboxDepth, h.outboxAge, h.lag, h.up} {
			if err := reg.Register(c); err != nil {
				log.Warn("bridge metric not registered", zap.Error(err))
			}
		}
	}
	return h
}

// fail marks part degraded for reason; the failure that takes a part down
// logs (its later failures are the rate-limited warnings of the caller).
func (h *health) fail(part, reason string, err error) {
	h.mu.Lock()
	_, was := h.down[part]
	h.down[part] = reason
	h.up.Set(0)
	h.mu.Unlock()
	if !was {
		h.log.Warn("bridge degraded", zap.String("part", part), zap.String("reason", reason), zap.Error(err))
	}
}

// ok marks part healthy; the bridge is up when every part is.
func (h *health) ok(part string) {
	h.mu.Lock()
	_, was := h.down[part]
	delete(h.down, part)
	up := len(h.down) == 0
	if up {
		h.up.Set(1)
	}
	h.mu.Unlock()
	if was {
		h.log.Info("bridge part recovered", zap.String("part", part), zap.Bool("up", up))
	}
}

// Degraded lists the parts that are down, as "part: reason", sorted; empty
// when the bridge is up.
func (b *Bridge) Degraded() []string {
	h := b.health
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]string, 0, len(h.down))
	for p, r := range h.down {
		out = append(out, p+": "+r)
	}
	sort.Strings(out)
	return out
}
