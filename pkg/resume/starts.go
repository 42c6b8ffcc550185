package resume

// Starts turns a client's last offset, the event (stream at, number n) it
// received last (has false: it sent none), into the number after which each
// stream of the record's rooms (messages by seq, changes by rev) is to be
// replayed: starts[stream] for every stream it can tell.
//
// The transport is ordered: the client received every write before that
// one, and none after it as far as the server knows. So for a stream Q:
//   - the offset's stream: n;
//   - else the last write of Q up to the offset's (in Tail);
//   - else one below the first write of Q after the offset's (Base when
//     this socket started with Q at Base and nothing was cut from Tail);
//   - else Written (every write of Q came before Tail, all received);
//   - else nothing (no write of Q since the join: the caller replays
//     from the join).
//
// exact is false when the record holds no write log, or when the offset's
// write is not in Tail and older writes were cut (the client's last offset
// is older than what was kept): then starts holds only the offset's
// stream, and the caller falls back to time for the others.
func (r *Record) Starts(at Stream, n int64, has bool) (starts map[Stream]int64, exact bool) {
	starts = make(map[Stream]int64, 2*len(r.Rooms))
	p := r.find(at, n, has)
	if !r.Logged || (p < 0 && r.TailCut) {
		if has {
			starts[at] = n
		}
		return starts, false
	}
	before := make(map[Stream]int64, len(r.TailRooms))
	after := make(map[Stream]int64, len(r.TailRooms))
	for i, w := range r.Tail {
		st, ok := r.stream(w)
		if !ok {
			continue
		}
		if i <= p {
			before[st] = w.Seq
		} else if _, ok := after[st]; !ok {
			after[st] = w.first()
		}
	}
	for _, q := range r.Rooms {
		for _, change := range []bool{false, true} {
			st := Stream{Room: q.ID, Change: change}
			written, base := q.last(change)
			switch b, a := before[st], after[st]; {
			case has && st == at:
				starts[st] = n
			case b > 0:
				starts[st] = b
			case a > 0 && base > 0 && !r.TailCut:
				starts[st] = base
			case a > 0:
				starts[st] = a - 1
			case written > 0:
				starts[st] = written
			}
		}
	}
	return starts, true
}

// find is the index in Tail of the last run of writes of stream at that
// holds n; -1 when it is not there.
func (r *Record) find(at Stream, n int64, has bool) int {
	if !has {
		return -1
	}
	for i := len(r.Tail) - 1; i >= 0; i-- {
		w := r.Tail[i]
		if st, ok := r.stream(w); ok && st == at && w.first() <= n && n <= w.Seq {
			return i
		}
	}
	return -1
}
