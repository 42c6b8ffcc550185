package scripting

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// BoltKV is the durable embedded KV: a bbolt file holding one bucket of
// keys. Every write is committed (fsynced) before it returns, so values
// survive a restart. A value is stored with its expiry (absolute, so a TTL
// keeps running while the daemon is down); expired keys read as missing,
// are removed by the next write to them, and by a sweep every SweepInterval.
//
// Writes are group-committed: one goroutine commits every write waiting for
// it in one transaction (one fsync), so concurrent writers from many rooms
// share the cost of a disk commit instead of queueing for one each.
type BoltKV struct {
	db     *bolt.DB
	now    func() time.Time
	writes chan *kvWrite
	mu     sync.RWMutex // held to send on writes; Close takes it to close
	closed bool
	stop   chan struct{}
	done   chan struct{} // sweep loop ended
	wdone  chan struct{} // writer ended
	once   sync.Once
}

// kvWrite is one write waiting for the group commit. apply runs inside the
// shared transaction; it must not change the bucket when it returns an error,
// so that the other writes of the transaction are unaffected.
type kvWrite struct {
	apply func(bk *bolt.Bucket) error
	done  chan error
}

// maxKVGroup bounds the writes committed in one transaction.
const maxKVGroup = 256

// ErrKVClosed is returned by calls on a closed BoltKV.
var ErrKVClosed = errors.New("kv: closed")

var _ KV = (*BoltKV)(nil)

// ErrKVLocked is returned by NewBoltKV when another process holds the file.
var ErrKVLocked = errors.New("kv: database file locked by another process")

// BoltKVSweepInterval is how often a BoltKV removes expired keys.
const BoltKVSweepInterval = time.Minute

// boltKVOpenTimeout bounds the wait for the file lock.
const boltKVOpenTimeout = time.Second

var kvBucket = []byte("kv")

// NewBoltKV opens (creating it if needed) the KV file at path. Close it when
// done; a second process opening the same file gets ErrKVLocked.
func NewBoltKV(path string) (*BoltKV, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: boltKVOpenTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("open kv %s: %w", path, ErrKVLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open kv %s: %w", path, err)
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(kvBucket)
		return err
	}); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open kv %s: %w", path, err)
	}
	b := &BoltKV{db: db, now: time.Now, writes: make(chan *kvWrite, maxKVGroup),
		stop: make(chan struct{}), done: make(chan struct{}), wdone: make(chan struct{})}
	go b.sweepLoop(BoltKVSweepInterval)
	go b.writer()
	return b, nil
}

// write queues apply for the next group commit and waits for the commit.
// When ctx ends first the write may still be committed later.
func (b *BoltKV) write(ctx context.Context, apply func(bk *bolt.Bucket) error) error {
	w := &kvWrite{apply: apply, done: make(chan error, 1)}
	b.mu.RLock()
	if b.closed {
		b.mu.RUnlock()
		return ErrKVClosed
	}
	select {
	case b.writes <- w:
		b.mu.RUnlock()
	case <-ctx.Done():
		b.mu.RUnlock()
		return ctx.Err()
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writer commits the queued writes, as many as are waiting (up to
// maxKVGroup) per transaction, until Close; then it commits what is still
// queued and ends.
func (b *BoltKV) writer() {
	defer close(b.wdone)
	group := make([]*kvWrite, 0, maxKVGroup)
	for {
		var first *kvWrite
		select {
		case first = <-b.writes:
		case <-b.stop:
			for {
				select {
				case w := <-b.writes:
					b.commit(append(group[:0], w))
				default:
					return
				}
			}
		}
		group = append(group[:0], first)
	fill:
		for len(group) < maxKVGroup {
			select {
			case w := <-b.writes:
				group = append(group, w)
			default:
				break fill
			}
		}
		b.commit(group)
	}
}

// commit applies a group of writes in one transaction and answers each.
func (b *BoltKV) commit(group []*kvWrite) {
	errs := make([]error, len(group))
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(kvBucket)
		for i, w := range group {
			errs[i] = w.apply(bk)
		}
		return nil
	})
	for i, w := range group {
		if err != nil {
			w.done <- err
		} else {
			w.done <- errs[i]
		}
	}
}

// encodeKVValue prefixes value with its expiry in Unix nanoseconds (0: never).
func encodeKVValue(value []byte, expires time.Time) []byte {
	out := make([]byte, 8, 8+len(value))
	if !expires.IsZero() {
		binary.BigEndian.PutUint64(out, uint64(expires.UnixNano()))
	}
	return append(out, value...)
}

// decodeKVValue splits a stored value; ok is false when it has expired at
// now. The returned value aliases raw.
func decodeKVValue(raw []byte, now time.Time) (value []byte, expires time.Time, ok bool) {
	if len(raw) < 8 {
		return nil, time.Time{}, false
	}
	if n := binary.BigEndian.Uint64(raw); n != 0 {
		expires = time.Unix(0, int64(n))
		if !now.Before(expires) {
			return nil, expires, false
		}
	}
	return raw[8:], expires, true
}

// Get returns a copy of the value stored under key.
func (b *BoltKV) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, fmt.Errorf("kv get %q: %w", key, err)
	}
	var (
		out []byte
		ok  bool
	)
	err := b.db.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(kvBucket).Get([]byte(key))
		if raw == nil {
			return nil
		}
		var v []byte
		if v, _, ok = decodeKVValue(raw, b.now()); ok {
			out = bytes.Clone(v)
			if out == nil {
				out = []byte{}
			}
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("kv get %q: %w", key, err)
	}
	return out, ok, nil
}

// Set stores value under key, with an expiry when ttl > 0.
func (b *BoltKV) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kv set %q: %w", key, err)
	}
	var expires time.Time
	if ttl > 0 {
		expires = b.now().Add(ttl)
	}
	rec := encodeKVValue(value, expires)
	err := b.write(ctx, func(bk *bolt.Bucket) error {
		return bk.Put([]byte(key), rec)
	})
	if err != nil {
		return fmt.Errorf("kv set %q: %w", key, err)
	}
	return nil
}

// Del removes key; removing a missing key is not an error.
func (b *BoltKV) Del(ctx context.Context, key string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("kv del %q: %w", key, err)
	}
	if err := b.write(ctx, func(bk *bolt.Bucket) error {
		return bk.Delete([]byte(key))
	}); err != nil {
		return fmt.Errorf("kv del %q: %w", key, err)
	}
	return nil
}

// Incr adds by to the integer under key (0 when missing or expired) in one
// write transaction, keeps the key's expiry, and returns the sum.
func (b *BoltKV) Incr(ctx context.Context, key string, by int64) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("kv incr %q: %w", key, err)
	}
	var cur int64
	err := b.write(ctx, func(bk *bolt.Bucket) error {
		cur = 0
		var expires time.Time
		if raw := bk.Get([]byte(key)); raw != nil {
			v, exp, ok := decodeKVValue(raw, b.now())
			if ok {
				n, err := strconv.ParseInt(string(v), 10, 64)
				if err != nil {
					return ErrNotInteger
				}
				cur, expires = n, exp
			}
		}
		if (by > 0 && cur > math.MaxInt64-by) || (by < 0 && cur < math.MinInt64-by) {
			return fmt.Errorf("overflow: %w", ErrNotInteger)
		}
		cur += by
		return bk.Put([]byte(key), encodeKVValue(strconv.AppendInt(nil, cur, 10), expires))
	})
	if err != nil {
		return 0, fmt.Errorf("kv incr %q: %w", key, err)
	}
	return cur, nil
}

// Sweep removes every expired key and returns how many it removed.
func (b *BoltKV) Sweep() (int, error) {
	now := b.now()
	var expired [][]byte
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(kvBucket).ForEach(func(k, v []byte) error {
			if _, _, ok := decodeKVValue(v, now); !ok {
				expired = append(expired, bytes.Clone(k))
			}
			return nil
		})
	})
	if err != nil || len(expired) == 0 {
		return 0, err
	}
	n := 0
	err = b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket(kvBucket)
		n = 0
		for _, k := range expired {
			// Checked again: the key may have been written since.
			if raw := bk.Get(k); raw != nil {
				if _, _, ok := decodeKVValue(raw, now); !ok {
					if err := bk.Delete(k); err != nil {
						return err
					}
					n++
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("kv sweep: %w", err)
	}
	return n, nil
}

// Len returns the number of stored keys, expired ones not yet swept included.
func (b *BoltKV) Len() (int, error) {
	n := 0
	err := b.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(kvBucket).Stats().KeyN
		return nil
	})
	return n, err
}

func (b *BoltKV) sweepLoop(every time.Duration) {
	defer close(b.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
			_, _ = b.Sweep() // a failed sweep is retried at the next tick
		}
	}
}

// Close commits the writes already queued, stops the sweep and closes the
// file; later writes fail with ErrKVClosed, later reads with bbolt's error.
func (b *BoltKV) Close() error {
	var err error
	b.once.Do(func() {
		b.mu.Lock()
		b.closed = true
		close(b.stop)
		b.mu.Unlock()
		<-b.done
		<-b.wdone
		err = b.db.Close()
	})
	return err
}
