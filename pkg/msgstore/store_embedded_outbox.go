package msgstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
)

// bucketOutbox holds the outbox: big-endian position (the bucket
// sequence) → outboxRecord.
var bucketOutbox = []byte("outbox")

var _ Outbox = (*Embedded)(nil)

// putOutbox records an event of m, whose stored JSON is msg, in tx when the
// store keeps an outbox.
func (e *Embedded) putOutbox(tx *bolt.Tx, op string, m *Message, msg []byte) error {
	if !e.opts.Outbox {
		return nil
	}
	id, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("outbox event id: %w", err)
	}
	b := tx.Bucket(bucketOutbox)
	pos, err := b.NextSequence()
	if err != nil {
		return err
	}
	v := appendOutboxRecord(make([]byte, 0, 128+len(m.HubName)+len(msg)), id.String(), m.HubName, op, time.Now().UTC(), msg)
	return b.Put(binary.BigEndian.AppendUint64(nil, pos), v)
}

// appendOutboxRecord appends the JSON of an outboxRecord; msg is the
// message's stored JSON, taken as it is.
func appendOutboxRecord(b []byte, id, hub, op string, at time.Time, msg []byte) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, id)
	b = append(b, `,"hub":`...)
	b = appendString(b, hub)
	b = append(b, `,"op":`...)
	b = appendString(b, op)
	b = append(b, `,"at":"`...)
	b = at.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","message":`...)
	b = append(b, msg...)
	return append(b, '}')
}

// ClaimOutbox implements Outbox. The embedded file belongs to one process;
// claims within it take turns.
func (e *Embedded) ClaimOutbox(ctx context.Context, limit int, fn func(ctx context.Context, events []*OutboxEvent) []int64) (bool, error) {
	if !e.claim.TryLock() {
		return false, nil
	}
	defer e.claim.Unlock()
	var events []*OutboxEvent
	err := e.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.First(); k != nil && len(events) < limit; k, v = c.Next() {
			ev, err := decodeOutbox(int64(binary.BigEndian.Uint64(k)), v)
			if err != nil {
				return err
			}
			events = append(events, ev)
		}
		return nil
	})
	if err != nil {
		return true, fmt.Errorf("read outbox: %w", err)
	}
	if len(events) == 0 {
		return true, nil
	}
	done := fn(ctx, events)
	if len(done) == 0 {
		return true, nil
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), outboxDoneTimeout)
	defer cancel()
	err = e.w.do(dctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		for _, pos := range done {
			if err := b.Delete(binary.BigEndian.AppendUint64(nil, uint64(pos))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return true, fmt.Errorf("mark outbox events done: %w", err)
	}
	return true, nil
}

// OutboxStats implements Outbox.
func (e *Embedded) OutboxStats(ctx context.Context) (OutboxStats, error) {
	var st OutboxStats
	if err := ctx.Err(); err != nil {
		return st, err
	}
	err := e.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		st.Depth = int64(b.Stats().KeyN)
		if k, v := b.Cursor().First(); k != nil {
			ev, err := decodeOutbox(int64(binary.BigEndian.Uint64(k)), v)
			if err != nil {
				return err
			}
			st.Oldest = ev.At
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("outbox stats: %w", err)
	}
	return st, nil
}
