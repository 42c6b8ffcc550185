package msgstore

import (
	"context"
	"fmt"
	"time"
)

var _ AppliedEvents = (*Postgres)(nil)

// EventApplied implements AppliedEvents.
func (p *Postgres) EventApplied(ctx context.Context, key string) (bool, error) {
	ctx, cancel, err := p.readCtx(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	var seen bool
	err = p.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+p.shared("hubd_applied_events")+
		` WHERE key = $1 AND expires > now())`, key).Scan(&seen)
	if err != nil {
		return false, fmt.Errorf("applied event %s: %w", key, pgErr(err))
	}
	return seen, nil
}

// MarkEventsApplied implements AppliedEvents. Every appliedPruneEvery
// marks of this process, expired keys and the oldest beyond
// maxAppliedEvents are deleted (at most appliedPruneMax).
func (p *Postgres) MarkEventsApplied(ctx context.Context, keys []string, ttl time.Duration) error {
	if len(keys) == 0 {
		return nil
	}
	if err := requireKeys("key", keys...); err != nil {
		return err
	}
	ctx, cancel, err := p.readCtx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	table := p.shared("hubd_applied_events")
	_, err = p.pool.Exec(ctx, `INSERT INTO `+table+` (key, expires)
		SELECT DISTINCT k, now() + $2::interval FROM unnest($1::text[]) AS k
		ON CONFLICT (key) DO UPDATE SET expires = EXCLUDED.expires`, keys, ttl)
	if err != nil {
		return fmt.Errorf("mark %d applied events: %w", len(keys), pgErr(err))
	}
	if pruneDue(p.appliedMarks.Add(uint64(len(keys))), len(keys)) {
		_, err = p.pool.Exec(ctx, `DELETE FROM `+table+` WHERE key IN (
			SELECT key FROM `+table+` WHERE expires <= now()
			UNION ALL
			(SELECT key FROM `+table+` ORDER BY expires DESC OFFSET $1)
			LIMIT $2)`, maxAppliedEvents, appliedPruneMax)
		if err != nil {
			return fmt.Errorf("prune applied events: %w", pgErr(err))
		}
	}
	return nil
}
