package sio

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// connectReplyOf connects nsp and returns the CONNECT reply's payload.
func connectReplyOf(t *testing.T, c *wsClient, nsp, auth string) map[string]string {
	t.Helper()
	c.send("40" + nsp + "," + auth)
	reply := c.readText()
	prefix := "40" + nsp + ","
	require.Greater(t, len(reply), len(prefix), reply)
	require.Equal(t, prefix, reply[:len(prefix)], reply)
	var out map[string]string
	require.NoError(t, json.Unmarshal([]byte(reply[len(prefix):]), &out))
	return out
}

func TestRecoveryConnectReplyAndResume(t *testing.T) {
	s, base := startServer(t, Options{})
	ns := s.Of("/chat")
	ns.OnConnect(func(so *Socket, auth json.RawMessage) error {
		var a struct{ PID, Offset string }
		_ = json.Unmarshal(auth, &a)
		if a.PID == "the-pid" {
			so.Resume("old-sid", a.PID)
		}
		return nil
	})

	off := dialWS(t, base, "")
	off.readText()
	reply := connectReplyOf(t, off, "/chat", `{}`)
	require.NotContains(t, reply, "pid", "recovery off: no pid")

	ns.SetRecovery(true)
	fresh := dialWS(t, base, "")
	fresh.readText()
	reply = connectReplyOf(t, fresh, "/chat", `{}`)
	require.Len(t, reply["pid"], 20)
	require.NotEqual(t, reply["sid"], reply["pid"])

	back := dialWS(t, base, "")
	back.readText()
	reply = connectReplyOf(t, back, "/chat", `{"pid":"the-pid","offset":"1"}`)
	require.Equal(t, map[string]string{"sid": "old-sid", "pid": "the-pid"}, reply)
	require.Equal(t, 1, ns.RoomSize("old-sid"), "the resumed sid is the socket's own room")
	var resumed *Socket
	for _, so := range ns.Sockets() {
		if so.ID() == "old-sid" {
			resumed = so
		}
	}
	require.NotNil(t, resumed)
	require.True(t, resumed.Recovered())
	require.Equal(t, "the-pid", resumed.PID())
}

// recoveryClient connects a client to /chat with recovery on, its socket
// in rooms.
func recoveryClient(t *testing.T, opts Options, rooms ...string) (*Namespace, *wsClient, *Socket) {
	t.Helper()
	s, base := startServer(t, opts)
	ns := s.Of("/chat")
	ns.SetRecovery(true)
	c := dialWS(t, base, "")
	c.readText()
	sid := connectReplyOf(t, c, "/chat", `{}`)["sid"]
	sock := ns.SocketsIn(sid)[0]
	for _, r := range rooms {
		sock.Join(r)
	}
	return ns, c, sock
}

func TestRecoveryOffsetsAndGate(t *testing.T) {
	ns, c, sock := recoveryClient(t, Options{}, "room")

	require.NoError(t, ns.To("room").Local().Offset("7").Emit("m", 1))
	require.Equal(t, `42/chat,["m",1,"7"]`, c.readText(), "offset appended as the last argument")
	require.NoError(t, ns.To("room").Emit("plain", 1))
	require.Equal(t, `42/chat,["plain",1]`, c.readText(), "no offset, nothing appended")

	var seen []string
	sock.SetOffsetGate(func(off string, key any, replay bool) bool {
		seen = append(seen, fmt.Sprintf("%s %v %v", off, key, replay))
		return off != "8" || replay
	})
	require.NoError(t, ns.To("room").Local().Offset("8").Emit("m", 2))
	require.NoError(t, sock.EmitOffset("8", "m", 2))
	require.NoError(t, sock.EmitOffset("9", "m", 3))
	require.Equal(t, `42/chat,["m",3,"9"]`, c.readText(), "the gate held back offset 8 on both paths")
	require.NoError(t, sock.ReplayOffset("8", "m", 2))
	require.Equal(t, `42/chat,["m",2,"8"]`, c.readText(), "a replay the gate lets through")
	require.NoError(t, ns.To("room").Local().OffsetKey("11", "key of 11").Emit("m", 5))
	require.Equal(t, `42/chat,["m",5,"11"]`, c.readText(), "a keyed offset goes on the wire as its text")
	require.Equal(t, []string{"8 <nil> false", "8 <nil> false", "9 <nil> false", "8 <nil> true", "11 key of 11 false"}, seen,
		"the gate sees every offset event, in order, with the broadcast's key")

	ns.SetRecovery(false)
	require.NoError(t, ns.To("room").Local().Offset("10").Emit("m", 4))
	require.Equal(t, `42/chat,["m",4]`, c.readText(), "recovery off: no offset on the wire")
}

// Broadcasts to two rooms from two goroutines: the gate sees the socket's
// offsets in the order the client receives them.
func TestRecoveryGateSeesQueueOrder(t *testing.T) {
	ns, c, sock := recoveryClient(t, Options{WriteQueueSize: 4096}, "a", "b")
	var seen []string // guarded by the socket's gate serialization
	sock.SetOffsetGate(func(off string, _ any, _ bool) bool {
		seen = append(seen, off)
		return true
	})
	const n = 300
	var wg sync.WaitGroup
	for _, room := range []string{"a", "b"} {
		wg.Go(func() {
			for i := range n {
				_ = ns.To(room).Local().Offset(fmt.Sprintf("%s%d", room, i)).Emit("m", i)
			}
		})
	}
	got := make([]string, 0, 2*n)
	for len(got) < 2*n {
		var args []any
		raw := c.readText()
		require.NoError(t, json.Unmarshal([]byte(raw[len("42/chat,"):]), &args), raw)
		got = append(got, args[len(args)-1].(string))
	}
	wg.Wait()
	require.Equal(t, got, seen)
}
