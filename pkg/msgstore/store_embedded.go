package msgstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"
)

var _ Store = (*Embedded)(nil)

// EmbeddedOptions tunes OpenEmbedded. The zero value is the daemon's default.
type EmbeddedOptions struct {
	// LockTimeout bounds the wait for the database file lock; a second
	// process opening the same file fails with ErrLocked after it. Default 2s.
	LockTimeout time.Duration
	// MaxBatch caps the writes group-committed in one transaction. Default 1000.
	MaxBatch int
	// NoSync skips fsync on commit. Only for throwaway data (tests): a crash
	// can lose or corrupt the file.
	NoSync bool
	// Logger receives the store's logs. Default: none.
	Logger *zap.Logger
}

func (o EmbeddedOptions) withDefaults() EmbeddedOptions {
	if o.LockTimeout <= 0 {
		o.LockTimeout = 2 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1000
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

// EmbeddedStats counts the embedded store's write transactions.
type EmbeddedStats struct {
	Commits   uint64 // committed write transactions
	Writes    uint64 // writes committed (a transaction holds one or more)
	Rollbacks uint64 // transactions rolled back because one write failed
}

// Embedded is the bbolt-backed Store used when no database is configured.
//
// File layout (bucket paths, keys → values):
//
//	meta                   "version" → "1"
//	hubs/<hub>/msgs/<room> seq (8 bytes big-endian) → message JSON; the bucket sequence is the room's last seq
//	hubs/<hub>/ids         message id → seq (8 bytes) + room id
//	hubs/<hub>/cmids       uvarint len(sender) + sender + clientMessageId → message id
//	hubs/<hub>/reads       uvarint len(room) + room + user → unix nanoseconds (8 bytes)
//
// Reads run in concurrent read transactions; writes go through one
// group-committing writer (see committer).
type Embedded struct {
	db   *bolt.DB
	path string
	log  *zap.Logger
	w    *committer
}

const schemaVersion = "1"

var (
	bucketMeta  = []byte("meta")
	bucketHubs  = []byte("hubs")
	bucketMsgs  = []byte("msgs")
	bucketIDs   = []byte("ids")
	bucketCmids = []byte("cmids")
	bucketReads = []byte("reads")
	keyVersion  = []byte("version")
)

// OpenEmbedded opens (creating it and its directories when missing) the
// database file at path; the daemon passes <data>/messages.db.
func OpenEmbedded(path string, opts EmbeddedOptions) (*Embedded, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open message store %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      opts.LockTimeout,
		FreelistType: bolt.FreelistMapType,
		NoSync:       opts.NoSync,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open message store %s: %w (waited %s)", path, ErrLocked, opts.LockTimeout)
	}
	if err != nil {
		return nil, fmt.Errorf("open message store %s: %w", path, err)
	}
	if err := db.Update(initSchema); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open message store %s: %w", path, err)
	}
	log := opts.Logger.Named("msgstore")
	log.Info("message store opened", zap.String("path", path), zap.Bool("fsync", !opts.NoSync))
	return &Embedded{db: db, path: path, log: log, w: newCommitter(db, log, opts.MaxBatch)}, nil
}

func initSchema(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	switch v := meta.Get(keyVersion); {
	case v == nil:
		if err := meta.Put(keyVersion, []byte(schemaVersion)); err != nil {
			return err
		}
	case string(v) != schemaVersion:
		return fmt.Errorf("unsupported schema version %q (want %s)", v, schemaVersion)
	}
	_, err = tx.CreateBucketIfNotExists(bucketHubs)
	return err
}

// Path returns the database file's path.
func (e *Embedded) Path() string { return e.path }

// Stats returns the write transaction counters.
func (e *Embedded) Stats() EmbeddedStats {
	return EmbeddedStats{
		Commits:   e.w.commits.Load(),
		Writes:    e.w.written.Load(),
		Rollbacks: e.w.rollback.Load(),
	}
}

// Close finishes the queued writes and closes the file. It is idempotent.
func (e *Embedded) Close() error {
	e.w.close()
	if err := e.db.Close(); err != nil {
		return fmt.Errorf("close message store %s: %w", e.path, err)
	}
	return nil
}

// Append implements Store.
func (e *Embedded) Append(ctx context.Context, m *Message) (*Message, bool, error) {
	in := m.Clone()
	if err := Normalize(in); err != nil {
		return nil, false, fmt.Errorf("append: %w", err)
	}
	if in.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, false, fmt.Errorf("append: new id: %w", err)
		}
		in.ID = id.String()
	}
	if in.Timestamp.IsZero() {
		in.Timestamp = time.Now().UTC().Truncate(time.Millisecond)
	}
	var (
		stored  *Message
		created bool
	)
	err := e.w.do(ctx, func(tx *bolt.Tx) error {
		stored, created = nil, false
		hub := []byte(in.HubName)
		hubs := tx.Bucket(bucketHubs)
		if hb := hubs.Bucket(hub); hb != nil {
			if in.ClientMessageID != "" {
				if id := hb.Bucket(bucketCmids).Get(cmidKey(in.SenderID, in.ClientMessageID)); id != nil {
					orig, err := getMessage(hb, in.HubName, string(id))
					if err != nil {
						return noWrite(err)
					}
					stored = orig
					return nil
				}
			}
			if hb.Bucket(bucketIDs).Get([]byte(in.ID)) != nil {
				return noWrite(fmt.Errorf("id %s: %w", in.ID, ErrDuplicateID))
			}
		}
		hb, err := hubBucket(hubs, hub)
		if err != nil {
			return err
		}
		rb, err := hb.Bucket(bucketMsgs).CreateBucketIfNotExists([]byte(in.RoomID))
		if err != nil {
			return err
		}
		seq, err := rb.NextSequence()
		if err != nil {
			return err
		}
		out := in.Clone()
		out.Seq = int64(seq)
		val, err := json.Marshal(out)
		if err != nil {
			return err
		}
		if err := rb.Put(seqKey(seq), val); err != nil {
			return err
		}
		if err := hb.Bucket(bucketIDs).Put([]byte(out.ID), idValue(seq, out.RoomID)); err != nil {
			return err
		}
		if out.ClientMessageID != "" {
			if err := hb.Bucket(bucketCmids).Put(cmidKey(out.SenderID, out.ClientMessageID), []byte(out.ID)); err != nil {
				return err
			}
		}
		stored, created = out, true
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("append to %s/%s: %w", in.HubName, in.RoomID, err)
	}
	return stored, created, nil
}

// List implements Store.
func (e *Embedded) List(ctx context.Context, hub, roomID string, q Query) ([]*Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", hub, roomID, err)
	}
	var out []*Message
	err := e.view(func(tx *bolt.Tx) error {
		hb := tx.Bucket(bucketHubs).Bucket([]byte(hub))
		if hb == nil {
			return nil
		}
		rb := hb.Bucket(bucketMsgs).Bucket([]byte(roomID))
		if rb == nil {
			return nil
		}
		var err error
		out, err = scanRoom(rb.Cursor(), hub, q)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", hub, roomID, err)
	}
	return out, nil
}

// scanRoom walks one room's messages: forward from AfterSeq when it is set,
// else backward from BeforeSeq (or the newest), and returns them oldest first.
func scanRoom(c *bolt.Cursor, hub string, q Query) ([]*Message, error) {
	var out []*Message
	full := func() bool { return q.Limit > 0 && len(out) >= q.Limit }
	take := func(v []byte) error {
		m, err := decodeMessage(hub, v)
		if err != nil {
			return err
		}
		if q.Matches(m.Status) {
			out = append(out, m)
		}
		return nil
	}
	if q.AfterSeq > 0 {
		for k, v := c.Seek(seqKey(uint64(q.AfterSeq) + 1)); k != nil && !full(); k, v = c.Next() {
			if q.BeforeSeq > 0 && int64(binary.BigEndian.Uint64(k)) >= q.BeforeSeq {
				break
			}
			if err := take(v); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	k, v := c.Last()
	if q.BeforeSeq > 0 {
		if k, v = c.Seek(seqKey(uint64(q.BeforeSeq))); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	for ; k != nil && !full(); k, v = c.Prev() {
		if err := take(v); err != nil {
			return nil, err
		}
	}
	slices.Reverse(out)
	return out, nil
}

// Get implements Store.
func (e *Embedded) Get(ctx context.Context, hub, id string) (*Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var m *Message
	err := e.view(func(tx *bolt.Tx) error {
		hb := tx.Bucket(bucketHubs).Bucket([]byte(hub))
		if hb == nil {
			return ErrNotFound
		}
		var err error
		m, err = getMessage(hb, hub, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", hub, id, err)
	}
	return m, nil
}

// Update implements Store.
func (e *Embedded) Update(ctx context.Context, hub, id string, fn func(m *Message) error) (*Message, error) {
	var updated *Message
	err := e.w.do(ctx, func(tx *bolt.Tx) error {
		updated = nil
		hb := tx.Bucket(bucketHubs).Bucket([]byte(hub))
		if hb == nil {
			return noWrite(ErrNotFound)
		}
		cur, err := getMessage(hb, hub, id)
		if err != nil {
			return noWrite(err)
		}
		next := cur.Clone()
		if err := fn(next); err != nil {
			return noWrite(err)
		}
		if err := CheckUpdate(cur, next); err != nil {
			return noWrite(err)
		}
		if err := Normalize(next); err != nil {
			return noWrite(err)
		}
		val, err := json.Marshal(next)
		if err != nil {
			return noWrite(err)
		}
		rb := hb.Bucket(bucketMsgs).Bucket([]byte(next.RoomID))
		if err := rb.Put(seqKey(uint64(next.Seq)), val); err != nil {
			return err
		}
		updated = next
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("update %s/%s: %w", hub, id, err)
	}
	return updated, nil
}

// SetReadMark implements Store.
func (e *Embedded) SetReadMark(ctx context.Context, hub, roomID, userID string, ts time.Time) error {
	if hub == "" || roomID == "" || userID == "" {
		return fmt.Errorf("set read mark: %w", invalid("hub, roomId and userId", "are required"))
	}
	key := readKey(roomID, userID)
	err := e.w.do(ctx, func(tx *bolt.Tx) error {
		hubs := tx.Bucket(bucketHubs)
		if ts.IsZero() {
			hb := hubs.Bucket([]byte(hub))
			if hb == nil {
				return nil
			}
			return hb.Bucket(bucketReads).Delete(key)
		}
		hb, err := hubBucket(hubs, []byte(hub))
		if err != nil {
			return err
		}
		val := make([]byte, 8)
		binary.BigEndian.PutUint64(val, uint64(ts.UnixNano()))
		return hb.Bucket(bucketReads).Put(key, val)
	})
	if err != nil {
		return fmt.Errorf("set read mark %s/%s/%s: %w", hub, roomID, userID, err)
	}
	return nil
}

// ReadMark implements Store.
func (e *Embedded) ReadMark(ctx context.Context, hub, roomID, userID string) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	var ts time.Time
	err := e.view(func(tx *bolt.Tx) error {
		hb := tx.Bucket(bucketHubs).Bucket([]byte(hub))
		if hb == nil {
			return nil
		}
		if v := hb.Bucket(bucketReads).Get(readKey(roomID, userID)); len(v) == 8 {
			ts = time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
		}
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("read mark %s/%s/%s: %w", hub, roomID, userID, err)
	}
	return ts, nil
}

// view runs a read transaction, mapping a closed database to ErrClosed.
func (e *Embedded) view(fn func(tx *bolt.Tx) error) error {
	err := e.db.View(fn)
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// hubBucket returns the hub's bucket, creating it and its sub-buckets.
func hubBucket(hubs *bolt.Bucket, hub []byte) (*bolt.Bucket, error) {
	if hb := hubs.Bucket(hub); hb != nil {
		return hb, nil
	}
	hb, err := hubs.CreateBucket(hub)
	if err != nil {
		return nil, err
	}
	for _, name := range [][]byte{bucketMsgs, bucketIDs, bucketCmids, bucketReads} {
		if _, err := hb.CreateBucket(name); err != nil {
			return nil, err
		}
	}
	return hb, nil
}

func getMessage(hb *bolt.Bucket, hub, id string) (*Message, error) {
	loc := hb.Bucket(bucketIDs).Get([]byte(id))
	if len(loc) < 8 {
		return nil, ErrNotFound
	}
	rb := hb.Bucket(bucketMsgs).Bucket(loc[8:])
	if rb == nil {
		return nil, fmt.Errorf("index of %s names a missing room", id)
	}
	v := rb.Get(loc[:8])
	if v == nil {
		return nil, fmt.Errorf("index of %s names a missing message", id)
	}
	return decodeMessage(hub, v)
}

func decodeMessage(hub string, v []byte) (*Message, error) {
	m := &Message{}
	if err := json.Unmarshal(v, m); err != nil {
		return nil, fmt.Errorf("decode stored message: %w", err)
	}
	m.HubName = hub
	return m, nil
}

func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

func idValue(seq uint64, room string) []byte {
	return append(seqKey(seq), room...)
}

// pairKey joins two strings unambiguously: uvarint len(a), a, b.
func pairKey(a, b string) []byte {
	k := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen16+len(a)+len(b)), uint64(len(a)))
	return append(append(k, a...), b...)
}

func cmidKey(sender, cmid string) []byte { return pairKey(sender, cmid) }

func readKey(room, user string) []byte { return pairKey(room, user) }
