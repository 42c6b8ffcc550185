package sio

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// argsProbe is a namespace /x with one socket on a connection without a
// transport, whose handlers record the events they are handed.
type argsProbe struct {
	s      *Server
	ns     *Namespace
	conn   *EngineConn
	events []*Event
}

func newArgsProbe(t testing.TB) *argsProbe {
	p := &argsProbe{s: NewServer(Options{})}
	p.ns = p.s.Of("/x")
	p.ns.OnEvent(func(_ *Socket, ev *Event) { p.events = append(p.events, ev) })
	p.ns.OnServerSideEvent(func(ev *Event) { p.events = append(p.events, ev) })
	p.conn = fakeSockets(t, p.s, p.ns, 1, "r")[0]
	return p
}

// message hands the connection one Socket.IO message, as both transports
// do (Server.OnMessage), then atts binary attachments.
func (p *argsProbe) message(data []byte, atts int) {
	if p.s.OnMessage(p.conn, data, false) != nil {
		return
	}
	for i := 0; i < atts; i++ {
		if p.s.OnMessage(p.conn, []byte{byte(i)}, true) != nil {
			return
		}
	}
}

// invalidArg returns the first argument of the recorded events that
// json.Valid refuses.
func (p *argsProbe) invalidArg() (json.RawMessage, bool) {
	for _, ev := range p.events {
		for _, a := range ev.Args {
			if !json.Valid(a) {
				return a, true
			}
		}
	}
	return nil, false
}

// Every Event the server hands a handler has valid JSON arguments, from a
// client (text or binary packet) or from another node: handlers (the hub's
// decoders) skip json.Valid on them.
func FuzzEventArgsAreValidJSON(f *testing.F) {
	for _, s := range sioSeeds {
		f.Add([]byte(s), uint8(0))
	}
	for _, s := range []string{`["e",{"a":1},"b",[null]]`, `["e",{"a":`, `["e",{"a":1}}`, `["e","\xff"]`, `["e",{"_placeholder":true,"num":0}]`, `["e" , 1 ]`, `["e",tru]`, `["e"]x`} {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(1))
	}
	f.Fuzz(func(t *testing.T, data []byte, atts uint8) {
		p := newArgsProbe(t)
		n := int(atts % 3)
		p.message(data, n) // as sent: header and all
		header := "2/x,7"
		if n > 0 {
			header = "5" + strconv.Itoa(n) + "-/x,7"
		}
		p.message(append([]byte(header), data...), n)
		p.ns.deliverServerSide(&BroadcastMessage{Namespace: "/x", Data: data, ServerSide: true})
		if a, bad := p.invalidArg(); bad {
			t.Fatalf("an event argument is not valid JSON: %q (from %q)", a, data)
		}
	})
}

// The paths of FuzzEventArgsAreValidJSON do hand events over: valid ones
// with their arguments, invalid ones not at all.
func TestEventArgsPathsDeliver(t *testing.T) {
	tests := []struct {
		name    string
		run     func(p *argsProbe)
		args    []string // nil: no event
		binary  bool
		fromSrv bool
	}{
		{name: "event", run: func(p *argsProbe) { p.message([]byte(`2/x,7["e",{"a":1}, "b"]`), 0) }, args: []string{`{"a":1}`, `"b"`}},
		{name: "invalid event", run: func(p *argsProbe) { p.message([]byte(`2/x,7["e",{"a":1]`), 0) }},
		{name: "binary event", run: func(p *argsProbe) { p.message([]byte(`51-/x,7["e",{"_placeholder":true,"num":0}]`), 1) },
			args: []string{`{"_placeholder":true,"num":0}`}, binary: true},
		{name: "invalid binary event", run: func(p *argsProbe) { p.message([]byte(`51-/x,7["e",{"_placeholder":true,"num":0}`), 1) }},
		{name: "server-side event", run: func(p *argsProbe) {
			p.ns.deliverServerSide(&BroadcastMessage{Namespace: "/x", Data: []byte(`["e",[1,2]]`), ServerSide: true})
		}, args: []string{`[1,2]`}, fromSrv: true},
		{name: "invalid server-side event", run: func(p *argsProbe) {
			p.ns.deliverServerSide(&BroadcastMessage{Namespace: "/x", Data: []byte(`["e",[1,2]`), ServerSide: true})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newArgsProbe(t)
			tc.run(p)
			if tc.args == nil {
				require.Empty(t, p.events)
				return
			}
			require.Len(t, p.events, 1)
			ev := p.events[0]
			require.Equal(t, "e", ev.Name)
			var got []string
			for _, a := range ev.Args {
				got = append(got, string(a))
			}
			require.Equal(t, tc.args, got)
			require.Equal(t, tc.binary, len(ev.Attachments) > 0)
			require.Equal(t, tc.fromSrv, ev.Socket() == nil)
		})
	}
}

// keepHandler keeps the messages it gets, as Server does with their
// arguments.
type keepHandler struct{ kept [][]byte }

func (k *keepHandler) OnOpen(*EngineConn) {}
func (k *keepHandler) OnMessage(_ *EngineConn, data []byte, _ bool) error {
	k.kept = append(k.kept, data)
	return nil
}
func (k *keepHandler) OnClose(*EngineConn, string) {}

// A polling body's packets share its buffer: each message handed to the
// handler is a copy of its own (OnMessage's promise), which the body's
// reuse cannot change and which keeps no more of the body.
func TestPollingMessagesAreTheirOwn(t *testing.T) {
	k := &keepHandler{}
	e := NewEngine(Options{}, k)
	req, _ := http.NewRequest("GET", "/socket.io/", nil)
	c := e.newConn(req, "polling")
	body := []byte("42[\"a\",1]\x1e42[\"b\",2]\x1ebAQID\x1e3")
	require.NoError(t, DecodePayload(body, c.handleOwnPacket))
	require.Len(t, k.kept, 3)
	for i := range body {
		body[i] = 'x'
	}
	require.Equal(t, `2["a",1]`, string(k.kept[0]))
	require.Equal(t, `2["b",2]`, string(k.kept[1]))
	require.Equal(t, []byte{1, 2, 3}, k.kept[2])
}
