package hub

import "github.com/hubd/hubd/pkg/records"

// roomActive is called, outside the hub's locks, when the first member
// joins a room on this node.
func (h *Hub) roomActive(roomID string, room records.Record) {}

// roomIdle is called, outside the hub's locks, when the last member leaves
// a room on this node.
func (h *Hub) roomIdle(roomID string) {}
