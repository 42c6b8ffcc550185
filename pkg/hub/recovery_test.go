package hub

import (
	"testing"
	"time"

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
		require.True(t, c.offsetGate(off, false))
		require.True(t, c.offsetGate(other, false))
	}
	require.Len(t, c.wlog.tail, maxTail)
	require.Zero(t, testing.AllocsPerRun(1000, func() { c.offsetGate(off, false); c.offsetGate(other, false) }), "a socket's gate, per delivery")
}

// A socket written one room at a time keeps one log entry per run of a
// room, not one per message; the record carries the runs.
func TestWriteLogKeepsRuns(t *testing.T) {
	var l writeLog
	for seq := int64(1); seq <= 3000; seq++ {
		l.note("a", seq)
	}
	l.note("b", 1)
	l.note("b", 2)
	l.note("a", 3001)
	require.Len(t, l.tail, 3)
	rec := &resume.Record{Rooms: []resume.Room{{ID: "a"}, {ID: "b"}}}
	l.fill(rec)
	require.Equal(t, []resume.Write{{Room: 0, From: 1, Seq: 3000}, {Room: 1, From: 1, Seq: 2}, {Room: 0, Seq: 3001}}, rec.Tail)
	starts, exact := rec.Starts("a", 2999, true)
	require.True(t, exact)
	require.Equal(t, map[string]int64{"a": 2999, "b": 0}, starts)
	starts, _ = rec.Starts("a", 3001, true)
	require.Equal(t, map[string]int64{"a": 3001, "b": 2}, starts)
}

func TestRoomGates(t *testing.T) {
	g := &gates{rooms: map[string]*roomGate{"a": {}}}
	at := func(seq int64, room string) offset { return offset{seq: seq, ms: 1, room: room} }
	require.True(t, g.pass(at(1, "b")), "a room without a gate passes")
	require.False(t, g.pass(at(5, "a")), "closed while the replay runs")
	require.False(t, g.pass(at(7, "a")))

	behind, opened := g.tryOpen("a", 6)
	require.False(t, opened, "7 was held back above the replay's 6")
	require.Equal(t, int64(7), behind)
	_, opened = g.tryOpen("a", 7)
	require.True(t, opened)

	require.False(t, g.pass(at(7, "a")), "replayed already")
	require.False(t, g.pass(at(3, "a")))
	require.True(t, g.pass(at(8, "a")), "new after the replay")
}
