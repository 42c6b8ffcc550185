package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/resume"
	"github.com/hubd/hubd/pkg/sio"
)

// Connection state recovery (docs/protocol.md, "Connection state
// recovery"). A socket's session record (package resume) names its user,
// sid and joined rooms with their roles; it is written on every join and
// leave, and on disconnect with maxDisconnectionDuration to live. A client
// reconnecting with {pid, offset} gets its sid back, its rooms after the
// same checks as hub:join, and the messages it missed, read from the
// message store by the read path of history.
//
// A message's offset is "<seq>.<unix ms>.<roomId>", a change's (an edit,
// deletion, reaction, approval or rejection of a stored message, see
// changes.go) "c<rev>.<unix ms>.<roomId>": each room has two ordered
// streams, its messages by seq and its changes by rev. The socket's write
// log places the client's last offset among everything it was written, so
// each stream of each room restarts exactly where the client's copy ends;
// without a log, after the offset's time.

// CodeRecoveryIncomplete: a recovered room whose missed messages could not
// all be replayed; the socket left the room and rejoins with since.
const CodeRecoveryIncomplete = "RECOVERY_INCOMPLETE"

// Bounds of recovery.
const (
	// connectedTTL is how long the record of a connected socket lives
	// without a write; it is usable only while its node is alive (see
	// nodeGone).
	connectedTTL = 24 * time.Hour
	// maxReplay bounds the messages replayed per room.
	maxReplay = 10 * maxSinceMessages
	// catchUpRounds bounds the store reads that catch up with live
	// messages held back during a room's replay.
	catchUpRounds = 10
)

// offsetOf is the recovery offset of a stored message; "" without a seq.
func offsetOf(m *msgstore.Message) string {
	if m.Seq <= 0 {
		return ""
	}
	var buf [48]byte // two numbers, two dots: one allocation, the string
	b := strconv.AppendInt(buf[:0], m.Seq, 10)
	b = strconv.AppendInt(append(b, '.'), m.Timestamp.UnixMilli(), 10)
	return string(append(append(b, '.'), m.RoomID...))
}

// changeOffsetOf is the recovery offset of a message's last change; ""
// when it has none.
func changeOffsetOf(m *msgstore.Message) string {
	if m.Rev <= 0 || m.Change == nil {
		return ""
	}
	return "c" + strconv.FormatInt(m.Rev, 10) + "." + strconv.FormatInt(m.Change.At.UnixMilli(), 10) + "." + m.RoomID
}

// offset is a parsed offset: number seq of a room's messages, or with
// change of its changes.
type offset struct {
	seq    int64
	ms     int64
	room   string
	change bool
}

// offsetKey parses a broadcast's offset once for the gates of all its
// recipients (sio.Broadcast.OffsetKey); nil when it does not parse. When
// its room is roomID the key holds roomID itself: a room's broadcasts
// then name it with one string, which the write logs compare by address
// before bytes.
func offsetKey(off, roomID string) *offset {
	o, ok := parseOffset(off)
	if !ok {
		return nil
	}
	if o.room == roomID {
		o.room = roomID
	}
	return &o
}

// stream is the offset's stream.
func (o offset) stream() resume.Stream { return resume.Stream{Room: o.room, Change: o.change} }

func parseOffset(s string) (offset, bool) {
	change := len(s) > 0 && s[0] == 'c'
	if change {
		s = s[1:]
	}
	i := strings.IndexByte(s, '.')
	if i < 0 {
		return offset{}, false
	}
	j := strings.IndexByte(s[i+1:], '.')
	if j < 0 || i+1+j+1 >= len(s) {
		return offset{}, false
	}
	j += i + 1
	seq, err1 := strconv.ParseInt(s[:i], 10, 64)
	ms, err2 := strconv.ParseInt(s[i+1:j], 10, 64)
	if err1 != nil || err2 != nil || seq <= 0 {
		return offset{}, false
	}
	return offset{seq: seq, ms: ms, room: s[j+1:], change: change}, true
}

// recoveryOn reports whether this hub offers recovery.
func (h *Hub) recoveryOn() bool { return h.deps.Resume != nil && h.deps.MaxDisconnection > 0 }

// resumeAuth is what a reconnecting socket.io-client adds to its auth.
type resumeAuth struct {
	PID    string `json:"pid"`
	Offset string `json:"offset"`
}

// claimsResume reports whether auth may name a session to resume: false
// when it surely has no pid member (a first connection), without decoding
// it.
func claimsResume(auth json.RawMessage) bool {
	if len(auth) == 0 {
		return false
	}
	raw, sure := authz.AuthMember(auth, "pid")
	return !sure || raw != nil
}

// pendingRestore is a session to restore once the socket is connected.
type pendingRestore struct {
	rec *resume.Record
	off offset
	has bool // off is set
	// starts: per stream, the number after which its replay starts
	// (streams missing: after a time, see replayStart); exact is false when
	// the offset was older than the record's write log.
	starts map[resume.Stream]int64
	exact  bool
}

// claimSession looks the auth's pid up for the user at CONNECT and, when
// the record is the user's and still live, makes s its continuation. Any
// other outcome is a fresh session (as the reference does). resuming is
// h.recoveryOn() && claimsResume(auth).
func (h *Hub) claimSession(ctx context.Context, s *sio.Socket, c *client, auth json.RawMessage, resuming bool) {
	c.owner = newOwner()
	var a resumeAuth
	if !resuming || json.Unmarshal(auth, &a) != nil || a.PID == "" {
		return
	}
	rec, err := h.deps.Resume.Get(ctx, h.name, a.PID)
	switch {
	case errors.Is(err, resume.ErrNotFound):
		h.countRecovery("expired")
		return
	case err != nil:
		h.log.Warn("session record unavailable", zap.Error(err))
		h.countRecovery("unavailable")
		return
	case rec.UserID != c.sess.UserID || rec.Hub != h.name:
		h.log.Debug("session of another user refused")
		h.countRecovery("refused")
		return
	case !rec.DisconnectedAt.IsZero() && time.Since(rec.DisconnectedAt) > h.deps.MaxDisconnection:
		h.countRecovery("expired")
		return
	}
	if result := h.nodeGone(ctx, rec); result != "" {
		h.countRecovery(result)
		return
	}
	rec = h.liveRecord(ctx, rec)
	p := &pendingRestore{rec: rec}
	p.off, p.has = parseOffset(a.Offset)
	p.starts, p.exact = rec.Starts(p.off.stream(), p.off.seq, p.has)
	c.restore = p
	s.Resume(rec.SID, rec.PID)
}

// nodeGone checks a record without a disconnect time: its node may have
// ended without closing the socket, so it is usable only while the node's
// liveness stamp is (package resume). It returns the recovery result that
// refuses the record, "" when it is usable.
func (h *Hub) nodeGone(ctx context.Context, rec *resume.Record) string {
	if !rec.DisconnectedAt.IsZero() {
		return ""
	}
	if rec.Node == "" {
		return "expired"
	}
	alive, err := h.deps.Resume.Alive(ctx, rec.Node)
	switch {
	case err != nil:
		h.log.Warn("node liveness unavailable", zap.Error(err))
		return "unavailable"
	case !alive:
		return "expired"
	}
	return ""
}

// offsetGate is the sio.OffsetGate of a socket with recovery on: live
// messages of a room being replayed wait behind its gate; every message
// queued goes into the socket's write log. A broadcast's offset comes
// parsed once for all its recipients (key, see offsetKey); the others are
// parsed here.
func (c *client) offsetGate(off string, key any, replay bool) bool {
	var o offset
	if k, keyed := key.(*offset); keyed {
		o = *k
	} else if p, ok := parseOffset(off); ok {
		o = p
	} else {
		return true
	}
	if g := c.restoring.Load(); g != nil && !replay && !g.pass(o) {
		return false
	}
	c.wlog.note(o.room, o.change, o.seq)
	return true
}

// takeLiveTail fills a record without a disconnect time from the write log
// of its socket when that socket is still on this node (the client came
// back before the node noticed it had gone); the restore disconnects it.
func (h *Hub) takeLiveTail(rec *resume.Record) {
	if !rec.DisconnectedAt.IsZero() {
		return
	}
	for _, old := range h.ns.SocketsIn(rec.SID) {
		if oc := clientOf(old); oc != nil && old.ID() == rec.SID && oc.owner == rec.Owner {
			oc.wlog.fill(rec)
		}
	}
}

// newOwner names one socket's hold on a session record.
func newOwner() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sessionChanged writes the socket's session record after a join or leave.
func (h *Hub) sessionChanged(s *sio.Socket, c *client) {
	if !h.recoveryOn() || s.PID() == "" {
		return
	}
	h.putSession(s, c, time.Time{}, connectedTTL)
}

// putSession writes the record of s as it is now.
func (h *Hub) putSession(s *sio.Socket, c *client, disconnectedAt time.Time, ttl time.Duration) {
	rec := &resume.Record{PID: s.PID(), SID: s.ID(), Hub: h.name, Owner: c.owner, Node: h.deps.Node, DisconnectedAt: disconnectedAt}
	c.mu.Lock()
	rec.UserID = c.sess.UserID
	for _, jr := range c.rooms {
		rec.Rooms = append(rec.Rooms, resume.Room{ID: jr.id, HubRole: jr.m.decision.HubRole, JoinedAt: jr.joinedAt})
	}
	c.mu.Unlock()
	if !disconnectedAt.IsZero() {
		c.wlog.fill(rec)
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.deps.OpTimeout)
	defer cancel()
	if err := h.deps.Resume.Put(ctx, rec, ttl); err != nil {
		h.log.Warn("session record not written", zap.Error(err))
	}
}

// sessionEnded keeps the record of a disconnected socket for
// maxDisconnectionDuration, unless the client left on purpose or a resumed
// socket took the session over. Runs before the socket leaves its rooms.
func (h *Hub) sessionEnded(s *sio.Socket, c *client, reason string) {
	if !h.recoveryOn() || s.PID() == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.deps.OpTimeout)
	defer cancel()
	if reason == "client namespace disconnect" {
		if err := h.deps.Resume.Delete(ctx, h.name, s.PID()); err != nil {
			h.log.Warn("session record not deleted", zap.Error(err))
		}
		return
	}
	if rec, err := h.deps.Resume.Get(ctx, h.name, s.PID()); err == nil && rec.Owner != c.owner {
		return // resumed by another socket
	}
	h.putSession(s, c, time.Now(), h.deps.MaxDisconnection)
}

func (h *Hub) countRecovery(result string) {
	if mt := h.deps.Metrics; mt != nil && mt.RecoveriesTotal != nil {
		mt.RecoveriesTotal.WithLabelValues(h.name, result).Inc()
	}
}

// roomGate holds back a room stream's live events from a socket while its
// replay runs, and afterwards those the replay already sent.
type roomGate struct {
	open    bool
	floor   int64 // open: only seq > floor pass
	dropped int64 // highest seq held back while closed
}

// gates are a socket's gates, one per stream of each room restored.
type gates struct {
	mu    sync.Mutex
	rooms map[resume.Stream]*roomGate
}

func (g *gates) pass(o offset) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	rg := g.rooms[o.stream()]
	switch {
	case rg == nil:
		return true
	case !rg.open:
		rg.dropped = max(rg.dropped, o.seq)
		return false
	}
	return o.seq > rg.floor
}

// tryOpen opens the stream's gate at floor unless events above it were
// held back meanwhile; then it returns the highest number held back.
func (g *gates) tryOpen(st resume.Stream, floor int64) (behind int64, opened bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	rg := g.rooms[st]
	if rg.dropped > floor {
		return rg.dropped, false
	}
	rg.open, rg.floor = true, floor
	return 0, true
}
