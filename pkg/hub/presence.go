package hub

import (
	"context"
	"hash/fnv"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/presence"
	"github.com/hubd/hubd/pkg/sio"
)

// Presence and indicator timings.
const (
	// presenceGrace delays hub:offline after a disconnect, so that a client
	// that reconnects at once does not flap offline/online.
	presenceGrace = 3 * time.Second
	// signalTimeout stops a typing/recording indicator that was not
	// refreshed.
	signalTimeout = 6 * time.Second
	// signalThrottle is the least time between two broadcasts of the same
	// indicator by one user; refreshes in between only extend it.
	signalThrottle = 2 * time.Second
)

func presenceKey(roomID, userID string) string { return roomID + "\x00" + userID }

// presenceOuts are the events of the presence changes but "left", which
// has only hub:presence.
var presenceOuts = map[string]Out[RoomUser]{"online": outOnline, "offline": outOffline, "away": outAway}

// presenceEvent emits the spec's hub:<event> and the hub:presence event to
// the room, except the sockets of the user themselves.
func (h *Hub) presenceEvent(roomID, userID, event string, except []string) {
	if out, ok := presenceOuts[event]; ok {
		h.emitReaders(roomID, out.Of(RoomUser{RoomID: roomID, UserID: userID}), except...)
	}
	h.emitReaders(roomID, outPresence.Of(Presence{Event: event, RoomID: roomID, User: PresenceUser{ID: userID}}), except...)
}

// memberJoined announces a new member, unless it comes back within the
// grace period of its disconnect.
func (h *Hub) memberJoined(s *sio.Socket, roomID, userID string) {
	if !h.Spec().EventSettings.EnablePresence {
		return
	}
	key := presenceKey(roomID, userID)
	h.mu.Lock()
	t := h.offline[key]
	delete(h.offline, key)
	h.mu.Unlock()
	if t != nil && t.Stop() {
		return // reconnected in time: nobody saw it go
	}
	h.presenceEvent(roomID, userID, "online", []string{s.ID()})
}

// memberLeft announces that a member's last socket left: at once for an
// explicit leave, after the grace period for a disconnect.
func (h *Hub) memberLeft(roomID, userID string, intentional bool) {
	if !h.Spec().EventSettings.EnablePresence {
		return
	}
	if intentional {
		h.presenceEvent(roomID, userID, "left", nil)
		h.presenceEvent(roomID, userID, "offline", nil)
		return
	}
	key := presenceKey(roomID, userID)
	h.mu.Lock()
	defer h.mu.Unlock()
	if old := h.offline[key]; old != nil {
		old.Stop()
	}
	var t *time.Timer
	t = time.AfterFunc(presenceGrace, func() {
		h.mu.Lock()
		current := h.offline[key] == t
		if current {
			delete(h.offline, key)
		}
		h.mu.Unlock()
		// Back through another node within the grace period: still online.
		if current && !h.inRoomAnywhere(roomID, userID) {
			h.presenceEvent(roomID, userID, "offline", nil)
		}
	})
	h.offline[key] = t
}

// setAway marks a member away or back and announces the change.
func (h *Hub) setAway(s *sio.Socket, m *member, away bool) {
	r := h.room(m.roomID)
	if r == nil {
		return
	}
	r.mu.Lock()
	changed := m.away != away
	m.away = away
	entry := presenceEntry(m)
	r.mu.Unlock()
	if !changed {
		return
	}
	h.presenceSet(m.roomID, entry)
	ev := "online"
	if away {
		ev = "away"
		// Still online through another node: the room sees no change.
		if h.statusAnywhere(m.roomID, m.userID) == presence.StatusOnline {
			return
		}
	}
	h.presenceEvent(m.roomID, m.userID, ev, []string{s.ID()})
}

// statusAnywhere is the user's status in the room over every node (online
// wins over away), "" when the registry does not list them; without a
// registry, or when it fails, it is "" too.
func (h *Hub) statusAnywhere(roomID, userID string) string {
	reg := h.deps.Presence
	if reg == nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.deps.OpTimeout)
	defer cancel()
	st, err := reg.Status(ctx, h.name, roomID, userID)
	if err != nil {
		h.presenceFailed("status", err)
		return ""
	}
	return st
}

// presenceOf lists the room's members: on every node through the presence
// registry, or on this node when there is none or it fails.
func (h *Hub) presenceOf(roomID string) []PresenceEntry {
	if reg := h.deps.Presence; reg != nil {
		ctx, cancel := context.WithTimeout(context.Background(), h.deps.OpTimeout)
		defer cancel()
		entries, err := reg.Room(ctx, h.name, roomID)
		if err == nil {
			out := make([]PresenceEntry, 0, len(entries))
			for _, e := range entries {
				out = append(out, PresenceEntry{UserID: e.UserID, Status: e.Status, Sockets: e.Sockets})
			}
			return out
		}
		h.presenceFailed("list", err)
	}
	r := h.room(roomID)
	out := []PresenceEntry{}
	if r == nil {
		return out
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for uid, m := range r.members {
		e := presenceEntry(m)
		out = append(out, PresenceEntry{UserID: uid, Status: e.Status, Sockets: e.Sockets})
	}
	return out
}

// inRoomAnywhere reports whether the registry lists the user in the room
// on any node; false without a registry or when it fails.
func (h *Hub) inRoomAnywhere(roomID, userID string) bool {
	return h.statusAnywhere(roomID, userID) != ""
}

// presenceEntry is the member's record on this node; the room's lock must
// be held.
func presenceEntry(m *member) presence.Entry {
	st := presence.StatusOnline
	if m.away {
		st = presence.StatusAway
	}
	return presence.Entry{UserID: m.userID, Status: st, Sockets: len(m.sockets)}
}

// presenceLock serializes, per room and user, the joins and leaves of this
// node that change the presence registry, so that their registry calls
// happen in the order of the local changes. It returns the unlock; without
// a registry it locks nothing. Lock order: before Hub.mu.
func (h *Hub) presenceLock(roomID, userID string) func() {
	if h.deps.Presence == nil {
		return func() {}
	}
	f := fnv.New32a()
	_, _ = f.Write([]byte(roomID))
	_, _ = f.Write([]byte{0})
	_, _ = f.Write([]byte(userID))
	mu := &h.presenceMu[f.Sum32()%uint32(len(h.presenceMu))]
	mu.Lock()
	return mu.Unlock
}

// isMember reports whether the user is a member of the room on this node.
func (h *Hub) isMember(roomID, userID string) bool {
	r := h.room(roomID)
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.members[userID] != nil
}

// presenceSet updates this node's record of a member in the registry.
func (h *Hub) presenceSet(roomID string, e presence.Entry) {
	reg := h.deps.Presence
	if reg == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.deps.OpTimeout)
	defer cancel()
	if err := reg.Set(ctx, h.name, roomID, e); err != nil {
		h.presenceFailed("update", err)
	}
}

// presenceLeave removes this node's record of a member that left and
// reports whether the user is still in the room through another node.
func (h *Hub) presenceLeave(roomID, userID string) bool {
	reg := h.deps.Presence
	if reg == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.deps.OpTimeout)
	defer cancel()
	elsewhere, err := reg.Leave(ctx, h.name, roomID, userID)
	if err != nil {
		h.presenceFailed("leave", err)
		return false
	}
	return elsewhere
}

// presenceFailed logs (at most every few seconds) and counts a registry
// failure.
func (h *Hub) presenceFailed(op string, err error) {
	if mt := h.deps.Metrics; mt != nil {
		mt.PresenceErrors.WithLabelValues(h.name).Inc()
	}
	now := time.Now().UnixNano()
	last := h.presenceLog.Load()
	if now-last < int64(5*time.Second) || !h.presenceLog.CompareAndSwap(last, now) {
		return
	}
	h.log.Warn("presence registry failed; using this node's members", zap.String("op", op), zap.Error(err))
}

// signal starts or stops a typing/recording indicator of a member and
// broadcasts hub:<kind> / hub:stop<Kind> to the rest of the room,
// throttled, and stopped automatically when not refreshed.
func (h *Hub) signal(s *sio.Socket, m *member, kind string, on bool) {
	r := h.room(m.roomID)
	if r == nil {
		return
	}
	outs := signalOuts[kind]
	except := []string{s.ID()}
	now := time.Now()
	r.mu.Lock()
	st := m.signals[kind]
	if !on {
		if st == nil {
			r.mu.Unlock()
			return
		}
		st.timer.Stop()
		delete(m.signals, kind)
		r.mu.Unlock()
		h.emitOthers(m, outs.stop, except)
		return
	}
	send := st == nil || now.Sub(st.sent) >= signalThrottle
	if st == nil {
		if m.signals == nil {
			m.signals = make(map[string]*signalState)
		}
		st = &signalState{}
		m.signals[kind] = st
		st.timer = time.AfterFunc(signalTimeout, func() {
			r.mu.Lock()
			if m.signals[kind] != st {
				r.mu.Unlock()
				return
			}
			delete(m.signals, kind)
			r.mu.Unlock()
			h.emitOthers(m, outs.stop, nil)
		})
	} else {
		st.timer.Reset(signalTimeout)
	}
	if send {
		st.sent = now
	}
	r.mu.Unlock()
	if send {
		h.emitOthers(m, outs.start, except)
	}
}

// clearSignals stops every running indicator of a member that leaves.
func (h *Hub) clearSignals(r *room, m *member) {
	r.mu.Lock()
	kinds := make([]string, 0, len(m.signals))
	for k, st := range m.signals {
		st.timer.Stop()
		kinds = append(kinds, k)
	}
	m.signals = nil
	r.mu.Unlock()
	for _, k := range kinds {
		h.emitOthers(m, signalOuts[k].stop, nil)
	}
}

// signalOuts are the events of each indicator kind.
var signalOuts = map[string]struct{ start, stop Out[RoomUser] }{
	"typing":    {outTyping, outStopTyping},
	"recording": {outRecording, outStopRecording},
}

func (h *Hub) emitOthers(m *member, out Out[RoomUser], except []string) {
	h.emitReaders(m.roomID, out.Of(RoomUser{RoomID: m.roomID, UserID: m.userID}), except...)
}
