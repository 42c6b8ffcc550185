package hub

import (
	"fmt"
	"strconv"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/resume"
)

func TestOffsetRoundTrip(t *testing.T) {
	m := &msgstore.Message{Seq: 42, RoomID: "room.with.dots", Timestamp: time.UnixMilli(1700000000123)}
	off, ok := parseOffset(offsetOf(m))
	require.True(t, ok)
	require.Equal(t, offset{seq: 42, ms: 1700000000123, room: "room.with.dots"}, off)
	require.Empty(t, offsetOf(&msgstore.Message{RoomID: "r"}), "no seq, no offset")

	for name, bad := range map[string]string{
		"empty": "", "no room": "1.2.", "letters": "x.2.r", "zero seq": "0.2.r", "two parts": "1.r",
		"no ms": "1..r", "dots only": "..", "negative": "-1.2.r",
	} {
		_, ok := parseOffset(bad)
		require.False(t, ok, name)
	}
}

func TestOffsetParseAllocatesNothing(t *testing.T) {
	off := "123.1700000000123.room"
	require.Zero(t, testing.AllocsPerRun(100, func() { _, _ = parseOffset(off) }))
	other := "9.1700000000123.other"
	var c client
	for range maxTail + 1 { // the rooms' logs created, the tail at its full size
		require.True(t, c.offsetGate(off, nil, false))
		require.True(t, c.offsetGate(other, nil, false))
	}
	require.Len(t, c.wlog.tail.entries, maxTail)
	require.Zero(t, testing.AllocsPerRun(1000, func() { c.offsetGate(off, nil, false); c.offsetGate(other, nil, false) }), "a socket's gate, per delivery")
	key := offsetKey(off, "room")
	require.Zero(t, testing.AllocsPerRun(1000, func() { c.offsetGate(off, key, false) }), "a socket's gate, per delivery of a broadcast")
}

// A broadcast's offset parsed once (offsetKey) gates and logs as the
// offset parsed by each socket's gate does.
func TestOffsetKeyGatesAsTheOffset(t *testing.T) {
	room := "room"
	off := func(seq int) string { return strconv.Itoa(seq) + ".1700000000123." + room }
	require.Nil(t, offsetKey("garbage", room))
	k := offsetKey(off(3), room)
	require.Equal(t, offset{seq: 3, ms: 1700000000123, room: room}, *k)
	require.Equal(t, unsafe.StringData(room), unsafe.StringData(k.room), "the key names the room with the caller's string")

	var keyed, parsed client
	g := &gates{rooms: map[resume.Stream]*roomGate{{Room: room}: {}}}
	keyed.restoring.Store(g)
	parsed.restoring.Store(&gates{rooms: map[resume.Stream]*roomGate{{Room: room}: {}}})
	var passed []int
	for seq := 1; seq <= 6; seq++ {
		if seq == 4 { // the replay ended with seq 3: above it pass
			_, _ = keyed.restoring.Load().tryOpen(resume.Stream{Room: room}, 3)
			_, _ = parsed.restoring.Load().tryOpen(resume.Stream{Room: room}, 3)
		}
		pass := keyed.offsetGate(off(seq), offsetKey(off(seq), room), false)
		require.Equal(t, parsed.offsetGate(off(seq), nil, false), pass, "seq %d", seq)
		if pass {
			passed = append(passed, seq)
		}
	}
	require.Equal(t, []int{4, 5, 6}, passed, "held back while the room's gate was closed")
	require.Equal(t, logged(&parsed), logged(&keyed))
	require.Equal(t, int64(6), logged(&keyed).Rooms[0].Written)
}

// logged is what a client's write log puts into a session record.
func logged(c *client) *resume.Record {
	rec := &resume.Record{Rooms: []resume.Room{{ID: "room"}}}
	c.wlog.fill(rec)
	return rec
}

// A socket written one room at a time keeps one log entry per run of a
// room, not one per message; the record carries the runs.
func TestWriteLogKeepsRuns(t *testing.T) {
	var l writeLog
	for seq := int64(1); seq <= 3000; seq++ {
		l.note("a", false, seq)
	}
	l.note("b", false, 1)
	l.note("b", false, 2)
	l.note("a", false, 3001)
	require.Len(t, l.tail.entries, 3)
	rec := &resume.Record{Rooms: []resume.Room{{ID: "a"}, {ID: "b"}}}
	l.fill(rec)
	require.Equal(t, []resume.Write{{Room: 0, From: 1, Seq: 3000}, {Room: 1, From: 1, Seq: 2}, {Room: 0, Seq: 3001}}, rec.Tail)
	starts, exact := rec.Starts(resume.Stream{Room: "a"}, 2999, true)
	require.True(t, exact)
	require.Equal(t, map[resume.Stream]int64{{Room: "a"}: 2999, {Room: "b"}: 0}, starts)
	starts, _ = rec.Starts(resume.Stream{Room: "a"}, 3001, true)
	require.Equal(t, map[resume.Stream]int64{{Room: "a"}: 3001, {Room: "b"}: 2}, starts)
}

// A socket written more rooms than it searches in order finds each of
// them in its index, before and after the switch.
func TestWriteLogManyRooms(t *testing.T) {
	var l writeLog
	rec := &resume.Record{}
	for i := range 3 * linearRooms {
		id := fmt.Sprintf("r%d", i)
		l.seed(id, false, int64(i))
		l.note(id, false, int64(i)+1)
		rec.Rooms = append(rec.Rooms, resume.Room{ID: id})
		require.Equal(t, i >= linearRooms, l.index != nil, "index after %d rooms", i+1)
	}
	l.note("r0", true, 7)
	l.fill(rec)
	require.Len(t, l.rooms, 3*linearRooms, "one log per room")
	for i, r := range rec.Rooms {
		want := resume.Room{ID: r.ID, Written: int64(i) + 1, Base: int64(i)}
		if i == 0 {
			want.ChangeWritten = 7
		}
		require.Equal(t, want, r)
	}
}

func TestRoomGates(t *testing.T) {
	a := resume.Stream{Room: "a"}
	g := &gates{rooms: map[resume.Stream]*roomGate{a: {}, {Room: "a", Change: true}: {}}}
	at := func(seq int64, room string) offset { return offset{seq: seq, ms: 1, room: room} }
	require.True(t, g.pass(at(1, "b")), "a room without a gate passes")
	require.False(t, g.pass(at(5, "a")), "closed while the replay runs")
	require.False(t, g.pass(at(7, "a")))

	behind, opened := g.tryOpen(a, 6)
	require.False(t, opened, "7 was held back above the replay's 6")
	require.Equal(t, int64(7), behind)
	_, opened = g.tryOpen(a, 7)
	require.True(t, opened)

	require.False(t, g.pass(at(7, "a")), "replayed already")
	require.False(t, g.pass(at(3, "a")))
	require.True(t, g.pass(at(8, "a")), "new after the replay")
	require.False(t, g.pass(offset{seq: 9, ms: 1, room: "a", change: true}), "the room's changes have a gate of their own, still closed")
}

// A change's offset ("c<rev>...") is told apart from a message's, and the
// write log keeps both streams of a room.
func TestChangeOffsets(t *testing.T) {
	o, ok := parseOffset("c12.1700000000000.room.1")
	require.True(t, ok)
	require.Equal(t, offset{seq: 12, ms: 1700000000000, room: "room.1", change: true}, o)
	o, ok = parseOffset("12.1700000000000.room.1")
	require.True(t, ok)
	require.False(t, o.change)
	for _, bad := range []string{"c", "c.1.r", "cx.1.r", "c0.1.r", "cc1.1.r"} {
		_, ok := parseOffset(bad)
		require.False(t, ok, bad)
	}
	var l writeLog
	l.note("a", false, 1)
	l.note("a", true, 1)
	l.note("a", true, 2)
	l.note("a", false, 2)
	rec := &resume.Record{Rooms: []resume.Room{{ID: "a"}}}
	l.fill(rec)
	require.Equal(t, []resume.Write{{Room: 0, Seq: 1}, {Room: 0, From: 1, Seq: 2, Change: true}, {Room: 0, Seq: 2}}, rec.Tail)
	require.Equal(t, resume.Room{ID: "a", Written: 2, ChangeWritten: 2}, rec.Rooms[0])
	starts, exact := rec.Starts(resume.Stream{Room: "a", Change: true}, 1, true)
	require.True(t, exact)
	require.Equal(t, map[resume.Stream]int64{{Room: "a"}: 1, {Room: "a", Change: true}: 1}, starts)
}
