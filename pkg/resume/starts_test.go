package resume

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRecoveryStarts(t *testing.T) {
	// Written to the socket, in order: a1 b1 a2 b2 a3 | b3 a4 b4 (a and b
	// messages stamped in the same millisecond around the drop).
	rec := &Record{
		Rooms:     []Room{{ID: "a", Written: 4}, {ID: "b", Written: 4}, {ID: "quiet", Written: 9}, {ID: "new"}},
		TailRooms: []string{"b", "a"},
		Tail:      []Write{{1, 1}, {0, 1}, {1, 2}, {0, 2}, {1, 3}, {0, 3}, {1, 4}, {0, 4}},
		Logged:    true,
	}
	unlogged, exact := (&Record{Rooms: rec.Rooms}).Starts("a", 3, true)
	require.False(t, exact, "a record without a write log")
	require.Equal(t, map[string]int64{"a": 3}, unlogged)
	for _, c := range []struct {
		name  string
		room  string
		seq   int64
		has   bool
		cut   bool
		base  int64
		want  map[string]int64
		exact bool
	}{
		{"the last write received", "b", 4, true, false, 0, map[string]int64{"a": 4, "b": 4, "quiet": 9}, true},
		{"a3 was the last received", "a", 3, true, false, 0, map[string]int64{"a": 3, "b": 2, "quiet": 9}, true},
		{"a1: nothing of b", "a", 1, true, false, 0, map[string]int64{"a": 1, "b": 0, "quiet": 9}, true},
		{"a1, b started at a base", "a", 1, true, false, 7, map[string]int64{"a": 1, "b": 7, "quiet": 9}, true},
		{"an offset from before this socket", "a", 0, false, false, 0, map[string]int64{"a": 0, "b": 0, "quiet": 9}, true},
		{"the offset cut from the tail", "z", 5, true, true, 0, map[string]int64{"z": 5}, false},
		{"found although older writes were cut", "a", 3, true, true, 7, map[string]int64{"a": 3, "b": 2, "quiet": 9}, true},
		{"cut: one below the first write after", "a", 1, true, true, 7, map[string]int64{"a": 1, "b": 0, "quiet": 9}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := *rec
			r.TailCut = c.cut
			r.Rooms = append([]Room(nil), rec.Rooms...)
			r.Rooms[1].Base = c.base
			got, exact := r.Starts(c.room, c.seq, c.has)
			require.Equal(t, c.exact, exact)
			require.Equal(t, c.want, got)
		})
	}
}
