// Package resume keeps the records of Socket.IO sessions a client may
// resume after a reconnect (connection state recovery): which user owns a
// session, its socket id, and the rooms it had joined with their roles.
//
// Store is the interface; Bolt (a bbolt file in the daemon's data
// directory) is the default, Redis shares the records between nodes. Both
// pass the suite in store_test.go.
package resume

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound: no live record under that pid.
var ErrNotFound = errors.New("resume: no such session")

// Record is one resumable session of one hub.
type Record struct {
	PID    string `json:"pid"`
	SID    string `json:"sid"`
	Hub    string `json:"hub"`
	UserID string `json:"user"`
	// Owner identifies the live socket holding the session; a socket that
	// lost the session to a resumed one does not write it again.
	Owner string `json:"owner"`
	// Node is the node holding the socket; while DisconnectedAt is zero
	// the record is usable only while that node's liveness stamp is
	// (see Beat).
	Node  string `json:"node,omitempty"`
	Rooms []Room `json:"rooms,omitempty"`
	// DisconnectedAt is zero while the socket is connected (or when its
	// node ended without closing it).
	DisconnectedAt time.Time `json:"disconnectedAt,omitempty"`
	// Tail is the end of what was written to the socket, in order, oldest
	// first (set on disconnect): with it a client's last offset tells what
	// it received in every room, not only in the offset's (see Starts).
	Tail []Write `json:"tail,omitempty"`
	// TailRooms names the rooms of Tail.
	TailRooms []string `json:"tailRooms,omitempty"`
	// TailCut: writes older than Tail[0] were made but not kept.
	TailCut bool `json:"tailCut,omitempty"`
	// Logged: the socket's write log is in the record (Tail, Written,
	// Base). A record written while the socket was connected on another
	// node, or by a node that was killed, has none.
	Logged bool `json:"logged,omitempty"`
}

// Write is one event written to a socket: a message of TailRooms[Room]
// and its seq, or with Change one of the room's changes and its rev.
type Write struct {
	Room int   `json:"r"`
	Seq  int64 `json:"s"`
	// From is the first seq of a run of writes of the same stream that
	// ends at Seq (consecutive writes of one stream are kept as one
	// entry); 0 for a single write.
	From   int64 `json:"f,omitempty"`
	Change bool  `json:"c,omitempty"`
}

// Stream is one of a room's two ordered streams: its messages (by seq) or
// its changes to messages (by rev).
type Stream struct {
	Room   string
	Change bool
}

// stream is the stream of w.
func (r *Record) stream(w Write) (Stream, bool) {
	if w.Room < 0 || w.Room >= len(r.TailRooms) {
		return Stream{}, false
	}
	return Stream{Room: r.TailRooms[w.Room], Change: w.Change}, true
}

// first is the first seq of the run w ends.
func (w Write) first() int64 {
	if w.From > 0 {
		return w.From
	}
	return w.Seq
}

// Room is a joined room of a session.
type Room struct {
	ID      string `json:"id"`
	HubRole string `json:"hubRole,omitempty"`
	// JoinedAt (Unix milliseconds) bounds the replay of a room the
	// client's offset says nothing about.
	JoinedAt int64 `json:"joinedAt"`
	// Written is the seq of the last message of the room written to the
	// socket (0: none); set on disconnect.
	Written int64 `json:"written,omitempty"`
	// Base is the seq the client had of the room when this socket started
	// writing (a recovered socket: where its replay started; 0 otherwise).
	Base int64 `json:"base,omitempty"`
	// ChangeWritten and ChangeBase are Written and Base of the room's
	// changes (revs).
	ChangeWritten int64 `json:"cw,omitempty"`
	ChangeBase    int64 `json:"cb,omitempty"`
}

// last is what Written and Base are for stream kind change.
func (q Room) last(change bool) (written, base int64) {
	if change {
		return q.ChangeWritten, q.ChangeBase
	}
	return q.Written, q.Base
}

// Store keeps records for a time. Implementations are safe for concurrent
// use.
type Store interface {
	// Put writes r (keyed by hub and pid), replacing any previous record;
	// it expires after ttl.
	Put(ctx context.Context, r *Record, ttl time.Duration) error
	// Get returns the live record; ErrNotFound when there is none.
	Get(ctx context.Context, hub, pid string) (*Record, error)
	// Delete removes a record; deleting a missing one is not an error.
	Delete(ctx context.Context, hub, pid string) error
	// Beat stamps node as alive for ttl.
	Beat(ctx context.Context, node string, ttl time.Duration) error
	// Alive reports whether node's last stamp is still live.
	Alive(ctx context.Context, node string) (bool, error)
	Close() error
}

func key(hub, pid string) string { return hub + "\x00" + pid }
