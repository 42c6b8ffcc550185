package hub

import (
	"slices"
	"sync"
	"time"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/records"
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
	msgKey   string // the user's message rate limiter key (messageRateKey), "" not made
	decision *authz.Decision
	silenced bool
	sockets  socketSet

	// Guarded by the room's mu.
	away    bool
	signals map[string]*signalState // typing, recording
}

// socketSet is a member's sockets on this node: a slice, as a member
// mostly has one and rarely more than a few.
type socketSet []*sio.Socket

func (ss socketSet) has(s *sio.Socket) bool { return slices.Contains(ss, s) }

// add returns the set with s in it.
func (ss socketSet) add(s *sio.Socket) socketSet {
	if ss.has(s) {
		return ss
	}
	return append(ss, s)
}

// remove returns the set without s.
func (ss socketSet) remove(s *sio.Socket) socketSet {
	if i := slices.Index(ss, s); i >= 0 {
		return slices.Delete(ss, i, i+1)
	}
	return ss
}

// signalState is a running typing or recording indicator.
type signalState struct {
	timer *time.Timer
	sent  time.Time // when the start event was last broadcast
}

// room is the live state of a room on this node.
type room struct {
	id      string
	readers string // readers(id), made once
	mu      sync.Mutex
	members map[string]*member // by user id
	seq     sequencer          // the room's messages, by seq
	chg     sequencer          // the room's changes to messages, by rev (changes.go)

	// record is the room record its members' decisions share, recordHash
	// its fingerprint (guarded by mu; see Hub.sharedRecord).
	record     records.Record
	recordHash string
}

func newRoom(id string) *room {
	return &room{id: id, readers: readers(id), members: make(map[string]*member)}
}

// catchUp makes both of the room's sequencers read what the store holds
// after their last released number.
func (r *room) catchUp() {
	r.seq.catchUp()
	r.chg.catchUp()
}
