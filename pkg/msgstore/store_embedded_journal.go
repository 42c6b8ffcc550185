package msgstore

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// The journal: where the embedded store appends a message first.
//
// msgs keeps each room's messages together (room number + seq), which is
// what reads want, but it makes a transaction that appends one message to
// each of N rooms rewrite N leaf pages of 4 KiB: one page per message when
// rooms get one message per commit, and a commit's CPU goes by page (node
// materialised, spilled, written, synced). So an append writes its message
// to the hub's journal instead, keyed by a hub-wide counter: a commit's
// messages fill a few consecutive pages. They move to msgs later, many per
// room at a time (a fold), in the same group commits:
//
//   - a room fold moves a room's journaled messages to msgs when it has
//     perRoom of them (before its next append), so that its rooms entry
//     stays small;
//   - a room that had directAt appends or more in the last transaction that
//     appended to it (a busy room) skips the journal: its messages go to msgs
//     directly, after its journaled ones are moved;
//   - a full fold, at the end of a transaction that leaves the hub's journal
//     with foldAt entries or foldBytes bytes or more, moves every room's journaled
//     messages and starts the journal over (its pages freed at once; the
//     entries a room fold already moved are dropped with them).
//
// A room's journaled messages are always its newest ones. Its rooms entry
// lists where they are: room number, last seq, then one journal position
// per journaled message, oldest first (seqs last-n+1 .. last). A message's
// ids entry is its msgs key followed by its journal position, so a lookup
// that does not find it in msgs reads the journal. Everything is in the same
// bbolt transactions as before: a reader's snapshot sees a message in
// exactly one of the two places, and a crash loses nothing a commit
// acknowledged.
//
//	hubs/<hub>/journal  position (8 bytes) → uvarint len(room) + room + message JSON

var bucketJournal = []byte("journal")

// journalLimits sets when folds run.
type journalLimits struct {
	// perRoom caps a room's journaled messages (its rooms entry holds 8
	// bytes per message).
	perRoom int
	// foldAt is the journal size (entries) that starts a full fold.
	foldAt int
	// directAt: a room that had this many appends in the last transaction
	// that appended to it writes its messages to msgs directly (its leaf
	// page is shared by that many messages anyway, and the journal would
	// write each of them twice); 0 never.
	directAt int
	// foldBytes is the journal size (bytes of its entries) that starts a
	// full fold, however few its entries (a message may be as large as a
	// client's payload); 0: no limit.
	foldBytes int
}

// defaultJournalLimits: a room's entry stays under 300 bytes, a full fold
// moves at most 4,096 messages (about 1.2 MiB of a typical size) or 4 MiB
// of them, and then the messages of the transaction that filled it, and a
// room with four appends in a commit shares its leaf among them.
var defaultJournalLimits = journalLimits{perRoom: 32, foldAt: 4096, directAt: 4, foldBytes: 4 << 20}

// maxRoomEntryPositions bounds the positions a rooms entry may list.
const maxRoomEntryPositions = 1 << 16

// roomPos is a room's number, last seq and journaled messages' positions
// (seqs seq-len(journaled)+1 .. seq).
type roomPos struct {
	num, seq  uint64
	journaled []uint64
	// in memory only: the room's appends in the running transaction and in
	// the last one that appended to it
	appends, lastAppends int
}

// folded is the last seq of the room that is in msgs.
func (p roomPos) folded() uint64 { return p.seq - uint64(len(p.journaled)) }

// appendRoomEntry encodes a rooms entry: number, last seq, positions.
func appendRoomEntry(b []byte, p roomPos) []byte {
	b = binary.BigEndian.AppendUint64(b, p.num)
	b = binary.BigEndian.AppendUint64(b, p.seq)
	for _, j := range p.journaled {
		b = binary.BigEndian.AppendUint64(b, j)
	}
	return b
}

// parseRoomEntry decodes a rooms entry; an entry of the first layout is the
// number and last seq alone (nothing journaled).
func parseRoomEntry(v []byte) (roomPos, bool) {
	if len(v) < 16 || len(v)%8 != 0 || len(v)-16 > 8*maxRoomEntryPositions {
		return roomPos{}, false
	}
	p := roomPos{num: binary.BigEndian.Uint64(v), seq: binary.BigEndian.Uint64(v[8:])}
	if n := (len(v) - 16) / 8; n > 0 {
		if uint64(n) > p.seq {
			return roomPos{}, false
		}
		p.journaled = make([]uint64, n)
		for i := range p.journaled {
			p.journaled[i] = binary.BigEndian.Uint64(v[16+8*i:])
		}
	}
	return p, true
}

func journalKey(j uint64) []byte { return binary.BigEndian.AppendUint64(make([]byte, 0, 8), j) }

// putRef writes the ids entry of a journaled message into ref (24 bytes):
// its msgs key (room number, seq), then its journal position.
func putRef(ref []byte, num, seq, j uint64) {
	binary.BigEndian.PutUint64(ref, num)
	binary.BigEndian.PutUint64(ref[8:], seq)
	binary.BigEndian.PutUint64(ref[16:], j)
}

// appendJournalValue encodes a journal entry's value around a message's JSON.
func appendJournalValue(b []byte, room string, msg []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(room)))
	return append(append(b, room...), msg...)
}

// parseJournalValue splits a journal entry's value into room and JSON.
func parseJournalValue(v []byte) (room, msg []byte, ok bool) {
	n, w := binary.Uvarint(v)
	if w <= 0 || uint64(len(v)-w) < n {
		return nil, nil, false
	}
	return v[w : w+int(n)], v[w+int(n):], true
}

// journaledMessage returns the JSON of the message at position j.
func journaledMessage(hb *bolt.Bucket, j uint64) ([]byte, error) {
	v := hb.Bucket(bucketJournal).Get(journalKey(j))
	if v == nil {
		return nil, fmt.Errorf("journal entry %d is missing", j)
	}
	_, msg, ok := parseJournalValue(v)
	if !ok {
		return nil, fmt.Errorf("journal entry %d is malformed", j)
	}
	return msg, nil
}

// foldRoom moves the room's journaled messages to msgs (their journal
// entries stay until the next full fold) and returns pos without them.
func foldRoom(hb *bolt.Bucket, pos roomPos) (roomPos, error) {
	if len(pos.journaled) == 0 {
		return pos, nil
	}
	msgs := hb.Bucket(bucketMsgs)
	msgs.FillPercent = msgsFillPercent
	var key [16]byte // Put copies keys
	binary.BigEndian.PutUint64(key[:], pos.num)
	seq := pos.folded()
	for _, j := range pos.journaled {
		seq++
		msg, err := journaledMessage(hb, j)
		if err != nil {
			return pos, err
		}
		// msg stays valid until the commit (bbolt copies the values of the
		// pages it remaps, and a transaction never reuses pages it frees)
		binary.BigEndian.PutUint64(key[8:], seq)
		if err := msgs.Put(key[:], msg); err != nil {
			return pos, err
		}
	}
	pos.journaled = nil
	return pos, nil
}

// room is a read transaction's view of one room: its entry and buckets.
type room struct {
	hb  *bolt.Bucket
	pos roomPos
}

// openRoom reads the room's entry; false when the room has no message.
func openRoom(hb *bolt.Bucket, roomID string) (room, bool) {
	pos, ok := parseRoomEntry(hb.Bucket(bucketRooms).Get([]byte(roomID)))
	return room{hb: hb, pos: pos}, ok
}

// message returns the JSON of the room's message at seq, wherever it is;
// nil when there is none.
func (r room) message(seq uint64) ([]byte, error) {
	if seq == 0 || seq > r.pos.seq {
		return nil, nil
	}
	if f := r.pos.folded(); seq > f {
		return journaledMessage(r.hb, r.pos.journaled[seq-f-1])
	}
	return r.hb.Bucket(bucketMsgs).Get(msgKey(r.pos.num, seq)), nil
}

// each calls fn with the room's messages in seq order.
func (r room) each(fn func(msg []byte) error) error {
	prefix := msgKey(r.pos.num, 0)[:8]
	c := r.hb.Bucket(bucketMsgs).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(v); err != nil {
			return err
		}
	}
	for _, j := range r.pos.journaled {
		msg, err := journaledMessage(r.hb, j)
		if err != nil {
			return err
		}
		if err := fn(msg); err != nil {
			return err
		}
	}
	return nil
}

// storedMessage returns the JSON of the message whose ids entry is ref
// (its msgs key, then its journal position when it was journaled).
func storedMessage(hb *bolt.Bucket, ref []byte) ([]byte, error) {
	if v := hb.Bucket(bucketMsgs).Get(ref[:16]); v != nil {
		return v, nil
	}
	if len(ref) == 24 {
		return journaledMessage(hb, binary.BigEndian.Uint64(ref[16:]))
	}
	return nil, nil
}

// putStored replaces the JSON of the message whose ids entry is ref where
// it is: in msgs, or in the journal while it is journaled there; it returns
// the bytes it put in the journal.
func putStored(hb *bolt.Bucket, ref []byte, room string, msg []byte) (int, error) {
	if len(ref) == 24 && hb.Bucket(bucketMsgs).Get(ref[:16]) == nil {
		v := appendJournalValue(make([]byte, 0, len(room)+len(msg)+3), room, msg)
		return 8 + len(v), hb.Bucket(bucketJournal).Put(slices.Clone(ref[16:]), v)
	}
	return 0, hb.Bucket(bucketMsgs).Put(ref[:16], msg)
}
