package hub

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/spec"
)

// Gap repair: a room's sequencer on this node reads the sequence numbers
// it missed from the message store (see sequencer). Every node's rooms
// catch up after the node's Redis subscription is re-established (Resync)
// and when a node could not learn whether a write committed (opCatchUp).

// repairBatch bounds the messages one store read returns.
const repairBatch = 500

// startRoom readies a new room's sequencers (messages and changes): gap
// repair from the store, and an anchor (the last stored number) read in
// the background so that the first delivery on this node does not start
// in the middle of a gap. Called with h.mu held; it does not block.
func (h *Hub) startRoom(r *room) {
	h.startSequencer(r.id, &r.seq, false)
	h.startSequencer(r.id, &r.chg, true)
}

// startSequencer readies one of a room's sequencers: q numbers the room's
// changes (revs) when changes is set, else its messages (seqs).
func (h *Hub) startSequencer(roomID string, q *sequencer, changes bool) {
	q.fill = func(after, before int64) ([]seqItem, int64, error) { return h.fill(roomID, changes, after, before) }
	q.stats = h.countGap
	q.anchoring = true
	q.spawn = func(fn func()) bool { return h.spawn(func(context.Context) { fn() }) }
	h.spawn(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, h.deps.OpTimeout)
		defer cancel()
		last, err := h.deps.Store.List(ctx, h.name, roomID, msgstore.Query{Changes: changes, Limit: 1})
		if err != nil {
			h.log.Warn("room sequence not read; delivering from the first number seen", zap.String("room", roomID),
				zap.Bool("changes", changes), zap.Error(err))
			q.anchor(0, false)
			return
		}
		var n int64
		if len(last) > 0 {
			n = numberOf(last[0], changes)
		}
		q.anchor(n, true)
	})
}

// numberOf is m's number in a room's messages (seq) or changes (rev).
func numberOf(m *msgstore.Message, changes bool) int64 {
	if changes {
		return m.Rev
	}
	return m.Seq
}

// fill reads the deliveries of the room's message numbers in (after,
// before) from the store (before 0: no upper bound). For changes it reads
// every change after `after`: a change missing from the store was replaced
// by a later change of the same message, and the delivery of that later
// one, made from the message as stored and for a room that has seen the
// changes up to `after` only (changeDelivery), takes the place of the
// notice held for it, which assumed every change before it was seen.
func (h *Hub) fill(roomID string, changes bool, after, before int64) ([]seqItem, int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), h.deps.OpTimeout)
	defer cancel()
	q := msgstore.Query{AfterSeq: after, BeforeSeq: before, Limit: repairBatch}
	if changes {
		q = msgstore.Query{Changes: true, AfterRev: after, Limit: repairBatch}
	}
	msgs, err := h.deps.Store.List(ctx, h.name, roomID, q)
	if err != nil {
		h.log.Warn("sequence gap not read from the store", zap.String("room", roomID), zap.Bool("changes", changes),
			zap.Int64("after", after), zap.Error(err))
		return nil, 0, err
	}
	items := make([]seqItem, 0, len(msgs))
	for _, m := range msgs {
		d := h.repairDelivery(m)
		if changes {
			d = h.changeDelivery(m, after)
		}
		items = append(items, seqItem{seq: numberOf(m, changes), emit: func() { h.deliverLocal(roomID, d) }, replace: changes})
	}
	// The answer accounts for every number up to its last one, and, when
	// not cut by the batch size, for the whole range asked.
	covered := after
	if len(msgs) > 0 {
		covered = numberOf(msgs[len(msgs)-1], changes)
	}
	if before != 0 && len(msgs) < repairBatch {
		covered = max(covered, before-1)
	}
	if len(msgs) > 0 {
		h.log.Info("sequence gap filled from the store", zap.String("room", roomID), zap.Bool("changes", changes),
			zap.Int64("after", after), zap.Int("messages", len(msgs)))
	}
	return items, covered, nil
}

// repairDelivery is the delivery of a message read back from the store,
// as its commit made it. A server message of a handler may have been meant
// for some members only, which the store does not record: it is not
// delivered by a repair.
func (h *Hub) repairDelivery(m *msgstore.Message) delivery {
	switch {
	case m.Status == msgstore.StatusPending:
		return pendingDelivery(m)
	case m.Status != msgstore.StatusPublished:
		return delivery{}
	}
	if h.persistedEvent(m.MessageType) != nil {
		return storedEventDelivery(m)
	}
	if m.SenderID == SystemSender && m.MessageType != string(spec.MessageSystem) {
		return delivery{}
	}
	return arrived(m)
}

// persistedEvent returns the custom event stored as messages of type name.
func (h *Hub) persistedEvent(name string) *spec.HubCustomEvent {
	es := &h.Spec().EventSettings
	for i := range es.CustomEvents {
		if ce := &es.CustomEvents[i]; ce.Name == name && !ce.Ephemeral {
			return ce
		}
	}
	return nil
}

// Resync makes every room of the hub on this node catch up with the store:
// the node's Redis subscription was re-established, and what the other
// nodes published meanwhile did not reach it.
func (h *Hub) Resync() {
	h.mu.Lock()
	rooms := make([]*room, 0, len(h.rooms))
	for _, r := range h.rooms {
		rooms = append(rooms, r)
	}
	h.mu.Unlock()
	for _, r := range rooms {
		r.catchUp()
	}
}

// ResyncCluster is Resync on every node of the hub: this node's
// publications were lost (Redis did not answer), so the other nodes missed
// its messages, and it may have missed theirs.
func (h *Hub) ResyncCluster() {
	h.Resync()
	h.toOtherNodes(roomOp{Op: opResync, Room: "*"})
}

// catchUpEverywhere makes the room catch up with the store on every node:
// a write's outcome was unknown, and when it committed nobody was told.
func (h *Hub) catchUpEverywhere(roomID string) {
	if r := h.room(roomID); r != nil {
		r.catchUp()
	}
	h.toOtherNodes(roomOp{Op: opCatchUp, Room: roomID})
}

// Reading the store after an unknown outcome: first after unknownWait,
// then with doubling waits, for at most unknownFor.
var (
	unknownWait = 250 * time.Millisecond
	unknownFor  = 30 * time.Second
)

// afterUnknownOutcome waits until the store answers again and then makes
// the room catch up on every node: a write whose outcome was unknown may
// have committed, and nobody was told.
func (h *Hub) afterUnknownOutcome(roomID string) {
	h.spawn(func(hctx context.Context) {
		deadline := time.Now().Add(unknownFor)
		for wait := unknownWait; time.Now().Before(deadline); wait = min(2*wait, 4*time.Second) {
			select {
			case <-time.After(wait):
			case <-hctx.Done():
				return
			}
			ctx, cancel := context.WithTimeout(hctx, h.deps.OpTimeout)
			_, err := h.deps.Store.List(ctx, h.name, roomID, msgstore.Query{Limit: 1})
			cancel()
			if err == nil {
				h.catchUpEverywhere(roomID)
				return
			}
		}
		h.log.Warn("room not caught up after an unknown write outcome: the store did not answer", zap.String("room", roomID))
	})
}

// countGap counts a gap repair result.
func (h *Hub) countGap(result string) {
	if mt := h.deps.Metrics; mt != nil {
		mt.SequenceGaps.WithLabelValues(h.name, result).Inc()
	}
}
