// Package presence keeps the members of every room across the hubd nodes
// that share rooms: who is in a room through which node, with what status,
// so that presence lists, presence events and the room and per-user
// guardrails hold for the whole cluster and not for one node.
//
// A node records a user in a room when the user's first socket on that node
// joins and removes the record when the last one leaves. Records of a node
// that stopped without removing them (a crash) stop counting once its
// heartbeat is older than the registry's staleness limit.
package presence

import (
	"context"
	"errors"
)

// Statuses of an Entry.
const (
	StatusOnline = "online"
	StatusAway   = "away"
)

// Entry is one user's presence in a room: on one node when stored, merged
// over the nodes when listed (sockets summed; online wins over away).
type Entry struct {
	UserID  string
	Status  string
	Sockets int
}

// Limits are the guardrails Join enforces across nodes; zero is unlimited.
type Limits struct {
	MaxUsers int // distinct users in the room
	MaxRooms int // rooms of the user in the hub
}

// Join refusals.
var (
	ErrRoomFull     = errors.New("presence: room is full")
	ErrTooManyRooms = errors.New("presence: user is in too many rooms")
)

// Registry is the cluster-wide record of room members.
type Registry interface {
	// Join records user in room on this node, online with one socket. A
	// user already in the room (on any live node) is always admitted;
	// otherwise the room and the user must be within lim (ErrRoomFull,
	// ErrTooManyRooms). elsewhere reports whether the user was already in
	// the room through another live node.
	Join(ctx context.Context, hub, room, user string, lim Limits) (elsewhere bool, err error)
	// Set updates the status and socket count of the user's record on this
	// node.
	Set(ctx context.Context, hub, room string, e Entry) error
	// Leave removes the user's record of this node. elsewhere reports
	// whether the user is still in the room through another live node.
	Leave(ctx context.Context, hub, room, user string) (elsewhere bool, err error)
	// Room lists the users in the room on every live node, merged.
	Room(ctx context.Context, hub, room string) ([]Entry, error)
	// Status is one user's merged status in the room on every live node
	// ("" when they are not there), without reading the whole room.
	Status(ctx context.Context, hub, room, user string) (string, error)
}

// merge folds one node's record of a user into the merged entry.
func merge(into *Entry, status string, sockets int) {
	if into.Status != StatusOnline {
		into.Status = status
	}
	into.Sockets += sockets
}
