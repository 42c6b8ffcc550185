package hub

import (
	"sync"
	"time"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/sio"
)

// readers is the Socket.IO room of the sockets that receive a room's
// traffic (members with canRead).
func readers(roomID string) string { return "r:" + roomID }

// member is one user in one room; a user joined from several sockets is
// one member.
type member struct {
	userID   string
	roomID   string
	decision *authz.Decision
	silenced bool
	sockets  map[*sio.Socket]struct{}

	// Guarded by the room's mu.
	away    bool
	signals map[string]*signalState // typing, recording
}

// signalState is a running typing or recording indicator.
type signalState struct {
	timer *time.Timer
	sent  time.Time // when the start event was last broadcast
}

// room is the live state of a room on this node.
type room struct {
	id      string
	mu      sync.Mutex
	members map[string]*member // by user id
	seq     sequencer
}

func newRoom(id string) *room {
	return &room{id: id, members: make(map[string]*member)}
}

// sequencer releases broadcasts in the order of their per-room sequence
// numbers, although the writes that assign them complete concurrently.
// One goroutine at a time releases (the one that finds the queue idle), so
// emits never interleave. A sequence number that does not show up within
// the hold time (written by another node, or lost with a failed write) is
// skipped.
type sequencer struct {
	mu       sync.Mutex
	next     int64 // next sequence number to release; 0 until the first one
	pending  map[int64]func()
	late     []func() // below next: released as soon as possible
	flushing bool
	timer    *time.Timer
}

const sequencerHold = 250 * time.Millisecond

// done hands in the emit function of sequence number seq.
func (q *sequencer) done(seq int64, emit func()) {
	q.mu.Lock()
	switch {
	case q.next == 0:
		q.next = seq
		fallthrough
	case seq >= q.next:
		if q.pending == nil {
			q.pending = make(map[int64]func())
		}
		q.pending[seq] = emit
	default:
		q.late = append(q.late, emit)
	}
	q.release()
}

// release runs with q.mu held and returns with it released.
func (q *sequencer) release() {
	if q.flushing {
		q.armTimer()
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

// armTimer keeps a skip timer running while something waits for a gap.
func (q *sequencer) armTimer() {
	if len(q.pending) == 0 {
		if q.timer != nil {
			q.timer.Stop()
			q.timer = nil
		}
		return
	}
	if q.timer == nil {
		q.timer = time.AfterFunc(sequencerHold, q.skip)
	}
}

// skip jumps over a gap that was held too long.
func (q *sequencer) skip() {
	q.mu.Lock()
	q.timer = nil
	if _, ok := q.pending[q.next]; !ok && len(q.pending) > 0 {
		lowest := int64(-1)
		for s := range q.pending {
			if lowest < 0 || s < lowest {
				lowest = s
			}
		}
		q.next = lowest
	}
	q.release()
}
