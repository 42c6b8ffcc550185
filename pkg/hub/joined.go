package hub

import "slices"

// joinedRoom is a room a socket joined: its member entry, and when the
// socket joined (Unix ms, kept in its session record for recovery).
type joinedRoom struct {
	id       string
	m        *member
	joinedAt int64
}

// joinedRooms are the rooms of one socket: a short list searched in order
// (a socket is in at most guardrails.maxRoomsPerUser rooms, 50 by default).
// A map cost an idle socket in one room 336 bytes, the list costs 32.
// Guarded by the client's mu.
type joinedRooms []joinedRoom

// find returns the room's entry.
func (l joinedRooms) find(id string) (joinedRoom, bool) {
	for _, jr := range l {
		if jr.id == id {
			return jr, true
		}
	}
	return joinedRoom{}, false
}

// set adds jr, or replaces the entry of its room.
func (l *joinedRooms) set(jr joinedRoom) {
	for i := range *l {
		if (*l)[i].id == jr.id {
			(*l)[i] = jr
			return
		}
	}
	*l = append(*l, jr)
}

// remove takes the room's entry out and returns it.
func (l *joinedRooms) remove(id string) (joinedRoom, bool) {
	i := slices.IndexFunc(*l, func(jr joinedRoom) bool { return jr.id == id })
	if i < 0 {
		return joinedRoom{}, false
	}
	jr := (*l)[i]
	*l = slices.Delete(*l, i, i+1)
	return jr, true
}
