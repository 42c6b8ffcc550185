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
		Tail:      []Write{{Room: 1, Seq: 1}, {Room: 0, Seq: 1}, {Room: 1, Seq: 2}, {Room: 0, Seq: 2}, {Room: 1, Seq: 3}, {Room: 0, Seq: 3}, {Room: 1, Seq: 4}, {Room: 0, Seq: 4}},
		Logged:    true,
	}
	unlogged, exact := (&Record{Rooms: rec.Rooms}).Starts(Stream{Room: "a"}, 3, true)
	require.False(t, exact, "a record without a write log")
	require.Equal(t, messages(map[string]int64{"a": 3}), unlogged)
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
			got, exact := r.Starts(Stream{Room: c.room}, c.seq, c.has)
			require.Equal(t, c.exact, exact)
			require.Equal(t, messages(c.want), got)
		})
	}
}

// Consecutive writes of one room are kept as one run (Write.From..Seq):
// an offset inside a run places every other room as the single writes do.
func TestRecoveryStartsOverRuns(t *testing.T) {
	// Written, in order: a1 a2 a3 | b1 b2 | a4 a5 | b3.
	rec := &Record{
		Rooms:     []Room{{ID: "a", Written: 5}, {ID: "b", Written: 3}},
		TailRooms: []string{"a", "b"},
		Tail:      []Write{{Room: 0, From: 1, Seq: 3}, {Room: 1, From: 1, Seq: 2}, {Room: 0, From: 4, Seq: 5}, {Room: 1, Seq: 3}},
		Logged:    true,
	}
	for _, c := range []struct {
		room string
		seq  int64
		want map[string]int64
	}{
		{"a", 2, map[string]int64{"a": 2, "b": 0}},
		{"b", 1, map[string]int64{"a": 3, "b": 1}},
		{"a", 4, map[string]int64{"a": 4, "b": 2}},
		{"b", 3, map[string]int64{"a": 5, "b": 3}},
	} {
		got, exact := rec.Starts(Stream{Room: c.room}, c.seq, true)
		require.True(t, exact)
		require.Equal(t, messages(c.want), got, "offset %s%d", c.room, c.seq)
	}
}

// messages are starts of message streams only.
func messages(m map[string]int64) map[Stream]int64 {
	out := make(map[Stream]int64, len(m))
	for id, n := range m {
		out[Stream{Room: id}] = n
	}
	return out
}

// A room's changes (revs) are a stream of their own in the same ordered
// tail: an offset of either kind places both streams of every room.
func TestRecoveryStartsOfChanges(t *testing.T) {
	// Written, in order: a1 a2 | a:c1 | b1 | a:c2 a:c3 | a3 | b:c1.
	rec := &Record{
		Rooms:     []Room{{ID: "a", Written: 3, ChangeWritten: 3}, {ID: "b", Written: 1, ChangeWritten: 1}, {ID: "quiet", Written: 4, ChangeWritten: 6}},
		TailRooms: []string{"a", "b"},
		Tail: []Write{{Room: 0, From: 1, Seq: 2}, {Room: 0, Seq: 1, Change: true}, {Room: 1, Seq: 1},
			{Room: 0, From: 2, Seq: 3, Change: true}, {Room: 0, Seq: 3}, {Room: 1, Seq: 1, Change: true}},
		Logged: true,
	}
	a, ac, b, bc := Stream{Room: "a"}, Stream{Room: "a", Change: true}, Stream{Room: "b"}, Stream{Room: "b", Change: true}
	quiet, quietc := Stream{Room: "quiet"}, Stream{Room: "quiet", Change: true}
	for _, c := range []struct {
		at   Stream
		n    int64
		want map[Stream]int64
	}{
		{a, 2, map[Stream]int64{a: 2, ac: 0, b: 0, bc: 0, quiet: 4, quietc: 6}},
		{ac, 1, map[Stream]int64{a: 2, ac: 1, b: 0, bc: 0, quiet: 4, quietc: 6}},
		{ac, 2, map[Stream]int64{a: 2, ac: 2, b: 1, bc: 0, quiet: 4, quietc: 6}},
		{b, 1, map[Stream]int64{a: 2, ac: 1, b: 1, bc: 0, quiet: 4, quietc: 6}},
		{bc, 1, map[Stream]int64{a: 3, ac: 3, b: 1, bc: 1, quiet: 4, quietc: 6}},
	} {
		got, exact := rec.Starts(c.at, c.n, true)
		require.True(t, exact)
		require.Equal(t, c.want, got, "offset %+v %d", c.at, c.n)
	}
}
