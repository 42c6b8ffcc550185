package msgstore

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// maxCachedRooms bounds roomSeqs' memory: past it the cache starts over
// (a room missing from it costs one read of the rooms bucket).
const maxCachedRooms = 1 << 16

// roomSeqs numbers the messages of the rooms for the embedded store's one
// writer and places them in the journal (see store_embedded_journal.go), so
// that an append neither reads nor rewrites the room's entry in the rooms
// bucket on its own:
//
//   - committed caches each room's entry as of the last committed
//     transaction (a miss reads the rooms bucket), and each hub's journal
//     size (entries and bytes);
//   - pending holds what the running transaction changed; the committer
//     runs the full folds due and writes the rooms entries once per room,
//     after the transaction's last op (flush), and folds them into
//     committed only when the transaction committed (end), so a rolled-back
//     or failed transaction leaves no trace.
//
// Only the committer's goroutine calls it (write transactions are serial),
// so it needs no lock.
type roomSeqs struct {
	committed, pending              map[roomRef]roomPos
	journalSize, pendingJournalSize map[string]journalUse
	limits                          journalLimits
}

type roomRef struct{ hub, room string }

// journalUse is a hub journal's size: its entries, and the bytes of their
// keys and values. Counted as appends and edits put them while running;
// after a restart it starts from bbolt's leaf bytes in use, which add
// each entry's 16-byte element header and the pages' headers, so a
// reopened journal folds a little early, never late.
type journalUse struct{ entries, bytes int }

func newRoomSeqs(limits journalLimits) *roomSeqs {
	return &roomSeqs{
		committed: map[roomRef]roomPos{}, pending: map[roomRef]roomPos{},
		journalSize: map[string]journalUse{}, pendingJournalSize: map[string]journalUse{},
		limits: limits,
	}
}

// load returns the room's entry as the running transaction sees it, and
// whether the room has one (else its number is not taken yet).
func (r *roomSeqs) load(hb *bolt.Bucket, ref roomRef) (roomPos, bool, error) {
	if pos, ok := r.pending[ref]; ok {
		return pos, true, nil
	}
	return r.loadCommitted(hb, ref)
}

// loadCommitted is load for a room the running transaction has not changed
// yet: its entry as committed. The positions may share their array with
// committed's: positions are only ever appended (past committed's length,
// which a pending append never changes) or dropped whole, never rewritten.
func (r *roomSeqs) loadCommitted(hb *bolt.Bucket, ref roomRef) (roomPos, bool, error) {
	pos, ok := r.committed[ref]
	if !ok {
		v := hb.Bucket(bucketRooms).Get([]byte(ref.room))
		if v == nil {
			return roomPos{}, false, nil
		}
		if pos, ok = parseRoomEntry(v); !ok {
			return roomPos{}, false, fmt.Errorf("room %q: malformed rooms entry", ref.room)
		}
	}
	return pos, true, nil
}

// size returns the hub's journal size as the running transaction sees it.
func (r *roomSeqs) size(hb *bolt.Bucket, hub string) journalUse {
	if n, ok := r.pendingJournalSize[hub]; ok {
		return n
	}
	n, ok := r.journalSize[hub]
	if !ok {
		st := hb.Bucket(bucketJournal).Stats()
		n = journalUse{entries: st.KeyN, bytes: st.LeafInuse + st.InlineBucketInuse}
	}
	return n
}

// journaled counts an entry of n bytes the running transaction put in the
// hub's journal (of hb): a new one, at the position next gave it, or an
// edited one.
func (r *roomSeqs) journaled(hb *bolt.Bucket, hub string, n int) {
	use := r.size(hb, hub)
	use.bytes += n
	r.pendingJournalSize[hub] = use
}

// next assigns the next seq of a room of hb (numbering the room on its
// first message) and its journal position, and returns the room's number,
// the seq and the position, 0 when the message goes to msgs directly (a
// busy room, see journalLimits). A room at its limit of journaled messages,
// or busy, is folded first.
// Once an op called it, the op must not fail softly (noWrite): its seq is
// taken.
func (r *roomSeqs) next(hb *bolt.Bucket, hub, room string) (num, seq, j uint64, err error) {
	ref := roomRef{hub, room}
	pos, ok, err := r.load(hb, ref)
	if err != nil {
		return 0, 0, 0, err
	}
	if !ok {
		if pos.num, err = hb.Bucket(bucketRooms).NextSequence(); err != nil {
			return 0, 0, 0, err
		}
	}
	busy := r.limits.directAt > 0 && pos.lastAppends >= r.limits.directAt
	if busy || len(pos.journaled) >= r.limits.perRoom {
		if pos, err = foldRoom(hb, pos); err != nil {
			return 0, 0, 0, err
		}
	}
	pos.seq++
	pos.appends++
	if !busy {
		if j, err = hb.Bucket(bucketJournal).NextSequence(); err != nil {
			return 0, 0, 0, err
		}
		use := r.size(hb, hub)
		use.entries++
		r.pendingJournalSize[hub] = use
		pos.journaled = append(pos.journaled, j)
	}
	r.pending[ref] = pos
	return pos.num, pos.seq, j, nil
}

// flush runs the full folds due and writes the rooms the running
// transaction changed into their hubs' rooms buckets.
func (r *roomSeqs) flush(tx *bolt.Tx) error {
	hubs := tx.Bucket(bucketHubs)
	for hub, n := range r.pendingJournalSize {
		if n.entries < r.limits.foldAt && (r.limits.foldBytes == 0 || n.bytes < r.limits.foldBytes) {
			continue
		}
		hb := hubs.Bucket([]byte(hub))
		if hb == nil {
			return fmt.Errorf("hub %q is missing", hub)
		}
		if err := r.foldAll(hb, hub); err != nil {
			return fmt.Errorf("fold the journal of hub %q: %w", hub, err)
		}
	}
	// one buffer for the entries (bbolt keeps values until the commit; it
	// copies keys, so they go in there too)
	size := 0
	for ref, pos := range r.pending {
		size += len(ref.room) + 16 + 8*len(pos.journaled)
	}
	buf := make([]byte, 0, size)
	var (
		hub   string
		rooms *bolt.Bucket
	)
	for ref, pos := range r.pending {
		if rooms == nil || ref.hub != hub {
			hb := hubs.Bucket([]byte(ref.hub))
			if hb == nil {
				return fmt.Errorf("hub %q of room %q is missing", ref.hub, ref.room)
			}
			hub, rooms = ref.hub, hb.Bucket(bucketRooms)
		}
		start := len(buf)
		buf = append(buf, ref.room...)
		mid := len(buf)
		buf = appendRoomEntry(buf, pos)
		if err := rooms.Put(buf[start:mid:mid], buf[mid:len(buf):len(buf)]); err != nil {
			return err
		}
	}
	return nil
}

// foldAll moves every journaled message of the hub to msgs and starts its
// journal over (keeping its counter, so positions are never reused). One
// walk of the journal in position order takes each room's journaled
// messages oldest first and skips the entries room folds already moved.
func (r *roomSeqs) foldAll(hb *bolt.Bucket, hub string) error {
	type folding struct {
		pos  roomPos
		next int // index in pos.journaled of the next entry to move
	}
	rooms := map[string]*folding{}
	msgs := hb.Bucket(bucketMsgs)
	msgs.FillPercent = msgsFillPercent
	journal := hb.Bucket(bucketJournal)
	var key [16]byte // Put copies keys
	c := journal.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		room, msg, ok := parseJournalValue(v)
		if !ok || len(k) != 8 {
			return fmt.Errorf("journal entry %x is malformed", k)
		}
		f := rooms[string(room)]
		if f == nil {
			pos, ok, err := r.load(hb, roomRef{hub, string(room)})
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("journal entry %x names room %q, which has no entry", k, room)
			}
			f = &folding{pos: pos}
			rooms[string(room)] = f
		}
		if f.next == len(f.pos.journaled) || f.pos.journaled[f.next] != binary.BigEndian.Uint64(k) {
			continue // moved by a room fold
		}
		binary.BigEndian.PutUint64(key[:], f.pos.num)
		binary.BigEndian.PutUint64(key[8:], f.pos.folded()+uint64(f.next)+1)
		// msg stays valid until the commit, though the journal's pages are
		// freed below: a transaction never reuses the pages it frees
		if err := msgs.Put(key[:], msg); err != nil {
			return err
		}
		f.next++
	}
	for room, f := range rooms {
		if f.next != len(f.pos.journaled) {
			return fmt.Errorf("room %q: %d journaled messages are missing from the journal", room, len(f.pos.journaled)-f.next)
		}
		if f.next > 0 {
			f.pos.journaled = nil
			r.pending[roomRef{hub, room}] = f.pos
		}
	}
	counter := journal.Sequence()
	if err := hb.DeleteBucket(bucketJournal); err != nil {
		return err
	}
	journal, err := hb.CreateBucket(bucketJournal)
	if err != nil {
		return err
	}
	if err := journal.SetSequence(counter); err != nil {
		return err
	}
	r.pendingJournalSize[hub] = journalUse{}
	return nil
}

// end closes the running transaction: its entries become the committed
// ones when it committed, and are forgotten otherwise.
func (r *roomSeqs) end(committed bool) {
	if committed {
		if len(r.committed)+len(r.pending) > maxCachedRooms {
			clear(r.committed)
		}
		for ref, pos := range r.pending {
			if pos.appends > 0 {
				pos.lastAppends, pos.appends = pos.appends, 0
			}
			r.committed[ref] = pos
		}
		for hub, n := range r.pendingJournalSize {
			r.journalSize[hub] = n
		}
	}
	clear(r.pending)
	clear(r.pendingJournalSize)
}
