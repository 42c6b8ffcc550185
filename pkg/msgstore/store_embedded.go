package msgstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
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
	// MaxBatchDelay caps how long a transaction waits for more writes after
	// the previous one held several (a lone write never waits). Default 2ms;
	// negative disables waiting.
	MaxBatchDelay time.Duration
	// NoSync skips fsync on commit. Only for throwaway data (tests): a crash
	// can lose or corrupt the file.
	NoSync bool
	// Outbox records an event of every committed message change for the
	// Kafka bridge (see Outbox).
	Outbox bool
	// Logger receives the store's logs. Default: none.
	Logger *zap.Logger
	// OnCommit, if set, receives the size and duration of every group
	// commit (hubd_msgstore_batch_size, _commit_duration_seconds).
	OnCommit CommitObserver
}

func (o EmbeddedOptions) withDefaults() EmbeddedOptions {
	if o.LockTimeout <= 0 {
		o.LockTimeout = 2 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 1000
	}
	if o.MaxBatchDelay == 0 {
		o.MaxBatchDelay = 2 * time.Millisecond
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
//	meta             "version" → "2"
//	hubs/<hub>/rooms room id → room number (8 bytes) + last seq (8 bytes) + the journal positions of its journaled messages (8 bytes each); the bucket sequence numbers rooms
//	hubs/<hub>/msgs  room number + seq (8 + 8 bytes) → message JSON
//	hubs/<hub>/journal journal position (8 bytes) → uvarint len(room) + room + message JSON (see store_embedded_journal.go)
//	hubs/<hub>/ids   message id → its msgs key, then its journal position (8 bytes) if it was journaled
//	hubs/<hub>/cmids uvarint len(sender) + sender + clientMessageId → message id
//	hubs/<hub>/reads uvarint len(room) + room + user → unix nanoseconds (8 bytes)
//	hubs/<hub>/delivered  uvarint len(message id) + message id + user → unix nanoseconds (8 bytes)
//	hubs/<hub>/moderation uvarint len(room) + room + user → moderation record JSON
//	hubs/<hub>/roomsettings room id → settings JSON
//	hubs/<hub>/changes room number + rev (8 + 8 bytes) → msgs key of the message whose last change has that rev
//
// All integers are big-endian, so a room's messages are one contiguous key
// range in seq order, and its changes one in rev order. Keeping every room in one msgs bucket (rather than a
// bucket per room) means a transaction appending to N rooms dirties about N
// leaf pages instead of about 2N, which halves the bytes each fsync flushes.
//
// Version 1 is the same layout without the journal: its rooms entries list
// no positions and its ids entries are msgs keys alone, so a version 1 file
// is read as it is and marked version 2 on open (a build that knows version 1
// only refuses it then, rather than missing the journaled messages).
//
// Reads run in concurrent read transactions; writes go through one
// group-committing writer (see committer).
type Embedded struct {
	db    *bolt.DB
	path  string
	log   *zap.Logger
	opts  EmbeddedOptions
	w     *committer
	rooms *roomSeqs  // the rooms' seqs, used by w's goroutine only
	claim sync.Mutex // one outbox claim at a time

	appliedMarks atomic.Uint64 // MarkEventApplied calls, to prune now and then
}

// msgsFillPercent is how full a split leaves the msgs pages. A room's
// messages are only ever appended after its last one, so a page left
// behind by a split gets no more messages of that room: filling it leaves
// less unused space and makes the next split of the room's tail come later.
const msgsFillPercent = 0.9

// appendOnlyFillPercent is how full a split leaves the pages of the journal
// (keyed by a counter) and of ids (keyed mostly by time-ordered UUIDv7s):
// their keys arrive in order, so a page left behind by a split gets no more.
const appendOnlyFillPercent = 0.9

const (
	schemaVersion = "2"
	// schemaVersion1 is the layout before the journal (read as it is).
	schemaVersion1  = "1"
	initialMmapSize = 1 << 30
)

var (
	bucketMeta  = []byte("meta")
	bucketHubs  = []byte("hubs")
	bucketRooms = []byte("rooms")
	bucketMsgs  = []byte("msgs")
	bucketIDs   = []byte("ids")
	bucketCmids = []byte("cmids")
	bucketReads = []byte("reads")
	bucketDeliv = []byte("delivered")
	bucketMods  = []byte("moderation")
	bucketRoomS = []byte("roomsettings")
	keyVersion  = []byte("version")

	hubSubBuckets = [][]byte{bucketRooms, bucketMsgs, bucketJournal, bucketIDs, bucketCmids, bucketReads, bucketDeliv, bucketMods, bucketRoomS, bucketChanges}
)

// OpenEmbedded opens (creating it and its directories when missing) the
// database file at path; the daemon passes <data>/messages.db.
func OpenEmbedded(path string, opts EmbeddedOptions) (*Embedded, error) {
	return openEmbedded(path, opts, defaultJournalLimits)
}

func openEmbedded(path string, opts EmbeddedOptions, limits journalLimits) (*Embedded, error) {
	opts = opts.withDefaults()
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open message store %s: %w", path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout:      opts.LockTimeout,
		FreelistType: bolt.FreelistMapType,
		NoSync:       opts.NoSync,
		// Growing the mapping makes the writer wait for every open read
		// transaction; map address space for a large file up front (it is
		// only address space: the file still grows as data is written).
		InitialMmapSize: initialMmapSize,
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
	rooms := newRoomSeqs(limits)
	return &Embedded{db: db, path: path, log: log, opts: opts, rooms: rooms, w: newCommitter(db, log, opts, rooms)}, nil
}

func initSchema(tx *bolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	switch v := meta.Get(keyVersion); {
	case v == nil, string(v) == schemaVersion1:
		if err := meta.Put(keyVersion, []byte(schemaVersion)); err != nil {
			return err
		}
	case string(v) != schemaVersion:
		return fmt.Errorf("unsupported schema version %q (want %s)", v, schemaVersion)
	}
	for _, b := range [][]byte{bucketOutbox, bucketApplied, bucketAppliedByTime} {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	hubs, err := tx.CreateBucketIfNotExists(bucketHubs)
	if err != nil {
		return err
	}
	// Hubs created by an earlier build lack the buckets added since.
	var names [][]byte
	if err := hubs.ForEachBucket(func(k []byte) error {
		names = append(names, slices.Clone(k))
		return nil
	}); err != nil {
		return err
	}
	for _, name := range names {
		hb := hubs.Bucket(name)
		for _, sub := range hubSubBuckets {
			if _, err := hb.CreateBucketIfNotExists(sub); err != nil {
				return err
			}
		}
	}
	return nil
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
	in := appendCopy(m)
	if err := Normalize(in); err != nil {
		return nil, false, fmt.Errorf("append: %w", err)
	}
	// An id generated here is a fresh UUIDv7 (time-ordered, random low
	// bits): it cannot name a stored message, so only an id the caller
	// chose is looked up for a duplicate.
	checkID := in.ID != ""
	if !checkID {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, false, fmt.Errorf("append: new id: %w", err)
		}
		in.ID = id.String()
	}
	if in.Timestamp.IsZero() {
		in.Timestamp = time.Now().UTC().Truncate(time.Millisecond)
	}
	// One buffer holds the id and hub keys, the ids value (msgs key and
	// journal position) and then the message's journal entry, the room and
	// the JSON (bbolt keeps values, not keys, until the commit). A run again
	// after a rollback rewrites the ids value and the JSON: the rolled-back
	// transaction no longer refers to them.
	buf := make([]byte, 0, len(in.ID)+len(in.HubName)+24+binary.MaxVarintLen16+len(in.RoomID)+256+len(in.Content)+len(in.ReplyTo)+len(in.Reaction))
	buf = append(append(buf, in.ID...), in.HubName...)
	idKey, hub := buf[:len(in.ID):len(in.ID)], buf[len(in.ID):len(buf):len(buf)]
	buf = append(buf, make([]byte, 24)...)
	ref := buf[len(buf)-24 : len(buf) : len(buf)]
	buf = appendJournalValue(buf, in.RoomID, nil)
	entryStart, roomHeader := len(in.ID)+len(in.HubName)+len(ref), len(buf)
	var (
		stored  *Message
		created bool
	)
	err := e.w.do(ctx, func(tx *bolt.Tx) error {
		stored, created = nil, false
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
			if checkID && hb.Bucket(bucketIDs).Get(idKey) != nil {
				return noWrite(fmt.Errorf("id %s: %w", in.ID, ErrDuplicateID))
			}
		}
		hb, err := hubBucket(hubs, hub)
		if err != nil {
			return err
		}
		num, seq, j, err := e.rooms.next(hb, in.HubName, in.RoomID)
		if err != nil {
			return err
		}
		// in is this call's own copy: it becomes the stored message.
		in.Seq = int64(seq)
		putRef(ref, num, seq, j)
		entry := in.appendJSON(buf[:roomHeader]) // Normalize made its raw fields valid JSON
		val, idsVal := entry[roomHeader:], ref
		if j == 0 { // a busy room's message goes to msgs directly
			msgs := hb.Bucket(bucketMsgs)
			msgs.FillPercent = msgsFillPercent
			if err := msgs.Put(ref[:16], val); err != nil {
				return err
			}
			idsVal = ref[:16]
		} else {
			journal := hb.Bucket(bucketJournal)
			journal.FillPercent = appendOnlyFillPercent
			if err := journal.Put(ref[16:], entry[entryStart:]); err != nil {
				return err
			}
			e.rooms.journaled(hb, in.HubName, len(ref[16:])+len(entry)-entryStart)
		}
		ids := hb.Bucket(bucketIDs)
		ids.FillPercent = appendOnlyFillPercent
		if err := ids.Put(idKey, idsVal); err != nil {
			return err
		}
		if in.ClientMessageID != "" {
			if err := hb.Bucket(bucketCmids).Put(cmidKey(in.SenderID, in.ClientMessageID), idKey); err != nil {
				return err
			}
		}
		if err := e.putOutbox(tx, OutboxCreated, in, val); err != nil {
			return err
		}
		stored, created = in, true
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
		r, ok := openRoom(hb, roomID)
		if !ok {
			return nil
		}
		var err error
		if q.Changes {
			out, err = scanChanges(r, hub, q)
		} else {
			out, err = scanMessages(r, hub, q)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", hub, roomID, err)
	}
	return out, nil
}

// scanChanges walks one room's entries in changes (each naming one of its
// messages): forward from the lower bound when it is set, else backward
// from the upper one (or the newest), and returns them oldest first.
func scanChanges(r room, hub string, q Query) ([]*Message, error) {
	room := r.pos.num
	c := r.hb.Bucket(bucketChanges).Cursor()
	var out []*Message
	inRoom := func(k []byte) bool { return len(k) == 16 && binary.BigEndian.Uint64(k) == room }
	more := func(k []byte) bool { return inRoom(k) && (q.Limit == 0 || len(out) < q.Limit) }
	take := func(v []byte) error {
		if len(v) != 16 || binary.BigEndian.Uint64(v) != room {
			return fmt.Errorf("change index of room %d names a message of another room", room)
		}
		mv, err := r.message(binary.BigEndian.Uint64(v[8:]))
		if err != nil {
			return err
		}
		return collect(&out, hub, mv, q, room)
	}
	if q.AfterRev > 0 {
		for k, v := c.Seek(msgKey(room, uint64(q.AfterRev)+1)); more(k); k, v = c.Next() {
			if q.BeforeRev > 0 && int64(binary.BigEndian.Uint64(k[8:])) >= q.BeforeRev {
				break
			}
			if err := take(v); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	end := uint64(math.MaxUint64)
	if q.BeforeRev > 0 {
		end = uint64(q.BeforeRev)
	}
	k, v := c.Seek(msgKey(room, end))
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; more(k); k, v = c.Prev() {
		if err := take(v); err != nil {
			return nil, err
		}
	}
	slices.Reverse(out)
	return out, nil
}

// scanMessages walks one room's messages by seq, those in msgs and then
// those in the journal: forward from the lower bound when it is set, else
// backward from the upper one (or the newest), and returns them oldest
// first.
func scanMessages(r room, hub string, q Query) ([]*Message, error) {
	var out []*Message
	full := func() bool { return q.Limit > 0 && len(out) >= q.Limit }
	take := func(seq uint64) error {
		mv, err := r.message(seq)
		if err != nil {
			return err
		}
		return collect(&out, hub, mv, q, r.pos.num)
	}
	folded, last := r.pos.folded(), r.pos.seq
	if q.BeforeSeq > 0 {
		last = min(last, uint64(q.BeforeSeq)-1)
	}
	c := r.hb.Bucket(bucketMsgs).Cursor()
	inRoom := func(k []byte) bool { return len(k) == 16 && binary.BigEndian.Uint64(k) == r.pos.num }
	if q.AfterSeq > 0 {
		seq := uint64(q.AfterSeq) + 1
		for k, v := c.Seek(msgKey(r.pos.num, seq)); inRoom(k) && !full(); k, v = c.Next() {
			if seq = binary.BigEndian.Uint64(k[8:]); seq > min(folded, last) {
				break
			}
			if err := collect(&out, hub, v, q, r.pos.num); err != nil {
				return nil, err
			}
			seq++
		}
		for seq = max(seq, folded+1); seq <= last && !full(); seq++ {
			if err := take(seq); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	for seq := last; seq > folded && !full(); seq-- {
		if err := take(seq); err != nil {
			return nil, err
		}
	}
	k, v := c.Seek(msgKey(r.pos.num, min(folded, last)+1))
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for ; inRoom(k) && !full(); k, v = c.Prev() {
		if err := collect(&out, hub, v, q, r.pos.num); err != nil {
			return nil, err
		}
	}
	slices.Reverse(out)
	return out, nil
}

// collect decodes a room's stored message and appends it to out when the
// query takes it.
func collect(out *[]*Message, hub string, mv []byte, q Query, room uint64) error {
	if mv == nil {
		return fmt.Errorf("room %d: a message is missing", room)
	}
	m, err := decodeMessage(hub, mv)
	if err != nil {
		return err
	}
	if q.Matches(m.Status) && q.Sees(m.Audience) {
		*out = append(*out, m)
	}
	return nil
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

// GetByClientID implements Store.
func (e *Embedded) GetByClientID(ctx context.Context, hub, senderID, clientMessageID string) (*Message, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if clientMessageID == "" {
		return nil, fmt.Errorf("get %s by client id: %w", hub, ErrNotFound)
	}
	var m *Message
	err := e.view(func(tx *bolt.Tx) error {
		hb := tx.Bucket(bucketHubs).Bucket([]byte(hub))
		if hb == nil {
			return ErrNotFound
		}
		id := hb.Bucket(bucketCmids).Get(cmidKey(senderID, clientMessageID))
		if id == nil {
			return ErrNotFound
		}
		var err error
		m, err = getMessage(hb, hub, string(id))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get %s by client id %q of %s: %w", hub, clientMessageID, senderID, err)
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
		ref := slices.Clone(hb.Bucket(bucketIDs).Get([]byte(id)))
		key := ref[:16]
		if next.Rev, err = recordChange(hb.Bucket(bucketChanges), key, cur.Rev); err != nil {
			return err
		}
		val := next.appendJSON(nil)
		n, err := putStored(hb, ref, next.RoomID, val)
		if err != nil {
			return err
		}
		if n > 0 { // counted whole though it replaces an entry: at worst the journal folds earlier
			e.rooms.journaled(hb, hub, n)
		}
		if err := e.putOutbox(tx, updateOp(cur, next), next, val); err != nil {
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
		return hb.Bucket(bucketReads).Put(key, timeVal(ts))
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
		ts = parseTimeVal(hb.Bucket(bucketReads).Get(readKey(roomID, userID)))
		return nil
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("read mark %s/%s/%s: %w", hub, roomID, userID, err)
	}
	return ts, nil
}

// timeVal encodes a time (UTC, milliseconds: the precision of every store) as
// unix nanoseconds.
func timeVal(t time.Time) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), uint64(t.UTC().Truncate(time.Millisecond).UnixNano()))
}

func parseTimeVal(v []byte) time.Time {
	if len(v) != 8 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(v))).UTC()
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
	for _, name := range hubSubBuckets {
		if _, err := hb.CreateBucket(name); err != nil {
			return nil, err
		}
	}
	return hb, nil
}

func getMessage(hb *bolt.Bucket, hub, id string) (*Message, error) {
	ref := hb.Bucket(bucketIDs).Get([]byte(id))
	if len(ref) != 16 && len(ref) != 24 {
		return nil, ErrNotFound
	}
	v, err := storedMessage(hb, ref)
	if err != nil {
		return nil, err
	}
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

// msgKey is a message's key in msgs: room number, seq.
func msgKey(room, seq uint64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, room)
	binary.BigEndian.PutUint64(k[8:], seq)
	return k
}

// pairKey joins two strings unambiguously: uvarint len(a), a, b.
func pairKey(a, b string) []byte {
	k := binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen16+len(a)+len(b)), uint64(len(a)))
	return append(append(k, a...), b...)
}

func cmidKey(sender, cmid string) []byte { return pairKey(sender, cmid) }

func readKey(room, user string) []byte { return pairKey(room, user) }
