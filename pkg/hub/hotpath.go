package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hubd/hubd/pkg/metrics"
	"github.com/hubd/hubd/pkg/msgstore"
)

// hotPath holds what every client event reuses instead of allocating it:
// the handlers' contexts and the metric series of each event name and
// message status.
type hotPath struct {
	ctxs     opContexts
	events   sync.Map // metric event name -> *eventSeries
	messages sync.Map // message status -> prometheus.Counter
}

// eventSeries are the metric series of one event name of one hub.
type eventSeries struct {
	total    prometheus.Counter
	duration prometheus.Observer
}

func (p *hotPath) eventSeries(m *metrics.Metrics, hub, event string) *eventSeries {
	if v, ok := p.events.Load(event); ok {
		return v.(*eventSeries)
	}
	es := &eventSeries{
		total:    m.EventsTotal.WithLabelValues(hub, event),
		duration: m.EventDuration.WithLabelValues(hub, event),
	}
	v, _ := p.events.LoadOrStore(event, es)
	return v.(*eventSeries)
}

func (p *hotPath) messageCounter(m *metrics.Metrics, hub, status string) prometheus.Counter {
	if v, ok := p.messages.Load(status); ok {
		return v.(prometheus.Counter)
	}
	v, _ := p.messages.LoadOrStore(status, m.MessagesTotal.WithLabelValues(hub, status))
	return v.(prometheus.Counter)
}

// opContextWindow is how long one shared handler context is handed out.
const opContextWindow = 10 * time.Millisecond

// opContexts hands out the contexts client events run under. Events that
// start within the same opContextWindow share one context, whose deadline
// is the window's end plus the timeout: each event gets at least the
// timeout and at most opContextWindow more, and costs no context or timer
// of its own. The shared context is never cancelled before its deadline.
type opContexts struct {
	cur atomic.Pointer[opWindow]
	mu  sync.Mutex // serializes opening a new window
}

type opWindow struct {
	ctx    context.Context
	cancel context.CancelFunc // runs when the deadline passes; kept for vet
	until  time.Time          // events starting before this share ctx
}

// get returns the context of an event starting at now.
func (o *opContexts) get(now time.Time, timeout time.Duration) context.Context {
	if w := o.cur.Load(); w != nil && now.Before(w.until) {
		return w.ctx
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if w := o.cur.Load(); w != nil && now.Before(w.until) {
		return w.ctx
	}
	until := now.Truncate(opContextWindow).Add(opContextWindow)
	ctx, cancel := context.WithDeadline(context.Background(), until.Add(timeout))
	o.cur.Store(&opWindow{ctx: ctx, cancel: cancel, until: until})
	return ctx
}

// appendArrived appends the hub:messageArrived payload of m:
// {"roomId":...,"message":{...},"sender":{"id":...}}.
func appendArrived(b []byte, m *msgstore.Message) []byte {
	b = append(b, `{"roomId":`...)
	b = msgstore.AppendJSONString(b, m.RoomID)
	b = append(b, `,"message":`...)
	b = m.AppendJSON(b)
	b = append(b, `,"sender":{"id":`...)
	b = msgstore.AppendJSONString(b, m.SenderID)
	return append(b, "}}"...)
}

// arrivedSize estimates the encoded size of m's hub:messageArrived payload.
func arrivedSize(m *msgstore.Message) int {
	return 320 + 2*len(m.RoomID) + 2*len(m.SenderID) + len(m.ID) + len(m.MessageType) +
		len(m.Content) + len(m.ReplyTo) + len(m.Reaction) + len(m.ClientMessageID)
}

// ackSize estimates the encoded size of the ack of res.
func ackSize(res map[string]any) int {
	n := 16
	for k, v := range res {
		n += len(k) + 4
		if m, ok := v.(*msgstore.Message); ok && m != nil {
			n += arrivedSize(m)
		} else {
			n += 32
		}
	}
	return n
}

// appendSendAck appends the ack of a hub:send that stored m: byte for
// byte appendAck of {"message": m}, with "status":"pending" for a message
// awaiting moderation, without the map (TestAppendSendAckIsTheMapsAck).
func appendSendAck(b []byte, m *msgstore.Message) []byte {
	b = append(b, `{"ok":true,"message":`...)
	b = m.AppendJSON(b)
	if m.Status == msgstore.StatusPending {
		b = append(b, `,"status":`...)
		b = msgstore.AppendJSONString(b, msgstore.StatusPending)
	}
	return append(b, '}')
}

// maxAckKeys is the number of ack fields sorted without allocating.
const maxAckKeys = 8

// appendAck appends the successful ack object of an event: "ok":true and
// the fields of res, in key order. Messages are written with their own
// encoder, strings and booleans directly, anything else with json.Marshal.
func appendAck(b []byte, res map[string]any) ([]byte, error) {
	var arr [maxAckKeys]string
	keys := arr[:0]
	for k := range res {
		if k != "ok" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	b = append(b, `{"ok":true`...)
	for _, k := range keys {
		b = append(b, ',')
		b = msgstore.AppendJSONString(b, k)
		b = append(b, ':')
		switch v := res[k].(type) {
		case *msgstore.Message:
			if v == nil {
				b = append(b, "null"...)
			} else {
				b = v.AppendJSON(b)
			}
		case string:
			b = msgstore.AppendJSONString(b, v)
		case bool:
			b = strconv.AppendBool(b, v)
		case nil:
			b = append(b, "null"...)
		default:
			raw, err := json.Marshal(v)
			if err != nil {
				return nil, fmt.Errorf("encode ack field %q: %w", k, err)
			}
			b = append(b, raw...)
		}
	}
	return append(b, '}'), nil
}
