package hub

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/presence"
	"github.com/hubd/hubd/pkg/sio"
)

type joinRequest struct {
	RoomID string `json:"roomId"`
	Since  string `json:"since"`
}

// maxSinceMessages caps one recovery reply; a client that was away longer
// pages on with hub:loadHistory.
const maxSinceMessages = 1000

func (h *Hub) handleJoin(ctx context.Context, in *call) (map[string]any, error) {
	s, c := in.s, in.c
	var req joinRequest
	if err := decode(in.payload, &req); err != nil {
		return nil, err
	}
	if req.RoomID == "" {
		return nil, newError(CodeBadRequest, "roomId is required")
	}
	def := h.Definition()

	c.mu.Lock()
	jr, already := c.rooms.find(req.RoomID)
	c.mu.Unlock()
	m := jr.m

	if !already {
		var err error
		if m, err = h.enter(ctx, def, s, c, req.RoomID); err != nil {
			return nil, err
		}
	}

	perms := h.effective(m)
	ack := map[string]any{
		"roomId":      req.RoomID,
		"hubRole":     nullable(m.decision.HubRole),
		"permissions": perms,
		"silenced":    m.silenced,
	}
	in.after = func() { h.afterJoin(s, c, req, m) }
	return ack, nil
}

// enter authorizes the socket's user for a room and admits the socket: the
// checks of hub:join, which a recovered session passes again.
func (h *Hub) enter(ctx context.Context, def *Definition, s *sio.Socket, c *client, roomID string) (*member, error) {
	g := def.Spec.Guardrails
	dec, err := h.authorize(ctx, def, c.session(), roomID)
	if err != nil {
		return nil, err
	}
	mod, err := h.moderationOf(ctx, roomID, c.session().UserID)
	if err != nil {
		return nil, err
	}
	if mod != nil && mod.Blocked && !dec.Permissions.CanModerate {
		return nil, blockedError(mod)
	}
	silenced := h.initialSilence(mod, dec.Permissions.CanModerate)
	m, err := h.admit(ctx, s, c, roomID, dec, g.MaxUsersPerRoom, g.MaxRoomsPerUser, silenced)
	if err != nil {
		return nil, err
	}
	h.sessionChanged(s, c)
	return m, nil
}

// afterJoin sends hub:joined, hub:history and hub:state to the joining socket.
func (h *Hub) afterJoin(s *sio.Socket, c *client, req joinRequest, m *member) {
	def := h.Definition()
	h.emitSocket(s, outJoined.Of(Joined{HubRole: nullable(m.decision.HubRole), Permissions: h.effective(m), RoomID: req.RoomID}))
	ctx, cancel := context.WithTimeout(context.Background(), h.deps.OpTimeout)
	defer cancel()
	if h.historyOnJoin(def, m, req.Since) {
		msgs, err := h.history(ctx, req.RoomID, c.session().UserID, req.Since, def.Spec.HistorySettings.HistoryLimit)
		if err != nil {
			h.log.Warn("history on join failed", zap.Error(err))
			h.emitSocket(s, errorEvent(newError(CodeUnavailable, "history unavailable"), "hub:join", req.RoomID))
		} else {
			h.emitSocket(s, outHistory.Of(History{Messages: msgs, RoomID: req.RoomID}))
			if n := len(msgs); n > 0 && h.recoveryOn() {
				// What the client has of the room, for a recovery that
				// finds no later write of it (recovery_track.go).
				c.wlog.seed(req.RoomID, false, msgs[n-1].Seq)
			}
		}
	}
	if h.recoveryOn() && h.effective(m).CanRead {
		// Changes up to the room's last released one are in what the
		// client reads now (the socket is already a reader): a recovery
		// that finds no later change written replays those after it.
		if rev, err := h.changeMark(ctx, req.RoomID); err == nil {
			c.wlog.seed(req.RoomID, true, rev)
		}
	}
	if def.state != nil {
		h.sendState(ctx, s, c, req.RoomID, m)
	}
}

// historyOnJoin reports whether a join gets hub:history: never without
// canRead; with since, the messages after it (recovery); else the newest
// historyLimit messages when history is enabled and historyLimit is not 0.
func (h *Hub) historyOnJoin(def *Definition, m *member, since string) bool {
	if !h.effective(m).CanRead {
		return false
	}
	if since != "" {
		return true
	}
	hs := def.Spec.HistorySettings
	return hs.HistoryEnabled && hs.HistoryLimit > 0
}

// history returns the newest limit messages, or with since every message
// after that one (up to maxSinceMessages), oldest first.
func (h *Hub) history(ctx context.Context, roomID, viewer, since string, limit int) ([]*msgstore.Message, error) {
	q := msgstore.Query{Limit: limit, Statuses: visibleStatuses}
	if since != "" {
		ref, err := h.deps.Store.Get(ctx, h.name, since)
		if err != nil && !errors.Is(err, msgstore.ErrNotFound) {
			return nil, err
		}
		if err == nil && ref.RoomID == roomID {
			q = msgstore.Query{AfterSeq: ref.Seq, Limit: maxSinceMessages, Statuses: visibleStatuses}
		}
	}
	if q.Limit <= 0 {
		// historyLimit 0 with an unknown since: no history (a zero store
		// limit would mean all of it).
		return []*msgstore.Message{}, nil
	}
	return h.readRoom(ctx, roomID, viewer, q)
}

// readRoom lists the room's messages viewer may read (published, audience
// including the viewer): the read path of history on join and of a
// recovered session's replay.
func (h *Hub) readRoom(ctx context.Context, roomID, viewer string, q msgstore.Query) ([]*msgstore.Message, error) {
	q.Statuses, q.Viewer = visibleStatuses, viewer
	msgs, err := h.deps.Store.List(ctx, h.name, roomID, q)
	if msgs == nil {
		msgs = []*msgstore.Message{}
	}
	return msgs, err
}

// visibleStatuses are the statuses every reader may see.
var visibleStatuses = []string{msgstore.StatusPublished}

// admit adds the socket to the room's members after authorization,
// enforcing the room and per-user limits: across the nodes through the
// presence registry when there is one, and on this node in any case (the
// only check when the registry fails, so that a limit never lapses).
func (h *Hub) admit(ctx context.Context, s *sio.Socket, c *client, roomID string, dec *authz.Decision, maxUsers, maxRooms int, silenced bool) (*member, error) {
	uid := c.session().UserID
	// Held until this node's state and the registry agree, so that a leave
	// of the same user cannot remove the record this join writes.
	defer h.presenceLock(roomID, uid)()
	registered, elsewhere := false, false
	if reg := h.deps.Presence; reg != nil && !h.isMember(roomID, uid) {
		var err error
		elsewhere, err = reg.Join(ctx, h.name, roomID, uid, presence.Limits{MaxUsers: maxUsers, MaxRooms: maxRooms})
		switch {
		case errors.Is(err, presence.ErrRoomFull):
			return nil, errorf(CodeRoomFull, "room is full (%d users)", maxUsers)
		case errors.Is(err, presence.ErrTooManyRooms):
			return nil, errorf(CodeTooManyRooms, "already in %d rooms", maxRooms)
		case err != nil:
			h.presenceFailed("join", err)
		default:
			registered = true
		}
	}
	h.mu.Lock()
	r := h.rooms[roomID]
	if r == nil {
		r = newRoom(roomID)
		h.startRoom(r)
		h.rooms[roomID] = r
		if mt := h.deps.Metrics; mt != nil {
			mt.Rooms.WithLabelValues(h.name).Inc()
		}
	}
	r.mu.Lock()
	m := r.members[uid]
	first, newMember := false, false
	var refused error
	if m == nil {
		switch {
		case maxUsers > 0 && len(r.members) >= maxUsers:
			refused = errorf(CodeRoomFull, "room is full (%d users)", maxUsers)
		case maxRooms > 0 && h.userRooms[uid] >= maxRooms:
			refused = errorf(CodeTooManyRooms, "already in %d rooms", maxRooms)
		}
		if refused != nil {
			r.mu.Unlock()
			h.dropIfEmpty(r)
			h.mu.Unlock()
			if registered {
				h.presenceLeave(roomID, uid)
			}
			return nil, refused
		}
		m = &member{userID: uid, roomID: roomID, msgKey: h.messageRateKey(uid)}
		m.silenced = silenced
		first = len(r.members) == 0
		newMember = true
		r.members[uid] = m
		h.userRooms[uid]++
		if mt := h.deps.Metrics; mt != nil {
			mt.RoomMembers.WithLabelValues(h.name).Inc()
		}
	}
	// The newest authorization wins for every socket of the member.
	m.decision = dec
	m.sockets = m.sockets.add(s)
	entry := presenceEntry(m)
	r.mu.Unlock()
	h.mu.Unlock()

	c.mu.Lock()
	jr, had := c.rooms.find(roomID)
	if !had {
		jr.id = roomID
		at, restored := c.restoredAt[roomID]
		if !restored {
			at = time.Now().UnixMilli()
		}
		jr.joinedAt = at
	}
	jr.m = m
	c.rooms.set(jr)
	c.mu.Unlock()
	if dec.Permissions.CanRead {
		s.Join(readers(roomID))
	} else {
		s.Leave(readers(roomID))
	}
	if first {
		h.roomActive(roomID, dec.Room)
	}
	if !newMember {
		h.presenceSet(roomID, entry)
	}
	if newMember && !elsewhere {
		h.memberJoined(s, roomID, uid)
	}
	return m, nil
}

// dropIfEmpty forgets a room without members; h.mu must be held.
func (h *Hub) dropIfEmpty(r *room) {
	r.mu.Lock()
	empty := len(r.members) == 0
	r.mu.Unlock()
	if empty && h.rooms[r.id] == r {
		delete(h.rooms, r.id)
		if mt := h.deps.Metrics; mt != nil {
			mt.Rooms.WithLabelValues(h.name).Dec()
		}
	}
}

func (h *Hub) handleLeave(_ context.Context, in *call) (map[string]any, error) {
	s, c := in.s, in.c
	var req joinRequest
	if err := decode(in.payload, &req); err != nil {
		return nil, err
	}
	if req.RoomID == "" {
		return nil, newError(CodeBadRequest, "roomId is required")
	}
	if !h.leave(s, c, req.RoomID, true) {
		return nil, newError(CodeNotJoined, "not joined to this room")
	}
	h.sessionChanged(s, c)
	in.after = func() { h.emitSocket(s, outLeft.Of(Left{RoomID: req.RoomID})) }
	return map[string]any{"roomId": req.RoomID}, nil
}

// leave removes the socket from the room; the member goes when its last
// socket does. intentional is false for a disconnect. It reports whether
// the socket was in the room.
func (h *Hub) leave(s *sio.Socket, c *client, roomID string, intentional bool) bool {
	c.mu.Lock()
	jr, ok := c.rooms.remove(roomID)
	delete(c.restoredAt, roomID)
	c.mu.Unlock()
	m := jr.m
	if !ok {
		return false
	}
	s.Leave(readers(roomID))
	defer h.presenceLock(roomID, m.userID)()
	h.mu.Lock()
	r := h.rooms[roomID]
	if r == nil {
		h.mu.Unlock()
		return true
	}
	r.mu.Lock()
	m.sockets = m.sockets.remove(s)
	gone := len(m.sockets) == 0 && r.members[m.userID] == m
	if gone {
		delete(r.members, m.userID)
		if h.userRooms[m.userID]--; h.userRooms[m.userID] <= 0 {
			delete(h.userRooms, m.userID)
		}
		if mt := h.deps.Metrics; mt != nil {
			mt.RoomMembers.WithLabelValues(h.name).Dec()
		}
	}
	empty := len(r.members) == 0
	entry := presenceEntry(m)
	r.mu.Unlock()
	h.dropIfEmpty(r)
	h.mu.Unlock()
	if gone {
		h.clearSignals(r, m)
		// A member still in the room through another node has not left.
		if !h.presenceLeave(roomID, m.userID) {
			h.memberLeft(roomID, m.userID, intentional)
		}
	} else {
		h.presenceSet(roomID, entry)
	}
	if empty {
		h.roomIdle(roomID)
	}
	return true
}

// membership returns the socket's member entry of a joined room.
func (c *client) membership(roomID string) (*member, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	jr, ok := c.rooms.find(roomID)
	if !ok {
		return nil, newError(CodeNotJoined, "not joined to this room")
	}
	return jr.m, nil
}

// room returns the live room, or nil.
func (h *Hub) room(roomID string) *room {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.rooms[roomID]
}

// effective returns the member's permissions with hub-wide overrides
// applied: silenced members cannot send; under globalModeration every
// member's messages are moderated, moderators' own included (another
// moderator, or the sender as a moderator, approves them).
func (h *Hub) effective(m *member) authz.Permissions {
	p := m.decision.Permissions
	if m.silenced {
		p.CanSend = false
	}
	if h.Definition().Spec.Guardrails.GlobalModeration {
		p.Moderated = true
	}
	return p
}

func (h *Hub) countDecision(dec *authz.Decision, err error) {
	mt := h.deps.Metrics
	if mt == nil {
		return
	}
	if err != nil {
		var d *authz.Denied
		layer := "error"
		if errors.As(err, &d) {
			layer = d.Layer
		}
		mt.AuthDecisionsTotal.WithLabelValues(h.name, layer, "denied").Inc()
		return
	}
	mt.AuthDecisionsTotal.WithLabelValues(h.name, dec.Layer, "allowed").Inc()
}

type historyRequest struct {
	RoomID string `json:"roomId"`
	Before string `json:"before"`
	After  string `json:"after"`
	Limit  int    `json:"limit"`
}

const maxPageSize = 200

func (h *Hub) handleLoadHistory(ctx context.Context, in *call) (map[string]any, error) {
	var req historyRequest
	if err := decode(in.payload, &req); err != nil {
		return nil, err
	}
	msgs, err := h.ListMessages(ctx, in.actor, ListInput{Before: req.Before, After: req.After, Limit: req.Limit})
	if err != nil {
		return nil, err
	}
	return map[string]any{"roomId": req.RoomID, "messages": msgs}, nil
}
