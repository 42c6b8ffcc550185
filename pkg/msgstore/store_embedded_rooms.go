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
// writer, so that an append neither reads nor rewrites the room's entry in
// the rooms bucket on its own:
//
//   - committed caches each room's number and last seq as of the last
//     committed transaction (a miss reads the rooms bucket);
//   - pending holds what the running transaction assigned; the committer
//     writes it to the rooms bucket once per room, after the transaction's
//     last op (flush), and folds it into committed only when the
//     transaction committed (end), so a rolled-back or failed transaction
//     leaves no trace.
//
// Only the committer's goroutine calls it (write transactions are serial),
// so it needs no lock.
type roomSeqs struct {
	committed map[roomRef]roomPos
	pending   map[roomRef]roomPos
}

type roomRef struct{ hub, room string }

type roomPos struct{ num, seq uint64 }

func newRoomSeqs() *roomSeqs {
	return &roomSeqs{committed: map[roomRef]roomPos{}, pending: map[roomRef]roomPos{}}
}

// next assigns the next seq of a room of hb (numbering the room on its
// first message) and returns the message's msgs key. Once an op called it,
// the op must not fail softly (noWrite): its seq is taken.
func (r *roomSeqs) next(hb *bolt.Bucket, hub, room string) ([]byte, uint64, error) {
	ref := roomRef{hub, room}
	pos, ok := r.pending[ref]
	if !ok {
		pos, ok = r.committed[ref]
	}
	if !ok {
		rooms := hb.Bucket(bucketRooms)
		if v := rooms.Get([]byte(room)); len(v) == 16 {
			pos = roomPos{num: binary.BigEndian.Uint64(v), seq: binary.BigEndian.Uint64(v[8:])}
		} else {
			num, err := rooms.NextSequence()
			if err != nil {
				return nil, 0, err
			}
			pos = roomPos{num: num}
		}
	}
	pos.seq++
	r.pending[ref] = pos
	return msgKey(pos.num, pos.seq), pos.seq, nil
}

// flush writes the rooms the running transaction numbered into their hubs'
// rooms buckets: room id → room number + last seq.
func (r *roomSeqs) flush(tx *bolt.Tx) error {
	hubs := tx.Bucket(bucketHubs)
	for ref, pos := range r.pending {
		hb := hubs.Bucket([]byte(ref.hub))
		if hb == nil {
			return fmt.Errorf("hub %q of room %q is missing", ref.hub, ref.room)
		}
		if err := hb.Bucket(bucketRooms).Put([]byte(ref.room), msgKey(pos.num, pos.seq)); err != nil {
			return err
		}
	}
	return nil
}

// end closes the running transaction: its numbers become the committed
// ones when it committed, and are forgotten otherwise.
func (r *roomSeqs) end(committed bool) {
	if committed {
		if len(r.committed)+len(r.pending) > maxCachedRooms {
			clear(r.committed)
		}
		for ref, pos := range r.pending {
			r.committed[ref] = pos
		}
	}
	clear(r.pending)
}
