package hub

import (
	"strings"
	"sync"

	"github.com/hubd/hubd/pkg/resume"
)

// What a socket was written, for its session record: per stream (a room's
// messages by seq, or its changes by rev) the last number written, and the
// last writes in order (at most maxTail runs: consecutive writes of one
// stream share an entry, so a socket that is written one room at a time
// keeps one entry per switch of stream, however many messages). With them
// the client's last offset, the one message it is known to have received,
// tells what it received in every room (resume.Record.Starts). A socket's
// offset gate runs in the order its events are queued (sio.OffsetGate), so
// note sees the writes in the order the client receives them.

// Bounds of a socket's write log: the tail starts at tailStart entries and
// doubles up to maxTail, then drops its oldest entries (a client whose
// last offset is older falls back to time, see recovery_restore.go).
const (
	tailStart = 64
	maxTail   = 1024
)

// linearRooms is how many rooms a write log searches in order before it
// indexes them in a map: most sockets are written a few rooms, and a map
// cost an idle socket in one room 256 bytes.
const linearRooms = 8

// writeLog is one socket's write log. note is O(1) (a scan of at most
// linearRooms rooms) and allocates only when a room is written to for the
// first time or the tail grows (at most log2(maxTail/tailStart)+1 times per
// socket).
type writeLog struct {
	mu    sync.Mutex
	rooms []*roomLog          // in the order first written
	index map[string]*roomLog // rooms by id, once there are more than linearRooms
	tail  *tailRing           // nil until the first write
}

// tailRing is the last writes of a write log.
type tailRing struct {
	entries []logEntry // a ring once len(entries) == maxTail
	next    int        // the ring's oldest entry once full
	cut     bool       // entries were dropped
}

// roomLog is the log of one room: of each of its streams (0 messages, 1
// changes) the last number written and what the client had when the
// socket started writing it (a join's history, a recovered room's replay).
type roomLog struct {
	id      string
	written [2]int64
	base    [2]int64
}

// logEntry is a run of writes of one stream, numbers from..seq.
type logEntry struct {
	room      *roomLog
	change    bool
	from, seq int64
}

// streamIndex is the index of a stream in a roomLog's arrays.
func streamIndex(change bool) int {
	if change {
		return 1
	}
	return 0
}

// find returns the log of a room, or nil; l.mu held.
func (l *writeLog) find(id string) *roomLog {
	if l.index != nil {
		return l.index[id]
	}
	for _, rl := range l.rooms {
		if rl.id == id {
			return rl
		}
	}
	return nil
}

// room returns the log of a room, creating it; l.mu held.
func (l *writeLog) room(id string) *roomLog {
	if rl := l.find(id); rl != nil {
		return rl
	}
	rl := &roomLog{id: strings.Clone(id)}
	l.rooms = append(l.rooms, rl)
	switch {
	case l.index != nil:
		l.index[rl.id] = rl
	case len(l.rooms) > linearRooms:
		l.index = make(map[string]*roomLog, len(l.rooms))
		for _, r := range l.rooms {
			l.index[r.id] = r
		}
	}
	return rl
}

// note records that number seq of a room's stream (a message, or with
// change a change) was queued to the socket. The room's log takes room as
// its id: a broadcast names its room with the string every broadcast of
// the room uses (offsetKey), so the next one finds the log by address.
// room must not alias a large buffer.
func (l *writeLog) note(room string, change bool, seq int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rl := l.room(room)
	rl.id = room
	rl.written[streamIndex(change)] = seq
	if l.tail == nil {
		l.tail = &tailRing{entries: make([]logEntry, 0, tailStart)}
	}
	t := l.tail
	if n := len(t.entries); n > 0 {
		last := &t.entries[(t.next+n-1)%n]
		if last.room == rl && last.change == change {
			last.seq = seq
			return
		}
	}
	e := logEntry{room: rl, change: change, from: seq, seq: seq}
	switch {
	case len(t.entries) < maxTail:
		t.entries = append(t.entries, e)
	default:
		t.entries[t.next] = e
		t.next = (t.next + 1) % maxTail
		t.cut = true
	}
}

// seed records that the client had a room's stream up to base when this
// socket started writing it (a join's history, a recovered room's replay).
func (l *writeLog) seed(room string, change bool, base int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rl, i := l.room(room), streamIndex(change)
	rl.base[i] = base
	rl.written[i] = max(rl.written[i], base)
}

// fill writes the log into rec: Written and Base of its rooms, the tail.
func (l *writeLog) fill(rec *resume.Record) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range rec.Rooms {
		q := &rec.Rooms[i]
		if rl := l.find(q.ID); rl != nil {
			q.Written, q.Base = rl.written[0], rl.base[0]
			q.ChangeWritten, q.ChangeBase = rl.written[1], rl.base[1]
		}
	}
	index := make(map[string]int)
	t := l.tail
	if t == nil {
		t = &tailRing{}
	}
	rec.Tail = make([]resume.Write, 0, len(t.entries))
	add := func(e logEntry) {
		i, ok := index[e.room.id]
		if !ok {
			i = len(rec.TailRooms)
			index[e.room.id] = i
			rec.TailRooms = append(rec.TailRooms, e.room.id)
		}
		w := resume.Write{Room: i, Seq: e.seq, Change: e.change}
		if e.from != e.seq {
			w.From = e.from
		}
		rec.Tail = append(rec.Tail, w)
	}
	for _, e := range t.entries[t.next:] {
		add(e)
	}
	for _, e := range t.entries[:t.next] {
		add(e)
	}
	rec.TailCut, rec.Logged = t.cut, true
}
