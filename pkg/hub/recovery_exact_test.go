package hub

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/metrics"
	"github.com/hubd/hubd/pkg/msgstore"
	recs "github.com/hubd/hubd/pkg/records"
)

// Messages of two rooms stamped in the same millisecond around a drop: the
// client's last offset names one room, and every room is replayed from
// exactly what the socket had received (its write log), each message once,
// in order. Time alone (the offset's millisecond) would miss or repeat
// them in the room other than the offset's.
func TestRecoverEveryRoomExactly(t *testing.T) {
	for _, c := range []struct {
		name     string
		lastSeen int  // index in the written order of the last message the client received
		live     bool // the client comes back before the node noticed the drop
	}{
		{"offset in the second room", 1, false},
		{"offset in the first room", 2, false},
		{"nothing received since the joins", -1, false},
		{"back before the node noticed", 1, true},
	} {
		t.Run(c.name, func(t *testing.T) { testRecoverExactly(t, c.lastSeen, c.live) })
	}
}

func testRecoverExactly(t *testing.T, lastSeen int, live bool) {
	records := boltRecords(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "arena.json"), []byte(`[{"id":"r1"},{"id":"r2"}]`), 0o600))
	rooms, err := recs.NewEmbedded(dir)
	require.NoError(t, err)
	m := metrics.NewUnregistered()
	e := newSocketEnv(t, func(d *Deps) {
		d.Resume, d.MaxDisconnection, d.Records, d.Node, d.Metrics = records, time.Minute, rooms, "here", m
	})
	ctx := context.Background()
	require.NoError(t, records.Beat(ctx, "here", time.Minute))

	u1, first := e.dialAs(t, "u1", nil)
	u1.join("1", "r1")
	u1.join("2", "r2")
	stamp := time.Now().Truncate(time.Millisecond)
	post := func(room, body string) *msgstore.Message {
		m, _, err := e.h.deps.Store.Append(ctx, &msgstore.Message{HubName: e.h.Name(), RoomID: room, SenderID: "u2",
			MessageType: "text", Content: json.RawMessage(`{"body":"` + body + `"}`), Status: msgstore.StatusPublished,
			Timestamp: stamp})
		require.NoError(t, err)
		require.Equal(t, stamp.UnixMilli(), m.Timestamp.UnixMilli(), "stamped in the same millisecond")
		e.h.deliverLocal(room, arrived(m))
		return m
	}
	// Written to u1 in this order, all in one millisecond.
	written := []*msgstore.Message{post("r1", "a1"), post("r2", "b1"), post("r1", "a2"), post("r2", "b2")}
	var offset string
	for i, m := range written {
		args := u1.event("hub:messageArrived")
		require.JSONEq(t, `"`+offsetOf(m)+`"`, string(args[1]), "written in order")
		if i == lastSeen {
			offset = offsetOf(m)
		}
	}
	if !live {
		u1.drop(records, e.h.Name(), first["pid"])
	}
	missed := []*msgstore.Message{post("r2", "b3"), post("r1", "a3")}

	back, again := e.dialAs(t, "u1", resumeWith(first["pid"], offset))
	require.Equal(t, first, again, "recovered")
	back.replayed(append(written[lastSeen+1:], missed...))
	// Nothing more: the next event is a live one.
	next := post("r1", "after")
	require.Equal(t, offsetOf(next), back.nextOffset(), "no message replayed twice")
	require.Eventually(t, func() bool {
		return testutil.ToFloat64(m.RecoveriesTotal.WithLabelValues(e.h.Name(), "recovered")) == 1
	}, 5*time.Second, 10*time.Millisecond, "an exact recovery")
}

// A room joined with history and written nothing since: its replay starts
// after the history's last message, not after the join's millisecond (a
// message stamped before the join but stored after it is replayed too).
func TestRecoverRoomJoinedWithHistory(t *testing.T) {
	records := boltRecords(t)
	e := newSocketEnv(t, func(d *Deps) { d.Resume, d.MaxDisconnection = records, time.Minute })
	ctx := context.Background()
	stamp := time.Now().Add(-time.Second).Truncate(time.Millisecond)
	post := func(body string) *msgstore.Message {
		m, _, err := e.h.deps.Store.Append(ctx, &msgstore.Message{HubName: e.h.Name(), RoomID: "r1", SenderID: "u2",
			MessageType: "text", Content: json.RawMessage(`{"body":"` + body + `"}`), Status: msgstore.StatusPublished,
			Timestamp: stamp})
		require.NoError(t, err)
		return m
	}
	m1, m2 := post("m1"), post("m2")

	u1, first := e.dialAs(t, "u1", nil)
	u1.send("42" + u1.nsp + `,1["hub:join",{"roomId":"r1","since":"` + m1.ID + `"}]`)
	require.Contains(t, u1.read("43"+u1.nsp+",1"), `"ok":true`)
	require.Contains(t, string(u1.event("hub:history")[0]), m2.ID)
	rec := u1.drop(records, e.h.Name(), first["pid"])
	require.Equal(t, m2.Seq, rec.Rooms[0].Written, "the history's last message is what the client has")

	m3 := post("m3") // stamped before the join
	back, again := e.dialAs(t, "u1", map[string]string{"pid": first["pid"]})
	require.Equal(t, first, again)
	var off string
	require.NoError(t, json.Unmarshal(back.event("hub:messageArrived")[1], &off))
	require.Equal(t, offsetOf(m3), off)
}
