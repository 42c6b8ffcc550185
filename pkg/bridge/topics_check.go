package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
)

// checkTopics asks the brokers for the metadata of the consumed topics
// every CheckInterval. A failed request marks the broker part degraded; a
// topic whose id changed (deleted and created again, or a new cluster at
// the same address) makes the consumer rebuild its client and read the new
// topic from its start, and the producer rebuild its own.
func (b *Bridge) checkTopics(ctx context.Context) error {
	opts := append([]kgo.Opt{kgo.SeedBrokers(b.opts.Brokers...)}, b.opts.ClientOptions...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("bridge: metadata client: %w", err)
	}
	defer func() { cl.Close() }()
	ids := map[string][16]byte{}
	t := time.NewTicker(b.opts.CheckInterval)
	defer t.Stop()
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		topics := b.checkedTopics()
		if len(topics) == 0 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, max(b.opts.CheckInterval, time.Second))
		current, err := topicIDs(cctx, cl, topics)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			reason := reasonOf(err)
			b.health.fail(PartBroker, reason, err)
			b.logs.warn("metadata/"+reason, "broker metadata request failed", zap.String("reason", reason), zap.Error(err))
			// A client that keeps failing is replaced: a new cluster at
			// the same address may not accept the old connections' state.
			if failures++; failures%5 == 0 {
				cl.Close()
				if cl, err = kgo.NewClient(opts...); err != nil {
					return fmt.Errorf("bridge: metadata client: %w", err)
				}
			}
			continue
		}
		failures = 0
		b.health.ok(PartBroker)
		var recreated []string
		for topic, id := range current {
			if old, ok := ids[topic]; ok && old != id {
				recreated = append(recreated, topic)
			}
			ids[topic] = id
		}
		slices.Sort(recreated)
		b.checks.Add(1)
		if len(recreated) > 0 {
			b.log.Warn("topics recreated; consumer and producer clients are rebuilt", zap.Strings("topics", recreated))
			b.markRecreated(recreated)
		}
	}
}

// topicIDs asks the seed brokers, one after the other until one answers,
// for the ids of the topics that exist. The request goes to the broker
// itself: the client's cached metadata would hide a change.
func topicIDs(ctx context.Context, cl *kgo.Client, topics []string) (map[string][16]byte, error) {
	req := kmsg.NewPtrMetadataRequest()
	for _, t := range topics {
		rt := kmsg.NewMetadataRequestTopic()
		rt.Topic = kmsg.StringPtr(t)
		req.Topics = append(req.Topics, rt)
	}
	var resp *kmsg.MetadataResponse
	err := errors.New("bridge: no seed broker")
	for _, br := range cl.SeedBrokers() {
		var r kmsg.Response
		if r, err = br.Request(ctx, req); err == nil {
			resp = r.(*kmsg.MetadataResponse)
			break
		}
	}
	if err != nil {
		return nil, err
	}
	out := make(map[string][16]byte, len(resp.Topics))
	for _, t := range resp.Topics {
		if t.ErrorCode == 0 && t.Topic != nil && t.TopicID != [16]byte{} {
			out[*t.Topic] = t.TopicID
		}
	}
	return out, nil
}

// markRecreated records topics to be read from their start once assigned,
// and signals the consumer and producer to rebuild their clients.
func (b *Bridge) markRecreated(topics []string) {
	b.mu.Lock()
	for _, t := range topics {
		b.recreated[t] = true
	}
	select {
	case b.rebuild <- struct{}{}:
	default:
	}
	b.mu.Unlock()
	b.producerStale.Store(true)
	select {
	case b.staleSignal <- struct{}{}:
	default:
	}
}

// checkedTopics are the consumed topics and those the publisher produced to.
func (b *Bridge) checkedTopics() []string {
	topics := b.current().topicList()
	b.mu.Lock()
	defer b.mu.Unlock()
	for t := range b.produced {
		if !slices.Contains(topics, t) {
			topics = append(topics, t)
		}
	}
	return topics
}

// rebuildSignal is the channel the watcher signals on a recreated topic.
func (b *Bridge) rebuildSignal() <-chan struct{} { return b.rebuild }

// recreatedTopics returns a copy of the topics still to be reset.
func (b *Bridge) recreatedTopics() map[string]bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make(map[string]bool, len(b.recreated))
	for t := range b.recreated {
		out[t] = true
	}
	return out
}

// forgetRecreated drops the topics whose partitions were reset.
func (b *Bridge) forgetRecreated(done map[string][]int32) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for t := range done {
		delete(b.recreated, t)
	}
}
