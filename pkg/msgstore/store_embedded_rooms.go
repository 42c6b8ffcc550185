package msgstore

import (
	"fmt"
	"slices"

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
//     size;
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
	journalSize, pendingJournalSize map[string]int
	limits                          journalLimits
}

type roomRef struct{ hub, room string }

func newRoomSeqs(limits journalLimits) *roomSeqs {
	return &roomSeqs{
		committed: map[roomRef]roomPos{}, pending: map[roomRef]roomPos{},
		journalSize: map[string]int{}, pendingJournalSize: map[string]int{},
		limits: limits,
	}
}

// load returns the room's entry as the running transaction sees it, and
// whether the room has one (else its number is not taken yet).
func (r *roomSeqs) load(hb *bolt.Bucket, ref roomRef) (roomPos, bool, error) {
	if pos, ok := r.pending[ref]; ok {
		return pos, true, nil
	}
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
	// committed's positions stay as they are until the transaction commits
	pos.journaled = slices.Clone(pos.journaled)
	return pos, true, nil
}

// size returns the hub's journal size as the running transaction sees it.
func (r *roomSeqs) size(hb *bolt.Bucket, hub string) int {
	if n, ok := r.pendingJournalSize[hub]; ok {
		return n
	}
	n, ok := r.journalSize[hub]
	if !ok {
		n = hb.Bucket(bucketJournal).Stats().KeyN
	}
	return n
}

// next assigns the next seq of a room of hb (numbering the room on its
// first message) and its journal position, and returns the message's msgs
// key, seq and position. A room at its limit of journaled messages is
// folded first.
// Once an op called it, the op must not fail softly (noWrite): its seq is
// taken.
func (r *roomSeqs) next(hb *bolt.Bucket, hub, room string) ([]byte, uint64, uint64, error) {
	ref := roomRef{hub, room}
	pos, ok, err := r.load(hb, ref)
	if err != nil {
		return nil, 0, 0, err
	}
	if !ok {
		if pos.num, err = hb.Bucket(bucketRooms).NextSequence(); err != nil {
			return nil, 0, 0, err
		}
	}
	if len(pos.journaled) >= r.limits.perRoom {
		if pos, err = foldRoom(hb, pos); err != nil {
			return nil, 0, 0, err
		}
	}
	j, err := hb.Bucket(bucketJournal).NextSequence()
	if err != nil {
		return nil, 0, 0, err
	}
	r.pendingJournalSize[hub] = r.size(hb, hub) + 1
	pos.seq++
	pos.journaled = append(pos.journaled, j)
	r.pending[ref] = pos
	return msgKey(pos.num, pos.seq), pos.seq, j, nil
}

// flush runs the full folds due and writes the rooms the running
// transaction changed into their hubs' rooms buckets.
func (r *roomSeqs) flush(tx *bolt.Tx) error {
	hubs := tx.Bucket(bucketHubs)
	for hub, n := range r.pendingJournalSize {
		if n < r.limits.foldAt {
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
	var buf []byte
	for ref, pos := range r.pending {
		hb := hubs.Bucket([]byte(ref.hub))
		if hb == nil {
			return fmt.Errorf("hub %q of room %q is missing", ref.hub, ref.room)
		}
		buf = appendRoomEntry(buf[:0], pos)
		if err := hb.Bucket(bucketRooms).Put([]byte(ref.room), slices.Clone(buf)); err != nil {
			return err
		}
	}
	return nil
}

// foldAll moves every journaled message of the hub to msgs and starts its
// journal over (keeping its counter, so positions are never reused).
func (r *roomSeqs) foldAll(hb *bolt.Bucket, hub string) error {
	journal := hb.Bucket(bucketJournal)
	var rooms []string
	seen := map[string]bool{}
	c := journal.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		room, _, ok := parseJournalValue(v)
		if !ok {
			return fmt.Errorf("journal entry %x is malformed", k)
		}
		if !seen[string(room)] {
			seen[string(room)] = true
			rooms = append(rooms, string(room))
		}
	}
	for _, room := range rooms {
		ref := roomRef{hub, room}
		pos, ok, err := r.load(hb, ref)
		if err != nil {
			return err
		}
		if !ok || len(pos.journaled) == 0 {
			continue
		}
		if pos, err = foldRoom(hb, pos); err != nil {
			return err
		}
		r.pending[ref] = pos
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
	r.pendingJournalSize[hub] = 0
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
			r.committed[ref] = pos
		}
		for hub, n := range r.pendingJournalSize {
			r.journalSize[hub] = n
		}
	}
	clear(r.pending)
	clear(r.pendingJournalSize)
}
