package hub

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/resume"
)

// Taking a session over from another node. A client whose connection
// dropped may come back through another node before the first one noticed:
// its record has no disconnect time and no write log, and its old socket
// stays open there until the ping timeout. The claiming node asks the
// record's node (opEndSession, addressed to Record.Node) to end that socket
// now; ending it writes the record with the write log and the disconnect
// time (sessionEnded), and the node answers (opSessionEnded). The claiming
// node reads the record again and restores from it exactly. Without an
// answer and a filled record within takeoverWait (the node is dead, Redis
// slow) the claim goes on with the record it has: by time, as before.
//
// Only the socket the record names is ended: its sid, its pid, its user
// and its owner token, all read from the record of a claim that passed
// the user check (claimSession).

// Bounds of a takeover.
const (
	// takeoverWait bounds the wait for the answer and the filled record
	// (less when OpTimeout or the CONNECT's context is shorter).
	takeoverWait = time.Second
	// takeoverPoll is how often the record is read again after an answer
	// that the socket was already gone (its disconnect may still be
	// writing the record).
	takeoverPoll = 20 * time.Millisecond
	// maxTakeovers bounds the claims of one hub waiting at once; more go
	// on by time.
	maxTakeovers = 1024
)

// Results of hubd_hub_session_takeovers_total.
const (
	takeoverEnded    = "ended"     // the node ended the socket; exact record read
	takeoverGone     = "gone"      // the socket had already gone; exact record read
	takeoverNoAnswer = "no_answer" // no answer or no filled record in time: by time
	takeoverUnsent   = "unsent"    // the request could not be sent: by time
)

// takeover is the body of opEndSession and opSessionEnded.
type takeover struct {
	ID   string `json:"id"`   // the claim's request id
	To   string `json:"to"`   // the node addressed
	From string `json:"from"` // the claiming node (requests)
	// The socket to end, as the record names it.
	PID   string `json:"pid,omitempty"`
	SID   string `json:"sid,omitempty"`
	User  string `json:"user,omitempty"`
	Owner string `json:"owner,omitempty"`
	// Ended (answers): the socket was there and was ended.
	Ended bool `json:"ended,omitempty"`
}

// takeoverWaits are a hub's claims waiting for an answer, by request id.
type takeoverWaits struct {
	mu      sync.Mutex
	waiting map[string]chan bool
}

// add registers a claim; false when maxTakeovers are waiting.
func (w *takeoverWaits) add(id string) (chan bool, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.waiting) >= maxTakeovers {
		return nil, false
	}
	if w.waiting == nil {
		w.waiting = make(map[string]chan bool)
	}
	ch := make(chan bool, 1)
	w.waiting[id] = ch
	return ch, true
}

func (w *takeoverWaits) remove(id string) {
	w.mu.Lock()
	delete(w.waiting, id)
	w.mu.Unlock()
}

// answer hands an answer to its claim, if it still waits (the first
// answer; the claim removes itself when done).
func (w *takeoverWaits) answer(id string, ended bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case w.waiting[id] <- ended:
	default:
	}
}

// liveRecord fills a record without a disconnect time from the write log
// of its socket, which is still open: on this node (takeLiveTail), or on
// another one, which is asked to end it. It returns the record to restore
// from: rec itself, or the record the other node wrote.
func (h *Hub) liveRecord(ctx context.Context, rec *resume.Record) *resume.Record {
	switch {
	case !rec.DisconnectedAt.IsZero():
		return rec
	case rec.Node == h.deps.Node || h.ns.Alone():
		h.takeLiveTail(rec)
		return rec
	}
	got, result := h.takeOver(ctx, rec)
	h.countTakeover(result)
	if got == nil {
		h.log.Debug("session not taken over from its node", zap.String("result", result))
		return rec
	}
	return got
}

// takeOver asks rec's node to end its socket and waits for the record that
// ending it writes; nil when none came in time.
func (h *Hub) takeOver(ctx context.Context, rec *resume.Record) (*resume.Record, string) {
	id := newOwner()
	answered, ok := h.takeovers.add(id)
	if !ok {
		return nil, takeoverUnsent
	}
	defer h.takeovers.remove(id)
	op := roomOp{Op: opEndSession, Room: "*", Takeover: &takeover{ID: id, To: rec.Node, From: h.deps.Node,
		PID: rec.PID, SID: rec.SID, User: rec.UserID, Owner: rec.Owner}}
	if err := h.ns.ServerSideEmit(clusterEvent, op); err != nil {
		h.log.Warn("session takeover not sent", zap.Error(err))
		return nil, takeoverUnsent
	}
	ctx, cancel := context.WithTimeout(ctx, min(h.deps.OpTimeout, takeoverWait))
	defer cancel()
	var ended bool
	select {
	case ended = <-answered:
	case <-ctx.Done():
		return nil, takeoverNoAnswer
	}
	got := h.endedRecord(ctx, rec)
	switch {
	case got == nil:
		return nil, takeoverNoAnswer
	case ended:
		return got, takeoverEnded
	}
	return got, takeoverGone
}

// endedRecord reads rec again until its socket's disconnect is in it (the
// same owner, a disconnect time), at most until ctx ends; nil then, or
// when the record is gone or another socket took the session meanwhile.
func (h *Hub) endedRecord(ctx context.Context, rec *resume.Record) *resume.Record {
	t := time.NewTicker(takeoverPoll)
	defer t.Stop()
	for {
		got, err := h.deps.Resume.Get(ctx, h.name, rec.PID)
		switch {
		case errors.Is(err, resume.ErrNotFound):
			return nil
		case err == nil && got.Owner != rec.Owner:
			return nil
		case err == nil && !got.DisconnectedAt.IsZero():
			return got
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// onEndSession ends, on the node addressed, the socket a takeover names,
// and answers once its disconnect is done: the session record written and
// the socket out of its rooms (so that the room sees it leave before the
// claiming node joins it again). It leaves the adapter's goroutine at
// once: the disconnect waits on the store and the presence registry.
func (h *Hub) onEndSession(t *takeover) {
	if t == nil || t.To != h.deps.Node || t.ID == "" || t.From == "" || t.SID == "" || !h.recoveryOn() {
		return
	}
	h.spawn(func(context.Context) {
		ended := h.endSocket(t)
		h.toOtherNodes(roomOp{Op: opSessionEnded, Room: "*", Takeover: &takeover{ID: t.ID, To: t.From, Ended: ended}})
	})
}

// endSocket disconnects the socket holding the session as t names it;
// false when there is none (it is gone already, or another socket holds
// the session now).
func (h *Hub) endSocket(t *takeover) bool {
	for _, old := range h.ns.SocketsIn(t.SID) {
		oc := clientOf(old)
		if oc == nil || old.ID() != t.SID || old.PID() != t.PID || oc.owner != t.Owner || oc.session().UserID != t.User {
			continue
		}
		old.Disconnect("session resumed")
		return true
	}
	return false
}

// onSessionEnded hands an answer to the claim waiting on this node.
func (h *Hub) onSessionEnded(t *takeover) {
	if t == nil || t.To != h.deps.Node {
		return
	}
	h.takeovers.answer(t.ID, t.Ended)
}

func (h *Hub) countTakeover(result string) {
	if mt := h.deps.Metrics; mt != nil && mt.SessionTakeovers != nil {
		mt.SessionTakeovers.WithLabelValues(h.name, result).Inc()
	}
}
