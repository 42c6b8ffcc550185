package msgstore

import (
	"encoding/binary"

	bolt "go.etcd.io/bbolt"
)

// bucketChanges indexes each hub's change stream: room number + rev (8 + 8
// bytes) → the msgs key of the message whose last change has that rev. A
// message holds only its last rev, so an update moves its entry; the last
// key of a room's range is the room's last rev (no message is ever removed,
// so its number is never taken away again).
var bucketChanges = []byte("changes")

// recordChange gives the message at key (in msgs) the room's next rev,
// replacing its entry of its previous rev (0: none), and returns the rev.
// The single writer makes the number the next to commit.
func recordChange(changes *bolt.Bucket, key []byte, prev int64) (int64, error) {
	room := binary.BigEndian.Uint64(key)
	rev := lastRev(changes.Cursor(), room) + 1
	if prev > 0 {
		if err := changes.Delete(msgKey(room, uint64(prev))); err != nil {
			return 0, err
		}
	}
	if err := changes.Put(msgKey(room, rev), key); err != nil {
		return 0, err
	}
	return int64(rev), nil
}

// lastRev returns the room's last rev, 0 before its first change: the key
// before the next room's range.
func lastRev(c *bolt.Cursor, room uint64) uint64 {
	k, _ := c.Seek(msgKey(room+1, 0))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if len(k) != 16 || binary.BigEndian.Uint64(k) != room {
		return 0
	}
	return binary.BigEndian.Uint64(k[8:])
}
