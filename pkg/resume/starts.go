package resume

// Starts turns a client's last offset, the message (room, seq) it received
// last (has false: it sent none), into the seq after which each room of
// the record is to be replayed: starts[id] for every room it can tell.
//
// The transport is ordered: the client received every write before that
// one, and none after it as far as the server knows. So for a room Q:
//   - the offset's room: seq;
//   - else the last write of Q up to the offset's (in Tail);
//   - else one below the first write of Q after the offset's (Base when
//     this socket started with Q at Base and nothing was cut from Tail);
//   - else Written (every write of Q came before Tail, all received);
//   - else nothing (no write of Q since the join: the caller replays
//     from the join).
//
// exact is false when the record holds no write log, or when the offset's
// write is not in Tail and older writes were cut (the client's last offset
// is older than what was kept): then starts holds only the offset's room,
// and the caller falls back to time for the others.
func (r *Record) Starts(room string, seq int64, has bool) (starts map[string]int64, exact bool) {
	starts = make(map[string]int64, len(r.Rooms))
	p := r.find(room, seq, has)
	if !r.Logged || (p < 0 && r.TailCut) {
		if has {
			starts[room] = seq
		}
		return starts, false
	}
	before := make(map[string]int64, len(r.TailRooms))
	after := make(map[string]int64, len(r.TailRooms))
	for i, w := range r.Tail {
		if w.Room < 0 || w.Room >= len(r.TailRooms) {
			continue
		}
		id := r.TailRooms[w.Room]
		if i <= p {
			before[id] = w.Seq
		} else if _, ok := after[id]; !ok {
			after[id] = w.first()
		}
	}
	for _, q := range r.Rooms {
		switch b, a := before[q.ID], after[q.ID]; {
		case has && q.ID == room:
			starts[q.ID] = seq
		case b > 0:
			starts[q.ID] = b
		case a > 0 && q.Base > 0 && !r.TailCut:
			starts[q.ID] = q.Base
		case a > 0:
			starts[q.ID] = a - 1
		case q.Written > 0:
			starts[q.ID] = q.Written
		}
	}
	return starts, true
}

// find is the index in Tail of the last run of writes of room that holds
// seq; -1 when it is not there.
func (r *Record) find(room string, seq int64, has bool) int {
	if !has {
		return -1
	}
	for i := len(r.Tail) - 1; i >= 0; i-- {
		w := r.Tail[i]
		if w.first() <= seq && seq <= w.Seq && w.Room >= 0 && w.Room < len(r.TailRooms) && r.TailRooms[w.Room] == room {
			return i
		}
	}
	return -1
}
