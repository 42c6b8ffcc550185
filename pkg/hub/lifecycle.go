package hub

import "github.com/hubd/hubd/pkg/records"

// roomActive is called, outside the hub's locks, when the first member
// joins a room on this node: the room's scheduled actions start.
func (h *Hub) roomActive(roomID string, room records.Record) { h.startSchedule(roomID, room) }

// roomIdle is called, outside the hub's locks, when the last member leaves
// a room on this node: its scheduled actions stop, except keepAlive ones.
func (h *Hub) roomIdle(roomID string) { h.stopSchedule(roomID) }
