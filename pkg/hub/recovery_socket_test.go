package hub

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
	recs "github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/resume"
)

// rawClient is a Socket.IO client on the wire, enough for recovery tests.
type rawClient struct {
	t   *testing.T
	c   *websocket.Conn
	nsp string
}

// dialAs connects as userID with extra auth fields and returns the client
// and its CONNECT reply {sid, pid}.
func (e *socketEnv) dialAs(t *testing.T, userID string, extra map[string]string) (*rawClient, map[string]string) {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"userId": userID, "roleId": "user", "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(socketTestSecret))
	require.NoError(t, err)
	c, _, err := websocket.DefaultDialer.Dial(e.url, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	rc := &rawClient{t: t, c: c, nsp: e.h.Namespace().Name()}
	rc.read("0{")
	auth := map[string]string{"token": tok}
	for k, v := range extra {
		auth[k] = v
	}
	b, _ := json.Marshal(auth)
	rc.send("40" + rc.nsp + "," + string(b))
	var reply map[string]string
	require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(rc.read("40"+rc.nsp+","), "40"+rc.nsp+",")), &reply))
	return rc, reply
}

func (rc *rawClient) send(s string) {
	require.NoError(rc.t, rc.c.WriteMessage(websocket.TextMessage, []byte(s)))
}

// read returns the next text message starting with prefix.
func (rc *rawClient) read(prefix string) string {
	rc.t.Helper()
	for {
		_ = rc.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := rc.c.ReadMessage()
		require.NoError(rc.t, err)
		if strings.HasPrefix(string(b), prefix) {
			return string(b)
		}
	}
}

// event reads the next event named name and returns its arguments.
func (rc *rawClient) event(name string) []json.RawMessage {
	rc.t.Helper()
	raw := strings.TrimPrefix(rc.read("42"+rc.nsp+`,["`+name+`"`), "42"+rc.nsp+",")
	var args []json.RawMessage
	require.NoError(rc.t, json.Unmarshal([]byte(raw), &args))
	return args[1:]
}

// boltRecords opens session records in a file of the test.
func boltRecords(t *testing.T) *resume.Bolt {
	t.Helper()
	records, err := resume.OpenBolt(filepath.Join(t.TempDir(), "sessions.db"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = records.Close() })
	return records
}

// join joins room with ack id and requires it to succeed.
func (rc *rawClient) join(id, room string) {
	rc.t.Helper()
	rc.send("42" + rc.nsp + "," + id + `["hub:join",{"roomId":"` + room + `"}]`)
	require.Contains(rc.t, rc.read("43"+rc.nsp+","+id), `"ok":true`)
}

// drop closes the client's connection and waits for its session record
// to have a disconnect time.
func (rc *rawClient) drop(records resume.Store, hub, pid string) *resume.Record {
	rc.t.Helper()
	require.NoError(rc.t, rc.c.Close())
	var rec *resume.Record
	require.Eventually(rc.t, func() bool {
		r, err := records.Get(context.Background(), hub, pid)
		rec = r
		return err == nil && !r.DisconnectedAt.IsZero()
	}, 5*time.Second, 10*time.Millisecond, "the disconnect is in the session record")
	return rec
}

func TestRecoveredSessionIsTheUsersOwn(t *testing.T) {
	records := boltRecords(t)
	e := newSocketEnv(t, func(d *Deps) { d.Resume, d.MaxDisconnection = records, time.Minute })
	ctx := context.Background()

	u1, first := e.dialAs(t, "u1", nil)
	require.NotEmpty(t, first["pid"], "the CONNECT reply carries a pid")
	u1.send("42" + u1.nsp + `,1["hub:join",{"roomId":"r1"}]`)
	require.Contains(t, u1.read("43"+u1.nsp+",1"), `"ok":true`)
	require.Eventually(t, func() bool {
		rec, err := records.Get(ctx, e.h.Name(), first["pid"])
		return err == nil && len(rec.Rooms) == 1 && rec.UserID == "u1"
	}, 5*time.Second, 10*time.Millisecond, "the join is in the session record")

	// Another user presenting u1's pid gets a session of their own.
	u2, forged := e.dialAs(t, "u2", map[string]string{"pid": first["pid"], "offset": "1.1.r1"})
	require.NotEqual(t, first["sid"], forged["sid"])
	require.NotEqual(t, first["pid"], forged["pid"])
	u2.send("42" + u2.nsp + `,2["hub:leave",{"roomId":"r1"}]`)
	require.Contains(t, u2.read("43"+u2.nsp+",2"), `"NOT_JOINED"`, "u2 got none of u1's rooms")

	require.NoError(t, u1.c.Close())
	require.Eventually(t, func() bool {
		rec, err := records.Get(ctx, e.h.Name(), first["pid"])
		return err == nil && !rec.DisconnectedAt.IsZero()
	}, 5*time.Second, 10*time.Millisecond, "the disconnect is in the session record")

	// Missed meanwhile: one message for everyone, one for u2 only.
	public := &msgstore.Message{HubName: e.h.Name(), RoomID: "r1", SenderID: "u2", MessageType: "text",
		Content: json.RawMessage(`{"body":"for all"}`), Status: msgstore.StatusPublished}
	private := &msgstore.Message{HubName: e.h.Name(), RoomID: "r1", SenderID: "u2", MessageType: "text",
		Content: json.RawMessage(`{"body":"for u2"}`), Status: msgstore.StatusPublished,
		Audience: &msgstore.Audience{Users: []string{"u2"}}}
	stored, _, err := e.h.deps.Store.Append(ctx, public)
	require.NoError(t, err)
	_, _, err = e.h.deps.Store.Append(ctx, private)
	require.NoError(t, err)
	last := &msgstore.Message{HubName: e.h.Name(), RoomID: "r1", SenderID: "u2", MessageType: "text",
		Content: json.RawMessage(`{"body":"last"}`), Status: msgstore.StatusPublished}
	last, _, err = e.h.deps.Store.Append(ctx, last)
	require.NoError(t, err)

	back, again := e.dialAs(t, "u1", map[string]string{"pid": first["pid"]})
	require.Equal(t, first, again, "same sid and pid")
	args := back.event("hub:messageArrived")
	require.Len(t, args, 2, "payload and offset")
	require.Contains(t, string(args[0]), `"for all"`)
	require.JSONEq(t, `"`+offsetOf(stored)+`"`, string(args[1]))
	args = back.event("hub:messageArrived")
	require.Contains(t, string(args[0]), `"last"`, "the message for u2 only is not replayed")
	require.JSONEq(t, `"`+offsetOf(last)+`"`, string(args[1]))
	back.send("42" + back.nsp + `,3["hub:leave",{"roomId":"r1"}]`)
	require.Contains(t, back.read("43"+back.nsp+",3"), `"ok":true`, "back in r1 without hub:join")
}

func TestRecoveredRoomIsCheckedAgain(t *testing.T) {
	records := boltRecords(t)
	dir := t.TempDir()
	writeRooms := func(body string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, "arena.json"), []byte(body), 0o600))
	}
	writeRooms(`[{"id":"r1"}]`)
	rooms, err := recs.NewEmbedded(dir)
	require.NoError(t, err)
	e := newSocketEnv(t, func(d *Deps) { d.Resume, d.MaxDisconnection, d.Records = records, time.Minute, rooms })

	u1, first := e.dialAs(t, "u1", nil)
	u1.join("1", "r1")
	require.Len(t, u1.drop(records, e.h.Name(), first["pid"]).Rooms, 1)

	writeRooms(`[{"id":"r2"}]`) // r1 is gone: joining it fails now
	require.NoError(t, rooms.Reload())
	back, again := e.dialAs(t, "u1", map[string]string{"pid": first["pid"]})
	require.Equal(t, first, again, "the session is recovered")
	args := back.event("hub:error")
	var herr map[string]string
	require.NoError(t, json.Unmarshal(args[0], &herr))
	require.Equal(t, "r1", herr["roomId"])
	require.Equal(t, "hub:join", herr["event"])
	require.NotEmpty(t, herr["code"])
	back.send("42" + back.nsp + `,2["hub:leave",{"roomId":"r1"}]`)
	require.Contains(t, back.read("43"+back.nsp+",2"), `"NOT_JOINED"`, "not in the room it may no longer join")
}

// A stored custom event missed while away is replayed under its own name
// (with its messageId, seq and offset), in order with the messages.
func TestRecoverStoredCustomEvents(t *testing.T) {
	records := boltRecords(t)
	e := newSocketEnv(t, func(d *Deps) { d.Resume, d.MaxDisconnection = records, time.Minute })
	ctx := context.Background()
	u1, first := e.dialAs(t, "u1", nil)
	u1.join("1", "r1")
	u1.drop(records, e.h.Name(), first["pid"])

	ev, err := e.h.customEvent(ctx, e.h.persistedEvent("pinned"), eventInput{roomID: "r1", senderID: "u2", data: json.RawMessage(`{"pin":1}`)})
	require.NoError(t, err)
	msg, _, err := e.h.deps.Store.Append(ctx, &msgstore.Message{HubName: e.h.Name(), RoomID: "r1", SenderID: "u2",
		MessageType: "text", Content: json.RawMessage(`{"body":"after the pin"}`), Status: msgstore.StatusPublished})
	require.NoError(t, err)

	back, again := e.dialAs(t, "u1", map[string]string{"pid": first["pid"]})
	require.Equal(t, first, again)
	raw := strings.TrimPrefix(back.read("42"+back.nsp+","), "42"+back.nsp+",")
	var args []json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(raw), &args))
	require.Len(t, args, 3, "name, payload, offset")
	require.JSONEq(t, `"pinned"`, string(args[0]), "replayed as the event it was")
	var payload struct {
		RoomID, UserID, MessageID string
		Seq                       int64
		Data                      json.RawMessage
	}
	require.NoError(t, json.Unmarshal(args[1], &payload))
	require.Equal(t, "r1", payload.RoomID)
	require.Equal(t, "u2", payload.UserID)
	require.Equal(t, ev.ID, payload.MessageID)
	require.Equal(t, ev.Seq, payload.Seq)
	require.JSONEq(t, `{"pin":1}`, string(payload.Data))
	require.JSONEq(t, `"`+offsetOf(ev)+`"`, string(args[2]))
	next := back.event("hub:messageArrived")
	require.JSONEq(t, `"`+offsetOf(msg)+`"`, string(next[1]), "then the message after it")
}
