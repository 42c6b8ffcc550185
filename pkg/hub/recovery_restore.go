package hub

import (
	"context"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/resume"
	"github.com/hubd/hubd/pkg/sio"
)

// restore brings a resumed socket back into its rooms and replays what it
// missed. It runs on the socket's read goroutine once the client has its
// CONNECT reply, so the client's next events wait for it.
func (h *Hub) restore(s *sio.Socket, c *client, p *pendingRestore) {
	// The same sid on this node is the socket the client lost: it ends now
	// (its record write is skipped: the session has a new owner).
	for _, old := range h.ns.Sockets() {
		if old != s && old.ID() == s.ID() {
			old.Disconnect("session resumed")
		}
	}
	g := &gates{rooms: make(map[resume.Stream]*roomGate, 2*len(p.rec.Rooms))}
	for _, r := range p.rec.Rooms {
		g.rooms[resume.Stream{Room: r.ID}] = &roomGate{}
		g.rooms[resume.Stream{Room: r.ID, Change: true}] = &roomGate{}
	}
	c.restoring.Store(g)
	c.mu.Lock()
	c.restoredAt = make(map[string]int64, len(p.rec.Rooms))
	for _, r := range p.rec.Rooms {
		c.restoredAt[r.ID] = r.JoinedAt
	}
	c.mu.Unlock()
	for _, r := range p.rec.Rooms {
		if err := h.restoreRoom(s, c, p, g, r); err != nil {
			ce := asClientError(err)
			h.log.Debug("room not recovered", zap.String("code", ce.Code), zap.Error(err))
			h.emitSocket(s, errorEvent(&Error{Code: ce.Code, Message: ce.Message}, "hub:join", r.ID))
			g.mu.Lock()
			delete(g.rooms, resume.Stream{Room: r.ID})
			delete(g.rooms, resume.Stream{Room: r.ID, Change: true})
			g.mu.Unlock()
		}
	}
	h.sessionChanged(s, c)
	if !p.exact {
		// Rooms other than the offset's were replayed from its time.
		h.log.Debug("session recovered by time", zap.Bool("logged", p.rec.Logged), zap.Bool("cut", p.rec.TailCut))
		h.countRecovery("recovered_by_time")
		return
	}
	h.countRecovery("recovered")
}

// restoreRoom re-admits the socket to one room of its session (the checks
// of hub:join) and replays what it missed of the room: first its messages,
// then the changes to messages it already had (edits, deletions,
// reactions, approvals, rejections), each stream in order and each event
// once: live events of a stream are held back by its gate until the
// stream's replay caught up with them.
func (h *Hub) restoreRoom(s *sio.Socket, c *client, p *pendingRestore, g *gates, r resume.Room) error {
	ctx, cancel := context.WithTimeout(context.Background(), h.deps.OpTimeout)
	defer cancel()
	m, err := h.enter(ctx, h.Definition(), s, c, r.ID)
	if err != nil {
		return err
	}
	if !h.effective(m).CanRead {
		return nil // no traffic, no replay
	}
	rp := &roomReplay{h: h, s: s, c: c, p: p, r: r, uid: c.session().UserID, had: make(map[string]int64)}
	for _, change := range []bool{false, true} {
		if err := rp.stream(ctx, g, change); err != nil {
			return h.abandonRoom(s, c, r.ID, err)
		}
	}
	return nil
}

// roomReplay is the replay of one room of a recovered session.
type roomReplay struct {
	h   *Hub
	s   *sio.Socket
	c   *client
	p   *pendingRestore
	r   resume.Room
	uid string
	// had: the messages replayed as they are now, with the rev they had
	// (their changes up to it need no replay).
	had map[string]int64
	// Where the client's copy ends: of the messages, after seq msgAfter
	// or, by time, after msgSince (Unix ms; then msgAfter is -1); of the
	// changes, after rev chgAfter.
	msgAfter, msgSince, chgAfter int64
}

// stream replays one stream of the room and opens its gate.
func (rp *roomReplay) stream(ctx context.Context, g *gates, change bool) error {
	st := resume.Stream{Room: rp.r.ID, Change: change}
	floor, err := rp.start(ctx, change)
	if err != nil {
		return err
	}
	for range catchUpRounds {
		behind, opened := g.tryOpen(st, floor)
		if opened {
			return nil
		}
		if floor, err = rp.after(ctx, change, floor, behind); err != nil {
			return err
		}
	}
	return errorf(CodeRecoveryIncomplete, "room too busy to catch up")
}

// read lists the room's messages (or changes) the user may read.
func (rp *roomReplay) read(ctx context.Context, change bool, q msgstore.Query) ([]*msgstore.Message, error) {
	if !change {
		return rp.h.readRoom(ctx, rp.r.ID, rp.uid, q)
	}
	q.Changes, q.Viewer = true, rp.uid
	return rp.h.deps.Store.List(ctx, rp.h.name, rp.r.ID, q)
}

// start replays the first part of a stream and returns the highest number
// it accounts for: after the client's copy when the write log tells where
// that ends, else after a time (the offset's, or the join's).
func (rp *roomReplay) start(ctx context.Context, change bool) (int64, error) {
	if after, ok := rp.p.starts[resume.Stream{Room: rp.r.ID, Change: change}]; ok {
		rp.c.wlog.seed(rp.r.ID, change, after)
		rp.from(change, after, 0)
		return rp.after(ctx, change, after, 0)
	}
	since := rp.r.JoinedAt
	if rp.p.has && rp.p.off.ms > since {
		since = rp.p.off.ms
	}
	rp.from(change, -1, since)
	// The newest page, kept from the first event stamped after since.
	msgs, err := rp.read(ctx, change, msgstore.Query{Limit: maxSinceMessages})
	if err != nil {
		return 0, wrapError(CodeUnavailable, "history unavailable", err)
	}
	if len(msgs) == maxSinceMessages && stamp(msgs[0], change) > since {
		return 0, errorf(CodeRecoveryIncomplete, "more than %d messages missed", maxSinceMessages)
	}
	var floor int64
	for _, msg := range msgs {
		if stamp(msg, change) > since {
			rp.send(msg, change)
		} else if change {
			rp.chgAfter = msg.Rev
		}
		floor = numberOf(msg, change)
	}
	return floor, nil
}

// from records where the client's copy of a stream ends: after number
// `after`, or (after -1) after time since.
func (rp *roomReplay) from(change bool, after, since int64) {
	switch {
	case change:
		rp.chgAfter = max(after, 0)
	default:
		rp.msgAfter, rp.msgSince = after, since
	}
}

// unseen reports whether the client never had m: sent after its copy
// ended, and not replayed.
func (rp *roomReplay) unseen(m *msgstore.Message) bool {
	if _, ok := rp.had[m.ID]; ok {
		return false
	}
	if rp.msgAfter >= 0 {
		return m.Seq > rp.msgAfter
	}
	return m.Timestamp.UnixMilli() > rp.msgSince
}

// stamp is when m was sent (or, for its change, changed), Unix ms.
func stamp(m *msgstore.Message, change bool) int64 {
	if change && m.Change != nil {
		return m.Change.At.UnixMilli()
	}
	return m.Timestamp.UnixMilli()
}

// after replays the stream's events after number `after`, at least up to
// `upTo` when it is set, and returns the highest number replayed (after
// when none).
func (rp *roomReplay) after(ctx context.Context, change bool, after, upTo int64) (int64, error) {
	sent := 0
	for {
		q := msgstore.Query{AfterSeq: after, Limit: maxSinceMessages}
		if change {
			q = msgstore.Query{AfterRev: after, Limit: maxSinceMessages}
		}
		msgs, err := rp.read(ctx, change, q)
		if err != nil {
			return 0, wrapError(CodeUnavailable, "history unavailable", err)
		}
		for _, msg := range msgs {
			rp.send(msg, change)
			after = numberOf(msg, change)
		}
		if sent += len(msgs); sent > maxReplay {
			return 0, errorf(CodeRecoveryIncomplete, "more than %d messages missed", maxReplay)
		}
		if len(msgs) < maxSinceMessages {
			// Events hidden from this viewer are accounted for too.
			return max(after, upTo), nil
		}
	}
}

// send replays one message, or the last change of one, to the socket.
func (rp *roomReplay) send(m *msgstore.Message, change bool) {
	if !change {
		rp.had[m.ID] = m.Rev
		rp.h.replay(rp.s, m)
		return
	}
	after := rp.chgAfter
	if rev, ok := rp.had[m.ID]; ok {
		if m.Rev <= rev {
			return // replayed with this change already
		}
		after = rev
	}
	if m.Change != nil && m.Change.Kind == msgstore.ChangeDeleted && rp.unseen(m) {
		return // sent and deleted while the client was away
	}
	d := rp.h.changeDelivery(m, after)
	if m.Status == msgstore.StatusPublished && approvedRev(m) > after {
		rp.had[m.ID] = m.Rev // replayed as the approved message it is now
	}
	if d.reaches(rp.uid) {
		rp.h.emitReplay(rp.s, d.Offset, d.Event)
	}
}

// replay sends one stored message as the event it was, with its offset: a
// stored custom event under its own name, any other as hub:messageArrived.
func (h *Hub) replay(s *sio.Socket, m *msgstore.Message) {
	if h.persistedEvent(m.MessageType) != nil {
		if d := storedEventDelivery(m); d.To != "" {
			h.emitReplay(s, d.Offset, d.Event)
		}
		return
	}
	h.emitReplay(s, offsetOf(m), arrivedEvent(m))
}

// abandonRoom takes the socket out of a room it could not recover (the
// client rejoins with since) and returns why.
func (h *Hub) abandonRoom(s *sio.Socket, c *client, roomID string, err error) error {
	h.leave(s, c, roomID, false)
	return err
}
