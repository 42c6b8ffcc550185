package presence

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
)

// Local is the in-process Registry. A Local from NewLocal is one node
// alone; Peer returns another node on the same bus, so tests can run hubs
// as a cluster without Redis. Stop makes a node dead, as a crashed node
// whose heartbeat went stale: its records no longer count.
type Local struct {
	node string
	bus  *localBus
}

var _ Registry = (*Local)(nil)

type localBus struct {
	mu    sync.Mutex
	dead  map[string]bool
	rooms map[string]map[string]map[string]record // hub+room -> user -> node
}

type record struct {
	status  string
	sockets int
}

// NewLocal returns a node on a new bus.
func NewLocal() *Local {
	return &Local{node: newNodeID(), bus: &localBus{dead: map[string]bool{}, rooms: map[string]map[string]map[string]record{}}}
}

// Peer returns another node on the same bus.
func (l *Local) Peer() *Local { return &Local{node: newNodeID(), bus: l.bus} }

// Stop marks the node dead; its records stop counting.
func (l *Local) Stop() {
	l.bus.mu.Lock()
	l.bus.dead[l.node] = true
	l.bus.mu.Unlock()
}

func newNodeID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func roomKey(hub, room string) string { return hub + "\x00" + room }

// liveUsers returns the users of a room with a record on a live node, and
// whether user has one on a live node other than this one. Called with
// bus.mu held.
func (l *Local) liveUsers(hub, room, user string) (users map[string]bool, elsewhere bool) {
	users = map[string]bool{}
	for uid, nodes := range l.bus.rooms[roomKey(hub, room)] {
		for node := range nodes {
			if l.bus.dead[node] {
				continue
			}
			users[uid] = true
			if uid == user && node != l.node {
				elsewhere = true
			}
		}
	}
	return users, elsewhere
}

// roomsOf counts the rooms of the hub the user is in on live nodes,
// excluding room. Called with bus.mu held.
func (l *Local) roomsOf(hub, user, room string) int {
	n := 0
	prefix := hub + "\x00"
	for key, users := range l.bus.rooms {
		if len(key) <= len(prefix) || key[:len(prefix)] != prefix || key == roomKey(hub, room) {
			continue
		}
		for node := range users[user] {
			if !l.bus.dead[node] {
				n++
				break
			}
		}
	}
	return n
}

func checkCtx(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("presence: %w", err)
	}
	return nil
}

// Join implements Registry.
func (l *Local) Join(ctx context.Context, hub, room, user string, lim Limits) (bool, error) {
	if err := checkCtx(ctx); err != nil {
		return false, err
	}
	l.bus.mu.Lock()
	defer l.bus.mu.Unlock()
	users, elsewhere := l.liveUsers(hub, room, user)
	if !users[user] {
		if lim.MaxUsers > 0 && len(users) >= lim.MaxUsers {
			return false, ErrRoomFull
		}
		if lim.MaxRooms > 0 && l.roomsOf(hub, user, room) >= lim.MaxRooms {
			return false, ErrTooManyRooms
		}
	}
	key := roomKey(hub, room)
	if l.bus.rooms[key] == nil {
		l.bus.rooms[key] = map[string]map[string]record{}
	}
	if l.bus.rooms[key][user] == nil {
		l.bus.rooms[key][user] = map[string]record{}
	}
	l.bus.rooms[key][user][l.node] = record{status: StatusOnline, sockets: 1}
	return elsewhere, nil
}

// Set implements Registry.
func (l *Local) Set(ctx context.Context, hub, room string, e Entry) error {
	if err := checkCtx(ctx); err != nil {
		return err
	}
	l.bus.mu.Lock()
	defer l.bus.mu.Unlock()
	nodes := l.bus.rooms[roomKey(hub, room)][e.UserID]
	if _, ok := nodes[l.node]; !ok {
		return nil // not joined here (any more)
	}
	nodes[l.node] = record{status: e.Status, sockets: e.Sockets}
	return nil
}

// Leave implements Registry.
func (l *Local) Leave(ctx context.Context, hub, room, user string) (bool, error) {
	if err := checkCtx(ctx); err != nil {
		return false, err
	}
	l.bus.mu.Lock()
	defer l.bus.mu.Unlock()
	key := roomKey(hub, room)
	if nodes := l.bus.rooms[key][user]; nodes != nil {
		delete(nodes, l.node)
		if len(nodes) == 0 {
			delete(l.bus.rooms[key], user)
		}
		if len(l.bus.rooms[key]) == 0 {
			delete(l.bus.rooms, key)
		}
	}
	_, elsewhere := l.liveUsers(hub, room, user)
	return elsewhere, nil
}

// Room implements Registry.
func (l *Local) Room(ctx context.Context, hub, room string) ([]Entry, error) {
	if err := checkCtx(ctx); err != nil {
		return nil, err
	}
	l.bus.mu.Lock()
	defer l.bus.mu.Unlock()
	out := []Entry{}
	for uid, nodes := range l.bus.rooms[roomKey(hub, room)] {
		e := Entry{UserID: uid}
		for node, r := range nodes {
			if !l.bus.dead[node] {
				merge(&e, r.status, r.sockets)
			}
		}
		if e.Status != "" {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out, nil
}

// Status implements Registry.
func (l *Local) Status(ctx context.Context, hub, room, user string) (string, error) {
	if err := checkCtx(ctx); err != nil {
		return "", err
	}
	l.bus.mu.Lock()
	defer l.bus.mu.Unlock()
	e := Entry{UserID: user}
	for node, r := range l.bus.rooms[roomKey(hub, room)][user] {
		if !l.bus.dead[node] {
			merge(&e, r.status, r.sockets)
		}
	}
	return e.Status, nil
}
