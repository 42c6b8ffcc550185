package resume

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucket = []byte("sessions")
	nodes  = []byte("nodes") // node -> liveness expiry, Unix ms (8 bytes)
)

// sweepEvery is how many writes pass between two removals of the expired
// records of a Bolt store.
const sweepEvery = 256

// Bolt keeps records in a bbolt file; expired ones are ignored on read and
// removed every sweepEvery writes.
type Bolt struct {
	db     *bolt.DB
	writes atomic.Int64
}

var _ Store = (*Bolt)(nil)

// boltEntry is the older layout of a stored record (before the expiry
// prefix), still read.
type boltEntry struct {
	Record    *Record   `json:"r"`
	ExpiresAt time.Time `json:"exp"`
}

// OpenBolt opens (creating) the file at path.
func OpenBolt(path string) (*Bolt, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("open session records %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucket); err != nil {
			return err
		}
		_, err := tx.CreateBucketIfNotExists(nodes)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open session records %s: %w", path, err)
	}
	db.MaxBatchDelay = batchDelay
	return &Bolt{db: db}, nil
}

// batchDelay is how long a write waits for others to share its
// transaction (bbolt's default is 10 ms): a join waits for its record.
const batchDelay = 2 * time.Millisecond

// Put implements Store. Writes go through bbolt's Batch: the records
// that sockets write at once (a crowd joining, a node shutting down with
// every connection) share one transaction and its syncs.
func (b *Bolt) Put(_ context.Context, r *Record, ttl time.Duration) error {
	v, err := encodeEntry(r, time.Now().Add(ttl))
	if err != nil {
		return fmt.Errorf("put session record: %w", err)
	}
	err = b.db.Batch(func(tx *bolt.Tx) error {
		bk := tx.Bucket(bucket)
		if err := bk.Put([]byte(key(r.Hub, r.PID)), v); err != nil {
			return err
		}
		if b.writes.Add(1)%sweepEvery == 0 {
			if err := sweepNodes(tx.Bucket(nodes), time.Now()); err != nil {
				return err
			}
			return sweep(bk, time.Now())
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("put session record: %w", err)
	}
	return nil
}

// A stored record is its expiry (Unix ms, 8 bytes big-endian) followed by
// the record's JSON, so that a sweep reads expiries without decoding
// records. Values that start with '{' are the older layout, a boltEntry.
func encodeEntry(r *Record, exp time.Time) ([]byte, error) {
	v := binary.BigEndian.AppendUint64(make([]byte, 0, 256), uint64(exp.UnixMilli()))
	j, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return append(v, j...), nil
}

// decodeEntry reads a stored value; r is nil when only the expiry is
// wanted.
func decodeEntry(v []byte, r **Record) (time.Time, error) {
	if len(v) > 0 && v[0] == '{' {
		var e boltEntry
		if err := json.Unmarshal(v, &e); err != nil {
			return time.Time{}, err
		}
		if r != nil {
			*r = e.Record
		}
		return e.ExpiresAt, nil
	}
	if len(v) < 8 {
		return time.Time{}, fmt.Errorf("session record of %d bytes", len(v))
	}
	exp := time.UnixMilli(int64(binary.BigEndian.Uint64(v)))
	if r != nil {
		*r = new(Record)
		if err := json.Unmarshal(v[8:], *r); err != nil {
			return time.Time{}, err
		}
	}
	return exp, nil
}

// sweep deletes the expired records of bk.
func sweep(bk *bolt.Bucket, now time.Time) error {
	return sweepBucket(bk, func(v []byte) bool {
		exp, err := decodeEntry(v, nil)
		return err != nil || now.After(exp)
	})
}

// sweepNodes deletes the liveness stamps that ended.
func sweepNodes(bk *bolt.Bucket, now time.Time) error {
	return sweepBucket(bk, func(v []byte) bool {
		return len(v) != 8 || int64(binary.BigEndian.Uint64(v)) < now.UnixMilli()
	})
}

// sweepBucket deletes the entries of bk whose value is dead.
func sweepBucket(bk *bolt.Bucket, dead func(v []byte) bool) error {
	var keys [][]byte
	err := bk.ForEach(func(k, v []byte) error {
		if dead(v) {
			keys = append(keys, append([]byte(nil), k...))
		}
		return nil
	})
	for _, k := range keys {
		if err := bk.Delete(k); err != nil {
			return err
		}
	}
	return err
}

// Get implements Store.
func (b *Bolt) Get(_ context.Context, hub, pid string) (*Record, error) {
	var r *Record
	var exp time.Time
	err := b.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucket).Get([]byte(key(hub, pid)))
		if v == nil {
			return nil
		}
		var err error
		exp, err = decodeEntry(v, &r)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get session record: %w", err)
	}
	if r == nil || time.Now().After(exp) {
		return nil, ErrNotFound
	}
	return r, nil
}

// Delete implements Store.
func (b *Bolt) Delete(_ context.Context, hub, pid string) error {
	if err := b.db.Batch(func(tx *bolt.Tx) error {
		return tx.Bucket(bucket).Delete([]byte(key(hub, pid)))
	}); err != nil {
		return fmt.Errorf("delete session record: %w", err)
	}
	return nil
}

// Beat implements Store.
func (b *Bolt) Beat(_ context.Context, node string, ttl time.Duration) error {
	v := binary.BigEndian.AppendUint64(nil, uint64(time.Now().Add(ttl).UnixMilli()))
	if err := b.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(nodes).Put([]byte(node), v)
	}); err != nil {
		return fmt.Errorf("node liveness stamp: %w", err)
	}
	return nil
}

// Alive implements Store.
func (b *Bolt) Alive(_ context.Context, node string) (bool, error) {
	var until int64
	err := b.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(nodes).Get([]byte(node)); len(v) == 8 {
			until = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("node liveness stamp: %w", err)
	}
	return time.Now().UnixMilli() <= until, nil
}

// Close implements Store.
func (b *Bolt) Close() error { return b.db.Close() }
