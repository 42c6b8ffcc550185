package hub

import (
	"sync"
	"time"
)

// sequencer releases a room's deliveries on this node in the order of
// their per-room sequence numbers, each exactly once, whichever node
// committed them: a node's own commits and the sequence notices of the
// other nodes (opSeq) both go through done. One goroutine at a time
// releases (the one that finds the queue idle), so emits never interleave.
//
// The message store assigns a room's sequence numbers without holes, and a
// number is committed only after every lower one: a number missing while
// higher ones wait is a notice that was lost or is late. After gapWait the
// sequencer reads the missing range from the store (fill) and delivers it
// before what follows; what the store does not hold does not exist, and
// what it holds arrives once (a late notice for a released number is
// dropped). Without a fill function (a room built by hand in tests) a gap
// is skipped after gapWait instead.
type sequencer struct {
	mu   sync.Mutex
	fill filler // nil: skip gaps
	// anchoring is set while the room's last stored sequence number is read
	// (anchor): nothing is released until it is known.
	anchoring bool
	next      int64 // next sequence number to release; 0 until the first one
	// known: every number up to it that is not pending does not exist (read
	// from the store).
	known    int64
	pending  map[int64]func()
	late     []func()           // skipped numbers that arrived after all
	skipped  map[int64]struct{} // numbers jumped over without the store
	flushing bool
	timer    *time.Timer
	// repairing: a store read runs; again: run another when it ends.
	repairing, again bool
	failures         int // consecutive failed repairs
	stats            func(result string)
	// spawn runs the store reads of repairs as tasks of the hub, which
	// Close waits for (false: the hub closed); nil: a plain goroutine.
	spawn func(fn func()) bool
}

// filler reads the deliveries of stored sequence numbers after `after`
// and below `before` (0: no upper bound), oldest first, at most a bounded
// number. covered is the highest number the answer accounts for: numbers
// up to it that are not in items do not exist.
type filler func(after, before int64) (items []seqItem, covered int64, err error)

// seqItem is the delivery of one sequence number.
type seqItem struct {
	seq  int64
	emit func()
	// replace: this delivery, read from the store, takes the place of a
	// notice already held for the number (see Hub.fill).
	replace bool
}

// Timing of gap repair, variables for tests.
var (
	// gapWait is how long a missing number may be late before the store
	// is asked; a notice overtaken by another node's is usually a few
	// milliseconds late.
	gapWait = 100 * time.Millisecond
	// repairAttempts bounds the store reads for one gap; after them the
	// gap is skipped (a store outage) and its numbers are delivered
	// whenever they show up.
	repairAttempts = 5
	// maxSkipped bounds the skipped numbers remembered per room.
	maxSkipped = 1024
)

// Gap repair results, the label of hubd_cluster_sequence_gaps_total.
const (
	gapRepaired = "repaired"
	gapSkipped  = "skipped"
	gapFailed   = "failed" // one store read that failed (retried)
)

// done hands in the emit function of sequence number seq.
func (q *sequencer) done(seq int64, emit func()) {
	q.mu.Lock()
	switch {
	case q.anchoring:
		q.hold(seq, emit)
		q.mu.Unlock()
		return
	case q.next == 0:
		q.next = seq
		q.hold(seq, emit)
	case seq >= q.next:
		q.hold(seq, emit)
	default:
		if _, ok := q.skipped[seq]; ok {
			delete(q.skipped, seq)
			q.late = append(q.late, emit)
		}
		// else: released already (a repaired number's late notice)
	}
	q.release()
}

// hold keeps emit until seq's turn; a second emit for seq is dropped.
func (q *sequencer) hold(seq int64, emit func()) {
	if q.pending == nil {
		q.pending = make(map[int64]func())
	}
	if _, dup := q.pending[seq]; !dup {
		q.pending[seq] = emit
	}
}

// anchor ends anchoring: last is the highest number stored when the room
// started on this node (ok false: unknown). Numbers that arrived meanwhile
// below it are released too: they were committed around the first join.
func (q *sequencer) anchor(last int64, ok bool) {
	q.mu.Lock()
	q.anchoring = false
	low := q.lowest()
	switch {
	case ok:
		q.next = last + 1
		if low != 0 && low < q.next {
			q.next = low
		}
		q.known = max(q.known, last)
	default:
		q.next = low // 0 when nothing arrived: the first number sets it
	}
	q.release()
}

// release runs with q.mu held and returns with it released.
func (q *sequencer) release() {
	if q.flushing {
		q.mu.Unlock()
		return
	}
	q.flushing = true
	for {
		var fn func()
		if len(q.late) > 0 {
			fn = q.late[0]
			q.late = q.late[1:]
		} else if f, ok := q.pending[q.next]; ok {
			fn = f
			delete(q.pending, q.next)
			q.next++
		} else if q.next != 0 && q.next <= q.known && len(q.pending) > 0 {
			q.next++ // not stored: nothing to wait for
			continue
		} else {
			break
		}
		q.mu.Unlock()
		fn()
		q.mu.Lock()
	}
	q.flushing = false
	q.armTimer()
	q.mu.Unlock()
}

// armTimer keeps a gap timer running while something waits for a gap.
func (q *sequencer) armTimer() {
	if len(q.pending) == 0 || q.repairing {
		if q.timer != nil {
			q.timer.Stop()
			q.timer = nil
		}
		return
	}
	if q.timer == nil {
		q.timer = time.AfterFunc(gapWait<<min(q.failures, 4), q.onGap)
	}
}

// onGap runs when a gap was held for gapWait: it repairs it from the
// store, or skips it without one.
func (q *sequencer) onGap() {
	q.mu.Lock()
	q.timer = nil
	if _, ok := q.pending[q.next]; ok || len(q.pending) == 0 || q.repairing {
		q.release()
		return
	}
	if q.fill == nil || q.failures >= repairAttempts {
		q.skipTo(q.lowest())
		q.failures = 0
		q.count(gapSkipped)
		q.release()
		return
	}
	q.repairing = true
	after, before := q.next-1, q.lowest()
	q.mu.Unlock()
	q.goRepair(after, before)
}

// catchUp reads what the store holds after the last released number and
// delivers it: after a resubscription, or when a write's outcome was
// unknown, a room may have missed numbers that nothing later reveals.
func (q *sequencer) catchUp() {
	q.mu.Lock()
	if q.fill == nil || q.anchoring || q.next == 0 {
		q.mu.Unlock()
		return
	}
	if q.repairing {
		q.again = true
		q.mu.Unlock()
		return
	}
	q.repairing = true
	after := q.next - 1
	q.mu.Unlock()
	q.goRepair(after, 0)
}

// goRepair runs repair in the background (see spawn).
func (q *sequencer) goRepair(after, before int64) {
	if q.spawn == nil {
		go q.repair(after, before)
		return
	}
	q.spawn(func() { q.repair(after, before) })
}

// repair reads (after, before) from the store and merges it.
func (q *sequencer) repair(after, before int64) {
	items, covered, err := q.fill(after, before)
	q.mu.Lock()
	q.repairing = false
	if err != nil {
		q.failures++
		q.count(gapFailed)
		q.again = false
		q.release() // re-arms the timer, with backoff
		return
	}
	q.failures = 0
	for _, it := range items {
		switch {
		case it.seq < q.next:
		case it.replace && q.pending != nil:
			q.pending[it.seq] = it.emit
		default:
			q.hold(it.seq, it.emit)
		}
	}
	if len(items) > 0 && before != 0 {
		q.count(gapRepaired)
	}
	q.known = max(q.known, covered)
	full := before == 0 && covered > after && len(items) > 0
	if q.again || full {
		// More may follow: read on from where this answer ended.
		q.again = false
		q.repairing = true
		next := covered
		q.mu.Unlock()
		q.flush()
		q.goRepair(next, 0)
		return
	}
	q.release()
}

// flush releases what is releasable.
func (q *sequencer) flush() {
	q.mu.Lock()
	q.release()
}

// skipTo jumps over the missing numbers below to, remembering them.
func (q *sequencer) skipTo(to int64) {
	for s := q.next; s < to; s++ {
		if _, ok := q.pending[s]; ok {
			continue
		}
		if q.skipped == nil {
			q.skipped = make(map[int64]struct{})
		}
		if len(q.skipped) >= maxSkipped {
			for old := range q.skipped {
				delete(q.skipped, old)
				break
			}
		}
		q.skipped[s] = struct{}{}
	}
	q.next = to
}

// released is the last number released on this node; ok is false while
// the sequencer does not know it (anchoring, or nothing seen yet).
func (q *sequencer) released() (n int64, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.anchoring || q.next == 0 {
		return 0, false
	}
	return q.next - 1, true
}

// lowest returns the lowest pending number, 0 when none.
func (q *sequencer) lowest() int64 {
	var low int64
	for s := range q.pending {
		if low == 0 || s < low {
			low = s
		}
	}
	return low
}

func (q *sequencer) count(result string) {
	if q.stats != nil {
		q.stats(result)
	}
}
