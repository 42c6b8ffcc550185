package sio

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOwnRoomIsImplicit: a socket is in its own id room without a room
// map of its own; a second socket with the same id (a recovered session
// whose old socket is still there) is in it too, and each leaves it with
// its disconnection.
func TestOwnRoomIsImplicit(t *testing.T) {
	n := NewNamespace("/")
	old, recovered, other := &Socket{id: "sid"}, &Socket{id: "sid"}, &Socket{id: "b"}
	for _, s := range []*Socket{old, recovered, other} {
		s.ns = n
		s.connected.Store(true)
		n.add(s, nil)
	}
	require.Empty(t, old.rooms, "no room map for the own room")
	require.ElementsMatch(t, []*Socket{old, recovered}, n.SocketsIn("sid"))
	require.Equal(t, 2, n.RoomSize("sid"))
	require.ElementsMatch(t, []string{"sid"}, old.Rooms())
	require.ElementsMatch(t, []string{"sid"}, recovered.Rooms())

	other.Join("sid", "r")
	require.Equal(t, 3, n.RoomSize("sid"))
	require.ElementsMatch(t, []string{"b", "sid", "r"}, other.Rooms())
	require.Equal(t, 1, n.RoomSize("b"))

	n.remove(old)
	require.ElementsMatch(t, []*Socket{recovered, other}, n.SocketsIn("sid"))
	n.remove(recovered)
	require.ElementsMatch(t, []*Socket{other}, n.SocketsIn("sid"))
	n.remove(other)
	require.Zero(t, n.RoomSize("sid"))
	require.Zero(t, n.RoomSize("b"))
	require.Empty(t, n.rooms)
	require.Empty(t, n.byID)
}
