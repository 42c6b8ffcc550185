package bridge

import (
	"context"
	"encoding/json"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/spec"
)

// HeaderHub is the record header naming the hub of a produced message event.
const HeaderHub = "hub"

// MessageEvent publishes a committed message change of hub h to
// <service>-dbevent-<message DataObject>-<op>: the message object at the
// root plus isActive (false once deleted), keyed by message id so a
// message's events stay in order. It hands the record to the producer and
// returns at once; failures (including a full buffer) are logged and
// counted, never returned. ctx is not used for delivery: the hub cancels
// it when this returns.
func (b *Bridge) MessageEvent(_ context.Context, h *spec.Hub, op string, m *msgstore.Message) {
	obj := h.MessageSettings.DataObjectName
	if obj == "" || m == nil {
		return
	}
	value, err := messageValue(m)
	if err != nil {
		b.log.Error("message event not encoded", zap.String("hub", h.Name()), zap.Error(err))
		b.opts.Observer("out", KindMessage, ResultError)
		return
	}
	rec := &kgo.Record{
		Topic:   TopicName(b.opts.TopicPattern, b.opts.Service, obj, op),
		Key:     []byte(m.ID),
		Value:   value,
		Headers: []kgo.RecordHeader{{Key: HeaderHub, Value: []byte(h.Name())}},
	}
	b.producer.TryProduce(context.Background(), rec, func(r *kgo.Record, err error) {
		if err != nil {
			b.opts.Observer("out", KindMessage, ResultError)
			if n := b.produceFailures.Add(1); b.logProduceFailure() {
				b.log.Warn("message event not produced", zap.String("topic", r.Topic), zap.Int64("failuresSoFar", n), zap.Error(err))
			}
			return
		}
		b.opts.Observer("out", KindMessage, ResultOK)
	})
}

func messageValue(m *msgstore.Message) ([]byte, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	if m.Status == msgstore.StatusDeleted {
		return append(b[:len(b)-1], `,"isActive":false}`...), nil
	}
	return append(b[:len(b)-1], `,"isActive":true}`...), nil
}

// produceLogEvery spaces the logs of failed message events: a broker
// outage fails every message, the Observer counts them all.
const produceLogEvery = 10 * time.Second

// logProduceFailure reports whether a failure may be logged now.
func (b *Bridge) logProduceFailure() bool {
	now := time.Now().UnixNano()
	last := b.lastProduceLog.Load()
	return now-last >= int64(produceLogEvery) && b.lastProduceLog.CompareAndSwap(last, now)
}
