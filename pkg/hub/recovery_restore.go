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
	g := &gates{rooms: make(map[string]*roomGate, len(p.rec.Rooms))}
	for _, r := range p.rec.Rooms {
		g.rooms[r.ID] = &roomGate{}
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
			delete(g.rooms, r.ID)
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
// of hub:join) and replays the room's messages it missed, in order, each
// once: live messages are held back by the room's gate until the replay
// caught up with them.
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
	uid := c.session().UserID
	floor, err := h.replayStart(ctx, s, c, uid, p, r)
	if err != nil {
		return h.abandonRoom(s, c, r.ID, err)
	}
	for range catchUpRounds {
		behind, opened := g.tryOpen(r.ID, floor)
		if opened {
			return nil
		}
		if floor, err = h.replayAfter(ctx, s, uid, r.ID, floor, behind); err != nil {
			return h.abandonRoom(s, c, r.ID, err)
		}
	}
	return h.abandonRoom(s, c, r.ID, errorf(CodeRecoveryIncomplete, "room too busy to catch up"))
}

// replayStart replays the first part of a room and returns the highest
// seq it accounts for.
func (h *Hub) replayStart(ctx context.Context, s *sio.Socket, c *client, uid string, p *pendingRestore, r resume.Room) (int64, error) {
	if after, ok := p.starts[r.ID]; ok {
		c.wlog.seed(r.ID, after)
		return h.replayAfter(ctx, s, uid, r.ID, after, 0)
	}
	since := r.JoinedAt
	if p.has && p.off.ms > since {
		since = p.off.ms
	}
	// The newest page, kept from the first message stamped after since.
	msgs, err := h.readRoom(ctx, r.ID, uid, msgstore.Query{Limit: maxSinceMessages})
	if err != nil {
		return 0, wrapError(CodeUnavailable, "history unavailable", err)
	}
	if len(msgs) == maxSinceMessages && msgs[0].Timestamp.UnixMilli() > since {
		return 0, errorf(CodeRecoveryIncomplete, "more than %d messages missed", maxSinceMessages)
	}
	var floor int64
	for _, msg := range msgs {
		if msg.Timestamp.UnixMilli() > since {
			h.replay(s, msg)
		}
		floor = msg.Seq
	}
	return floor, nil
}

// replayAfter replays the room's messages after seq `after`, at least up
// to `upTo` when it is set, and returns the highest seq replayed (after
// when none).
func (h *Hub) replayAfter(ctx context.Context, s *sio.Socket, uid, roomID string, after, upTo int64) (int64, error) {
	sent := 0
	for {
		msgs, err := h.readRoom(ctx, roomID, uid, msgstore.Query{AfterSeq: after, Limit: maxSinceMessages})
		if err != nil {
			return 0, wrapError(CodeUnavailable, "history unavailable", err)
		}
		for _, msg := range msgs {
			h.replay(s, msg)
			after = msg.Seq
		}
		if sent += len(msgs); sent > maxReplay {
			return 0, errorf(CodeRecoveryIncomplete, "more than %d messages missed", maxReplay)
		}
		if len(msgs) < maxSinceMessages {
			// Messages hidden from this viewer are accounted for too.
			return max(after, upTo), nil
		}
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
