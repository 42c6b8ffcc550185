package msgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Outbox operations: what a committed change did to its message.
const (
	OutboxCreated = "created"
	OutboxUpdated = "updated"
	OutboxDeleted = "deleted"
)

// OutboxEvent is one committed message change waiting to be published.
type OutboxEvent struct {
	// Pos orders the outbox: it increases in commit order, so the events of
	// one room come in the order of its changes (created events in seq
	// order).
	Pos int64
	// ID is the event's stable id, assigned when the change committed; a
	// republished event keeps it.
	ID string
	Op string // OutboxCreated, OutboxUpdated or OutboxDeleted
	// Message is the message as the change left it, HubName set.
	Message *Message
	At      time.Time // when the change was committed
}

// OutboxStats describes what waits in the outbox.
type OutboxStats struct {
	Depth  int64
	Oldest time.Time // commit time of the oldest event; zero when empty
}

// Outbox is implemented by stores that record, in the transaction of every
// committed Append (a created event) and Update (updated, or deleted when
// the update sets StatusDeleted), an event to publish, when opened with
// their Outbox option. Events stay until a claim marks them done, across
// restarts and crashes.
type Outbox interface {
	// ClaimOutbox calls fn with up to limit of the oldest events, in Pos
	// order, and removes the events whose Pos fn returns. One claim runs
	// at a time among every process sharing the store: when another holds
	// it, ClaimOutbox returns claimed=false without calling fn. fn gets a
	// context that ends with ctx; the done events are removed even when
	// ctx ended meanwhile (bounded by the store's write timeout).
	ClaimOutbox(ctx context.Context, limit int, fn func(ctx context.Context, events []*OutboxEvent) (done []int64)) (claimed bool, err error)
	// OutboxStats returns the depth and the oldest event's commit time.
	OutboxStats(ctx context.Context) (OutboxStats, error)
}

// updateOp names the change an Update made.
func updateOp(before, after *Message) string {
	if after.Status == StatusDeleted && before.Status != StatusDeleted {
		return OutboxDeleted
	}
	return OutboxUpdated
}

// outboxRecord is the stored form of an event in the embedded store.
type outboxRecord struct {
	ID      string          `json:"id"`
	Hub     string          `json:"hub"`
	Op      string          `json:"op"`
	At      time.Time       `json:"at"`
	Message json.RawMessage `json:"message"`
}

func decodeOutbox(pos int64, v []byte) (*OutboxEvent, error) {
	var r outboxRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("decode outbox event %d: %w", pos, err)
	}
	m, err := decodeMessage(r.Hub, r.Message)
	if err != nil {
		return nil, fmt.Errorf("decode outbox event %d: %w", pos, err)
	}
	return &OutboxEvent{Pos: pos, ID: r.ID, Op: r.Op, Message: m, At: r.At}, nil
}

// outboxDoneTimeout bounds the removal of published events once the
// claim's context ended (shutdown): they are acknowledged, removing them
// spares a republication.
const outboxDoneTimeout = 2 * time.Second
