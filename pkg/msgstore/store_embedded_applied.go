package msgstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Applied events: bucket applied maps key → expiry (big-endian unix ns);
// bucket appliedByTime maps expiry + key → nothing, oldest first, for
// pruning.
var (
	bucketApplied       = []byte("applied")
	bucketAppliedByTime = []byte("appliedByTime")
)

var _ AppliedEvents = (*Embedded)(nil)

// EventApplied implements AppliedEvents.
func (e *Embedded) EventApplied(ctx context.Context, key string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	seen := false
	err := e.view(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketApplied).Get([]byte(key))
		seen = len(v) == 8 && int64(binary.BigEndian.Uint64(v)) > time.Now().UnixNano()
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("applied event %s: %w", key, err)
	}
	return seen, nil
}

// MarkEventsApplied implements AppliedEvents.
func (e *Embedded) MarkEventsApplied(ctx context.Context, keys []string, ttl time.Duration) error {
	if len(keys) == 0 {
		return nil
	}
	if err := requireKeys("key", keys...); err != nil {
		return err
	}
	prune := pruneDue(e.appliedMarks.Add(uint64(len(keys))), len(keys))
	err := e.w.do(ctx, func(tx *bolt.Tx) error {
		byKey, byTime := tx.Bucket(bucketApplied), tx.Bucket(bucketAppliedByTime)
		exp := binary.BigEndian.AppendUint64(nil, uint64(time.Now().Add(ttl).UnixNano()))
		for _, key := range keys {
			if old := byKey.Get([]byte(key)); len(old) == 8 {
				if err := byTime.Delete(append(old[:8:8], key...)); err != nil {
					return err
				}
			}
			if err := byKey.Put([]byte(key), exp); err != nil {
				return err
			}
			if err := byTime.Put(append(exp[:8:8], key...), nil); err != nil {
				return err
			}
		}
		if prune {
			return pruneApplied(byKey, byTime)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark %d applied events: %w", len(keys), err)
	}
	return nil
}

// pruneApplied drops expired keys, and the oldest beyond maxAppliedEvents,
// at most appliedPruneMax of them.
func pruneApplied(byKey, byTime *bolt.Bucket) error {
	now := uint64(time.Now().UnixNano())
	over := byKey.Stats().KeyN - maxAppliedEvents
	c := byTime.Cursor()
	for range appliedPruneMax {
		k, _ := c.First()
		if len(k) < 8 || binary.BigEndian.Uint64(k[:8]) > now && over <= 0 {
			return nil
		}
		if err := byKey.Delete(k[8:]); err != nil {
			return err
		}
		if err := c.Delete(); err != nil {
			return err
		}
		over--
	}
	return nil
}
