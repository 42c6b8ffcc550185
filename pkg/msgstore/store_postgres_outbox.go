package msgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

var _ Outbox = (*Postgres)(nil)

// outboxLockKey is the advisory lock a claim holds: one claimant among
// every process on the database.
var outboxLockKey = lockKey("hubd", "outbox")

// putOutbox records an event of message id of table t, as tx left it,
// when the store keeps an outbox.
func (p *Postgres) putOutbox(ctx context.Context, tx pgx.Tx, t *pgTable, op, id string) error {
	if !p.opts.Outbox {
		return nil
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+p.shared("hubd_outbox")+` (hub, op, message)
		SELECT $1, $2, to_jsonb(m) FROM `+t.ident+` m WHERE id = $3::uuid`, t.hub, op, id)
	return err
}

// ClaimOutbox implements Outbox. The claim is a transaction holding an
// advisory lock while fn runs; a process that dies releases it.
func (p *Postgres) ClaimOutbox(ctx context.Context, limit int, fn func(ctx context.Context, events []*OutboxEvent) []int64) (bool, error) {
	if p.closed.Load() {
		return false, ErrClosed
	}
	tx, err := p.pool.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("claim outbox: %w", pgErr(err))
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = tx.Rollback(rctx)
	}()
	var ok bool
	if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", outboxLockKey).Scan(&ok); err != nil {
		return false, fmt.Errorf("claim outbox: %w", pgErr(err))
	}
	if !ok {
		return false, nil
	}
	events, err := p.readOutbox(ctx, tx, limit)
	if err != nil || len(events) == 0 {
		return true, err
	}
	done := fn(ctx, events)
	if len(done) == 0 {
		return true, nil
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), max(outboxDoneTimeout, p.opts.WriteTimeout))
	defer cancel()
	if _, err := tx.Exec(dctx, `DELETE FROM `+p.shared("hubd_outbox")+` WHERE pos = ANY($1)`, done); err != nil {
		return true, fmt.Errorf("mark outbox events done: %w", pgErr(err))
	}
	if err := tx.Commit(dctx); err != nil {
		return true, fmt.Errorf("mark outbox events done: %w", pgErr(err))
	}
	return true, nil
}

func (p *Postgres) readOutbox(ctx context.Context, tx pgx.Tx, limit int) ([]*OutboxEvent, error) {
	rows, err := tx.Query(ctx, `SELECT pos, event_id::text, hub, op, message::text, at FROM `+p.shared("hubd_outbox")+
		` ORDER BY pos LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", pgErr(err))
	}
	defer rows.Close()
	var events []*OutboxEvent
	for rows.Next() {
		var (
			ev       OutboxEvent
			hub, msg string
		)
		if err := rows.Scan(&ev.Pos, &ev.ID, &hub, &ev.Op, &msg, &ev.At); err != nil {
			return nil, fmt.Errorf("read outbox: %w", pgErr(err))
		}
		if ev.Message, err = decodeOutboxMessage(hub, msg); err != nil {
			return nil, fmt.Errorf("read outbox event %d: %w", ev.Pos, err)
		}
		ev.At = ev.At.UTC()
		events = append(events, &ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read outbox: %w", pgErr(err))
	}
	return events, nil
}

// OutboxStats implements Outbox.
func (p *Postgres) OutboxStats(ctx context.Context) (OutboxStats, error) {
	var st OutboxStats
	ctx, cancel, err := p.readCtx(ctx)
	if err != nil {
		return st, err
	}
	defer cancel()
	var oldest *time.Time
	if err := p.pool.QueryRow(ctx, `SELECT count(*), min(at) FROM `+p.shared("hubd_outbox")).Scan(&st.Depth, &oldest); err != nil {
		return st, fmt.Errorf("outbox stats: %w", pgErr(err))
	}
	if oldest != nil {
		st.Oldest = oldest.UTC()
	}
	return st, nil
}

// decodeOutboxMessage decodes a row as to_jsonb wrote it; its JSON fields
// are compacted as the store's reads return them.
func decodeOutboxMessage(hub, row string) (*Message, error) {
	m, err := decodeMessage(hub, []byte(row))
	if err != nil {
		return nil, err
	}
	for _, f := range []*json.RawMessage{&m.Content, &m.ReplyTo, &m.Reaction} {
		if len(*f) == 0 || string(*f) == "null" {
			*f = nil
			continue
		}
		if *f, err = compactJSON(*f); err != nil {
			return nil, err
		}
	}
	return m, nil
}
