package hub

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"
	"github.com/hubd/hubd/pkg/metrics"
	"github.com/hubd/hubd/pkg/msgstore"
	recs "github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/resume"
	"github.com/hubd/hubd/pkg/sio"
)

// takeoverNode is one node of a two-node cluster on one Redis: session
// records and the Socket.IO adapter in Redis, one message store.
type takeoverNode struct {
	*socketEnv
	m   *metrics.Metrics
	srv *sio.Server // its adapter's server (Detach cuts the node off)
}

func (n *takeoverNode) count(result string) float64 {
	return testutil.ToFloat64(n.m.RecoveriesTotal.WithLabelValues(n.h.Name(), result))
}

func (n *takeoverNode) takeovers(result string) float64 {
	return testutil.ToFloat64(n.m.SessionTakeovers.WithLabelValues(n.h.Name(), result))
}

// newTakeoverCluster starts nodes a and b of one hub (rooms r1 and r2).
func newTakeoverCluster(t *testing.T) (a, b *takeoverNode, records resume.Store) {
	t.Helper()
	client := testenv.Redis(t, rueidis.ClientOption{DisableCache: true})
	prefix := "hubd-test-" + newOwner() + ":"
	records = resume.NewRedis(client, prefix+"resume:")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "arena.json"), []byte(`[{"id":"r1"},{"id":"r2"}]`), 0o600))
	rooms, err := recs.NewEmbedded(dir)
	require.NoError(t, err)
	store, err := msgstore.OpenEmbedded(filepath.Join(t.TempDir(), "messages.db"), msgstore.EmbeddedOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	node := func() *takeoverNode {
		ad, err := sio.NewRedisAdapter(sio.RedisAdapterOptions{Client: client, Prefix: prefix + "sio:"})
		require.NoError(t, err)
		t.Cleanup(func() { _ = ad.Close() })
		n := &takeoverNode{m: metrics.NewUnregistered(), srv: sio.NewServer(sio.Options{Adapter: ad})}
		t.Cleanup(func() { _ = n.srv.Close(context.Background()) })
		n.socketEnv = newSocketEnv(t, func(d *Deps) {
			d.Resume, d.MaxDisconnection, d.Records, d.Store = records, time.Minute, rooms, store
			d.Node, d.Metrics = ad.NodeID(), n.m
		})
		require.NoError(t, n.srv.Attach(n.h.Namespace()))
		require.NoError(t, records.Beat(context.Background(), ad.NodeID(), time.Minute))
		require.Eventually(t, func() bool { return ad.Subscribed(n.h.Namespace().Name()) }, 5*time.Second, 10*time.Millisecond)
		return n
	}
	return node(), node(), records
}

// post stores a message of room stamped at stamp and delivers it to the
// room's readers on node n.
func (n *takeoverNode) post(t *testing.T, room, body string, stamp time.Time) *msgstore.Message {
	t.Helper()
	m, _, err := n.h.deps.Store.Append(context.Background(), &msgstore.Message{HubName: n.h.Name(), RoomID: room,
		SenderID: "u2", MessageType: "text", Content: json.RawMessage(`{"body":"` + body + `"}`),
		Status: msgstore.StatusPublished, Timestamp: stamp})
	require.NoError(t, err)
	require.Equal(t, stamp.UnixMilli(), m.Timestamp.UnixMilli(), "stamped in the same millisecond")
	n.h.deliverLocal(room, arrived(m))
	return m
}

// resumeWith is the auth of a reconnect with pid and, unless "", offset.
func resumeWith(pid, offset string) map[string]string {
	auth := map[string]string{"pid": pid}
	if offset != "" {
		auth["offset"] = offset
	}
	return auth
}

// replayed requires the next messages rc gets to be ms, each once, in
// order per room (rooms interleave freely).
func (rc *rawClient) replayed(ms []*msgstore.Message) {
	rc.t.Helper()
	want, got := map[string][]string{}, map[string][]string{}
	for _, m := range ms {
		want[m.RoomID] = append(want[m.RoomID], offsetOf(m))
	}
	for range ms {
		off := rc.nextOffset()
		o, ok := parseOffset(off)
		require.True(rc.t, ok, off)
		got[o.room] = append(got[o.room], off)
	}
	require.Equal(rc.t, want, got, "every message not received, once, in order per room")
}

// nextOffset reads the next hub:messageArrived and returns its offset.
func (rc *rawClient) nextOffset() string {
	rc.t.Helper()
	var off string
	require.NoError(rc.t, json.Unmarshal(rc.event("hub:messageArrived")[1], &off))
	return off
}

// The client's connection to node a drops unnoticed (a keeps the socket
// open and writes to it) and the client comes back through node b. b asks
// a to end the old socket, which writes its write log into the record,
// and recovers every room exactly: messages of two rooms stamped in one
// millisecond around the drop are each replayed once, in order.
func TestTakeoverRecoversExactlyOnAnotherNode(t *testing.T) {
	for _, c := range []struct {
		name     string
		lastSeen int // index in the written order of the last message the client received
	}{
		{"offset in the second room", 1},
		{"offset in the first room", 2},
		{"nothing received since the joins", -1},
	} {
		t.Run(c.name, func(t *testing.T) { testTakeoverExactly(t, c.lastSeen) })
	}
}

func testTakeoverExactly(t *testing.T, lastSeen int) {
	a, b, _ := newTakeoverCluster(t)
	u1, first := a.dialAs(t, "u1", nil)
	u1.join("1", "r1")
	u1.join("2", "r2")
	stamp := time.Now().Truncate(time.Millisecond)
	written := []*msgstore.Message{a.post(t, "r1", "a1", stamp), a.post(t, "r2", "b1", stamp),
		a.post(t, "r1", "a2", stamp), a.post(t, "r2", "b2", stamp)}
	var offset string
	for i, m := range written {
		args := u1.event("hub:messageArrived")
		require.JSONEq(t, `"`+offsetOf(m)+`"`, string(args[1]), "written in order")
		if i == lastSeen {
			offset = offsetOf(m)
		}
	}
	// Written by a to the socket it still holds; the client never gets them.
	missed := []*msgstore.Message{a.post(t, "r2", "b3", stamp), a.post(t, "r1", "a3", stamp)}
	require.Equal(t, 1, a.h.Namespace().SocketCount(), "a has not noticed the drop")

	back, again := b.dialAs(t, "u1", resumeWith(first["pid"], offset))
	require.Equal(t, first, again, "recovered on b")
	back.replayed(append(written[lastSeen+1:], missed...))
	next := b.post(t, "r1", "after", stamp)
	require.Equal(t, offsetOf(next), back.nextOffset(), "no message replayed twice")

	require.Eventually(t, func() bool { return b.count("recovered") == 1 }, 5*time.Second, 10*time.Millisecond, "an exact recovery")
	require.Zero(t, b.count("recovered_by_time"))
	require.Equal(t, 1.0, b.takeovers(takeoverEnded))
	require.Zero(t, a.h.Namespace().SocketCount(), "the old socket on a is gone")
	u1.read("41" + u1.nsp) // a told it (had it still been listening)
}

// Node a does not answer (cut off from the other nodes, its stamp still
// live): b waits at most takeoverWait, then recovers by time as before.
func TestTakeoverWithoutAnswerFallsBackToTime(t *testing.T) {
	a, b, _ := newTakeoverCluster(t)
	u1, first := a.dialAs(t, "u1", nil)
	u1.join("1", "r1")
	u1.join("2", "r2")
	m := a.post(t, "r1", "a1", time.Now())
	u1.event("hub:messageArrived")
	a.srv.Detach(a.h.Namespace())

	start := time.Now()
	_, again := b.dialAs(t, "u1", map[string]string{"pid": first["pid"], "offset": offsetOf(m)})
	waited := time.Since(start)
	require.Equal(t, first, again, "recovered on b all the same")
	require.Less(t, waited, b.h.deps.OpTimeout, "the wait is bounded by takeoverWait, not the CONNECT's timeout")
	require.Equal(t, 1.0, b.takeovers(takeoverNoAnswer))
	require.Eventually(t, func() bool { return b.count("recovered_by_time") == 1 }, 5*time.Second, 10*time.Millisecond)
	require.Zero(t, b.count("recovered"))
	require.Equal(t, 1, a.h.Namespace().SocketCount(), "a never heard of it: its socket waits for its ping timeout")
}

// Only the socket a record names is ended: another user presenting u1's
// pid is refused before any request, and a request whose owner token is
// not the socket's ends nothing.
func TestTakeoverEndsOnlyTheRecordsSocket(t *testing.T) {
	a, b, records := newTakeoverCluster(t)
	u1, first := a.dialAs(t, "u1", nil)
	u1.join("1", "r1")

	_, forged := b.dialAs(t, "u2", map[string]string{"pid": first["pid"]})
	require.NotEqual(t, first["pid"], forged["pid"], "a session of u2's own")
	require.Equal(t, 1.0, b.count("refused"))
	for _, r := range []string{takeoverEnded, takeoverGone, takeoverNoAnswer, takeoverUnsent} {
		require.Zero(t, b.takeovers(r), r)
	}

	rec, err := records.Get(context.Background(), a.h.Name(), first["pid"])
	require.NoError(t, err)
	for _, c := range []struct {
		name string
		edit func(*takeover)
	}{
		{"another owner token", func(t *takeover) { t.Owner = newOwner() }},
		{"another user", func(t *takeover) { t.User = "u2" }},
		{"another pid", func(t *takeover) { t.PID = newOwner() }},
	} {
		tk := &takeover{ID: "x", To: a.h.deps.Node, From: b.h.deps.Node, PID: rec.PID, SID: rec.SID, User: rec.UserID, Owner: rec.Owner}
		c.edit(tk)
		require.False(t, a.h.endSocket(tk), c.name)
	}
	require.Equal(t, 1, a.h.Namespace().SocketCount(), "u1's socket is still there")
	next := a.post(t, "r1", "still here", time.Now())
	require.Equal(t, offsetOf(next), u1.nextOffset())
}

// The node addressed no longer has the socket (it noticed the drop
// meanwhile and its disconnect is writing the record): it answers so, and
// the claiming node reads the record until the disconnect is in it.
func TestTakeoverOfASocketAlreadyGone(t *testing.T) {
	a, b, records := newTakeoverCluster(t)
	ctx := context.Background()
	rec := &resume.Record{PID: "pid-gone", SID: "sid-gone", Hub: a.h.Name(), UserID: "u1", Owner: "old",
		Node: a.h.deps.Node, Rooms: []resume.Room{{ID: "r1", JoinedAt: time.Now().Add(-time.Second).UnixMilli()}}}
	require.NoError(t, records.Put(ctx, rec, time.Minute))
	waiting := func() int {
		b.h.takeovers.mu.Lock()
		defer b.h.takeovers.mu.Unlock()
		return len(b.h.takeovers.waiting)
	}
	type dialed struct {
		rc    *rawClient
		reply map[string]string
	}
	done := make(chan dialed, 1)
	go func() {
		rc, reply := b.dialAs(t, "u1", map[string]string{"pid": rec.PID})
		done <- dialed{rc, reply}
	}()
	require.Eventually(t, func() bool { return waiting() == 1 }, 5*time.Second, time.Millisecond, "b asked a")
	ended := *rec
	ended.DisconnectedAt, ended.Logged = time.Now(), true
	require.NoError(t, records.Put(ctx, &ended, time.Minute))
	d := <-done
	require.Equal(t, rec.SID, d.reply["sid"], "recovered")
	require.Equal(t, 1.0, b.takeovers(takeoverGone))
	require.Eventually(t, func() bool { return b.count("recovered") == 1 }, 5*time.Second, 10*time.Millisecond,
		"exact from the record the disconnect wrote")
	require.Zero(t, waiting(), "nothing left waiting")
}
