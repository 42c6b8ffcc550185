package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/spec"
	"github.com/hubd/hubd/pkg/timerwheel"
)

// logicEnv is a hub running testdata/logic with an embedded store and a
// timer wheel the tests drive by hand.
type logicEnv struct {
	h     *Hub
	store *msgstore.Embedded
	wheel *timerwheel.Wheel
	eng   *scripting.Engine
}

func newLogicEnv(t testing.TB, opts scripting.Options) *logicEnv {
	t.Helper()
	return newLogicEnvFrom(t, "testdata/logic/hub.yaml", opts)
}

// newLogicEnvFrom is newLogicEnv with another hub spec (same lib).
func newLogicEnvFrom(t testing.TB, specFile string, opts scripting.Options) *logicEnv {
	t.Helper()
	hs, err := spec.LoadFile(specFile, spec.LoadOptions{CompileScript: func(src string) error {
		_, err := scripting.Compile(src)
		return err
	}})
	require.NoError(t, err)
	opts.LibDir = "testdata/logic/lib"
	eng, err := scripting.NewEngine(opts)
	require.NoError(t, err)
	t.Cleanup(eng.Close)
	def, err := NewDefinition(hs, eng)
	require.NoError(t, err)
	store, err := msgstore.OpenEmbedded(filepath.Join(t.TempDir(), "messages.db"), msgstore.EmbeddedOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	recs, err := records.NewEmbedded(t.TempDir())
	require.NoError(t, err)
	v, err := authz.NewVerifier(authz.VerifierConfig{HS256Secrets: []string{"logic-test-secret-0123456789abcdef"}})
	require.NoError(t, err)
	w := timerwheel.New(timerwheel.Options{Tick: time.Millisecond, Slots: 64})
	h := New(def, Deps{Store: store, Records: recs, Verifier: v, Wheel: w, OpTimeout: 5 * time.Second})
	t.Cleanup(func() { h.Close("test over") })
	return &logicEnv{h: h, store: store, wheel: w, eng: eng}
}

func (e *logicEnv) actor(roomID, userID string) *Actor {
	return &Actor{
		Session: &authz.Session{UserID: userID, Claims: map[string]any{"userId": userID, "roleId": "user"}},
		RoomID:  roomID, HubRole: "player",
		Permissions: authz.Permissions{CanRead: true, CanSend: true},
		Room:        records.Record{"id": roomID, "title": "Arena " + roomID},
	}
}

func (e *logicEnv) send(a *Actor, content string) (*msgstore.Message, error) {
	return e.h.Send(context.Background(), a, SendInput{MessageType: "cmd", Content: json.RawMessage(content)})
}

// stored lists the room's stored messages, oldest first.
func (e *logicEnv) stored(t testing.TB, roomID string) []*msgstore.Message {
	t.Helper()
	msgs, err := e.store.List(context.Background(), e.h.Name(), roomID, msgstore.Query{})
	require.NoError(t, err)
	return msgs
}

// addMember puts a member without sockets into the room, as a join does.
func (e *logicEnv) addMember(roomID, userID string) {
	e.h.mu.Lock()
	r := e.h.rooms[roomID]
	if r == nil {
		r = newRoom(roomID)
		e.h.rooms[roomID] = r
	}
	r.mu.Lock()
	r.members[userID] = &member{userID: userID, roomID: roomID, decision: &authz.Decision{}, sockets: nil}
	r.mu.Unlock()
	e.h.mu.Unlock()
}

// removeMember takes the member out again and drops an empty room.
func (e *logicEnv) removeMember(roomID, userID string) {
	e.h.mu.Lock()
	if r := e.h.rooms[roomID]; r != nil {
		r.mu.Lock()
		delete(r.members, userID)
		r.mu.Unlock()
		e.h.dropIfEmpty(r)
	}
	e.h.mu.Unlock()
}

// TestHandlerMessageVariable checks the members of a handler's message
// variable and their order (a script sees Object.keys in key order).
func TestHandlerMessageVariable(t *testing.T) {
	env := newLogicEnv(t, scripting.Options{})
	a := env.actor("keys", "u1")
	msg, err := env.send(a, `{"op":"keys"}`)
	require.NoError(t, err)
	require.Equal(t, "content,senderId,type|undefined", contentOf(t, msg)["arg"])
	msg, err = env.h.Send(context.Background(), a, SendInput{MessageType: "cmd", Content: json.RawMessage(`{"op":"keys"}`), ClientMessageID: "c1"})
	require.NoError(t, err)
	require.Equal(t, "clientMessageId,content,senderId,type|c1", contentOf(t, msg)["arg"])
}

func contentOf(t testing.TB, m *msgstore.Message) map[string]any {
	t.Helper()
	var c map[string]any
	require.NoError(t, json.Unmarshal(m.Content, &c))
	return c
}

func clientErr(t testing.TB, err error) *Error {
	t.Helper()
	require.Error(t, err)
	var ce *Error
	require.True(t, errors.As(err, &ce), "client error, got %T %v", err, err)
	return ce
}

func TestHandlerResultFields(t *testing.T) {
	env := newLogicEnv(t, scripting.Options{Runtimes: 2})
	type want struct {
		code       string // "" when accepted
		reason     string // rejectReason / error message
		persisted  bool   // the client's message is in the store
		content    map[string]any
		systemMsgs []string // contents of stored server messages (text or systemAction)
	}
	cases := []struct {
		name string
		op   string
		want want
	}{
		{"accept defaults: persisted", "accept", want{persisted: true, content: map[string]any{"op": "accept"}}},
		{"context variables", "echo", want{persisted: true, content: map[string]any{"op": "echo", "arg": "cmd|u1|u1|ROOM|Arena ROOM"}}},
		{"reject with reason, server message still sent", "reject", want{code: CodeRejected, reason: "nope", systemMsgs: []string{"rejected"}}},
		{"reject without reason", "rejectNoReason", want{code: CodeRejected, reason: defaultRejectReason}},
		{"modified content is validated and stored", "modify", want{persisted: true, content: map[string]any{"op": "modified", "num": float64(42)}}},
		{"invalid modified content", "modifyBad", want{code: CodeInvalidMessage, reason: "modified content is invalid"}},
		{"not persisted", "ephemeral", want{}},
		{"not broadcast but persisted", "silent", want{persisted: true, content: map[string]any{"op": "silent"}}},
		{"server messages with their own persist", "server", want{persisted: true, content: map[string]any{"op": "server"}, systemMsgs: []string{"first", "third"}}},
		{"server message of a disabled type", "badServerType", want{code: CodeRejected, reason: "message handler returned an invalid result"}},
		{"result not an object", "badResult", want{code: CodeRejected, reason: "message handler returned an invalid result"}},
		{"accept missing", "noAccept", want{code: CodeRejected, reason: "message handler returned an invalid result"}},
		{"unknown result field", "unknownKey", want{code: CodeRejected, reason: "message handler returned an invalid result"}},
		{"thrown error", "throw", want{code: CodeRejected, reason: "message handler failed"}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			room := fmt.Sprintf("room%d", i)
			a := env.actor(room, "u1")
			if tc.op == "echo" {
				a = env.actor("ROOM", "u1")
				room = "ROOM"
			}
			msg, err := env.send(a, `{"op":"`+tc.op+`"}`)
			if tc.want.code != "" {
				ce := clientErr(t, err)
				require.Equal(t, tc.want.code, ce.Code)
				require.Equal(t, tc.want.reason, ce.Message)
			} else {
				require.NoError(t, err)
				require.NotEmpty(t, msg.ID)
				require.Equal(t, "u1", msg.SenderID)
				require.False(t, msg.Timestamp.IsZero())
				if tc.want.persisted {
					require.Positive(t, msg.Seq)
					require.Equal(t, tc.want.content, contentOf(t, msg))
				} else {
					require.Zero(t, msg.Seq, "an unpersisted message has no sequence number")
				}
			}
			var own, system []string
			for _, m := range env.stored(t, room) {
				c := contentOf(t, m)
				switch m.SenderID {
				case "u1":
					own = append(own, m.ID)
					require.Equal(t, tc.want.content, c)
				case SystemSender:
					if s, ok := c["systemAction"].(string); ok {
						system = append(system, s)
					} else {
						system = append(system, c["text"].(string))
					}
				}
			}
			if tc.want.persisted {
				require.Equal(t, []string{msg.ID}, own)
			} else {
				require.Empty(t, own)
			}
			require.Equal(t, tc.want.systemMsgs, system)
		})
	}
}

func TestParseResult(t *testing.T) {
	hs, err := spec.LoadFile("testdata/logic/hub.yaml", spec.LoadOptions{})
	require.NoError(t, err)
	cases := []struct {
		name    string
		in      any
		handler bool
		want    *handlerResult
		wantErr string
	}{
		{"defaults", map[string]any{"accept": true}, true,
			&handlerResult{accept: true, rejectReason: defaultRejectReason, broadcast: true, persist: true, to: target{kind: toAll}}, ""},
		{"every field", map[string]any{
			"accept": false, "rejectReason": "why", "broadcast": false, "broadcastTo": []any{"a", "b"},
			"persist": false, "modifiedContent": map[string]any{"op": "x"},
			"serverMessages": []any{map[string]any{"type": "note", "content": map[string]any{"text": "t"}, "to": "sender", "persist": false}},
		}, true, &handlerResult{
			rejectReason: "why", to: target{kind: toUsers, users: []string{"a", "b"}}, modified: json.RawMessage(`{"op":"x"}`),
			server: []*serverMessage{{typ: "note", content: json.RawMessage(`{"text":"t"}`), to: target{kind: toSender}}},
		}, ""},
		{"scheduled: null is nothing", nil, false, &handlerResult{broadcast: true, persist: true, to: target{kind: toAll}}, ""},
		{"scheduled: accept is not a field", map[string]any{"accept": true}, false, nil, `result: unknown field "accept"`},
		{"handler: null", nil, true, nil, "result: must be an object, got null"},
		{"accept not boolean", map[string]any{"accept": "yes"}, true, nil, "result.accept: must be true or false"},
		{"bad target", map[string]any{"accept": true, "broadcastTo": "everyone"}, true, nil, `result.broadcastTo: must be "all", "others", "sender" or an array of user ids, got "everyone"`},
		{"bad user id", map[string]any{"accept": true, "broadcastTo": []any{"a", int64(3)}}, true, nil, "result.broadcastTo[1]: must be a user id string"},
		{"modifiedContent array", map[string]any{"accept": true, "modifiedContent": []any{}}, true, nil, "result.modifiedContent: must be an object, got array"},
		{"serverMessages object", map[string]any{"serverMessages": map[string]any{}}, false, nil, "result.serverMessages: must be an array, got object"},
		{"server message without type", map[string]any{"serverMessages": []any{map[string]any{"content": map[string]any{}}}}, false, nil, "result.serverMessages[0].type: required"},
		{"server message of a disabled type", map[string]any{"serverMessages": []any{map[string]any{"type": "image", "content": map[string]any{}}}}, false, nil, `result.serverMessages[0].type: message type "image" is not enabled in this hub`},
		{"server message content invalid", map[string]any{"serverMessages": []any{map[string]any{"type": "note", "content": map[string]any{"text": 1}}}}, false, nil, "result.serverMessages[0].content: text"},
		{"server message unknown field", map[string]any{"serverMessages": []any{map[string]any{"type": "note", "content": map[string]any{"text": "x"}, "persistent": true}}}, false, nil, `result.serverMessages[0]: unknown field "persistent"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseResult(tc.in, hs, tc.handler)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, *tc.want, got)
		})
	}
}

func TestHandlerRunawayIsInterruptedOtherRoomsContinue(t *testing.T) {
	const runtimes = 4
	env := newLogicEnv(t, scripting.Options{Runtimes: runtimes, CallTimeout: 500 * time.Millisecond})
	// A room that lands on another runtime than the runaway one (the
	// engine picks runtimes by FNV-1a of the room id).
	slot := func(id string) uint32 { h := fnv.New32a(); _, _ = h.Write([]byte(id)); return h.Sum32() % runtimes }
	other := ""
	for i := 0; other == ""; i++ {
		if id := fmt.Sprintf("calm%d", i); slot(id) != slot("runaway") {
			other = id
		}
	}
	// Both rooms' runtimes are built before the race starts (a runtime is
	// built at its first call, which is slow under -race on a loaded machine).
	for _, room := range []string{"runaway", other} {
		_, err := env.send(env.actor(room, "u0"), `{"op":"accept"}`)
		require.NoError(t, err)
	}
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := env.send(env.actor("runaway", "u1"), `{"op":"loop"}`)
		done <- err
	}()
	// While the runaway handler spins, the other room is served.
	for i := 0; i < 5; i++ {
		_, err := env.send(env.actor(other, "u2"), `{"op":"accept"}`)
		require.NoError(t, err)
	}
	select {
	case err := <-done:
		t.Fatalf("the runaway call ended (%v) before the other room was served", err)
	default:
	}
	err := <-done
	elapsed := time.Since(start)
	ce := clientErr(t, err)
	require.Equal(t, CodeRejected, ce.Code)
	require.Equal(t, "message handler timed out", ce.Message)
	require.ErrorIs(t, err, scripting.ErrTimeout)
	require.GreaterOrEqual(t, elapsed, 500*time.Millisecond)
	require.Less(t, elapsed, 2*time.Second, "stopped at its deadline")
	require.Len(t, env.stored(t, "runaway"), 1, "only the warm-up message; the runaway stored nothing")
	// The runtime and the room keep working.
	_, err = env.send(env.actor("runaway", "u1"), `{"op":"accept"}`)
	require.NoError(t, err)
}

// panicKV panics on every call, as a broken host backend would.
type panicKV struct{ scripting.KV }

func (panicKV) Get(context.Context, string) ([]byte, bool, error) { panic("kv backend exploded") }

func TestHandlerHostPanicRejects(t *testing.T) {
	env := newLogicEnv(t, scripting.Options{Runtimes: 1, KV: panicKV{scripting.NewMemoryKV()}})
	_, err := env.send(env.actor("r", "u1"), `{"op":"panic"}`)
	ce := clientErr(t, err)
	require.Equal(t, CodeRejected, ce.Code)
	require.Equal(t, map[string]string{"reason": scripting.KindPanic}, ce.Details)
	require.Empty(t, env.stored(t, "r"))
	_, err = env.send(env.actor("r", "u1"), `{"op":"accept"}`)
	require.NoError(t, err, "the engine recovers")
}

func TestHandlersOfOneRoomRunInOrder(t *testing.T) {
	env := newLogicEnv(t, scripting.Options{Runtimes: 2})
	const senders, perSender = 8, 25
	rooms := []string{"orderA", "orderB"}
	var wg sync.WaitGroup
	errs := make(chan error, senders*perSender*len(rooms))
	for _, room := range rooms {
		for s := 0; s < senders; s++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := env.actor(room, fmt.Sprintf("u%d", s))
				for i := 0; i < perSender; i++ {
					_, err := env.send(a, fmt.Sprintf(`{"op":"count","arg":"%d"}`, i))
					if err != nil {
						errs <- err
					}
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for _, room := range rooms {
		msgs := env.stored(t, room)
		require.Len(t, msgs, senders*perSender)
		last := map[string]int{}
		for i, m := range msgs {
			c := contentOf(t, m)
			// The order the handler saw is the order of the stored messages.
			require.EqualValues(t, i+1, c["num"], "%s message %d", room, i)
			require.EqualValues(t, i+1, m.Seq)
			// Each sender's messages keep their order.
			var k int
			_, err := fmt.Sscan(c["arg"].(string), &k)
			require.NoError(t, err)
			if prev, ok := last[m.SenderID]; ok {
				require.Greater(t, k, prev, "sender %s", m.SenderID)
			}
			last[m.SenderID] = k
		}
	}
}

func TestRoomQueue(t *testing.T) {
	var l logicState
	ctx := context.Background()
	relA, err := l.acquire(ctx, "a")
	require.NoError(t, err)
	// Another room is not held up.
	relB, err := l.acquire(ctx, "b")
	require.NoError(t, err)
	relB()

	// Waiters get the room in the order they asked.
	var mu sync.Mutex
	var order []int
	var wg sync.WaitGroup
	for i := 0; i < 5; i++ {
		wg.Add(1)
		queued := make(chan struct{})
		go func() {
			defer wg.Done()
			go func() {
				// Signal once this waiter is in the queue.
				require.Eventually(t, func() bool {
					l.mu.Lock()
					defer l.mu.Unlock()
					return len(l.queues["a"].waiters) == i+1
				}, 5*time.Second, time.Millisecond)
				close(queued)
			}()
			rel, err := l.acquire(ctx, "a")
			if err != nil {
				return
			}
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			rel()
		}()
		<-queued
	}
	// A waiter whose context ends leaves the queue.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = l.acquire(cctx, "a")
	require.ErrorIs(t, err, context.Canceled)

	relA()
	wg.Wait()
	require.Equal(t, []int{0, 1, 2, 3, 4}, order)
	l.mu.Lock()
	defer l.mu.Unlock()
	require.Empty(t, l.queues, "idle queues are dropped")
}

func TestHandledMessageOfModeratedSenderIsPending(t *testing.T) {
	env := newLogicEnv(t, scripting.Options{Runtimes: 1})
	for _, op := range []string{"accept", "ephemeral"} {
		room := "moderated-" + op
		a := env.actor(room, "u1")
		a.Permissions.Moderated = true
		msg, err := env.send(a, `{"op":"`+op+`"}`)
		require.NoError(t, err)
		require.Equal(t, msgstore.StatusPending, msg.Status)
		require.Positive(t, msg.Seq, "%s: a pending message is stored for moderation", op)
		stored := env.stored(t, room)
		require.Len(t, stored, 1)
		require.Equal(t, msgstore.StatusPending, stored[0].Status)
	}
}

func TestRepeatedClientMessageIDDoesNotRunTheHandlerAgain(t *testing.T) {
	env := newLogicEnv(t, scripting.Options{Runtimes: 2})
	ctx := context.Background()
	send := func(a *Actor, cmid, content string) (*msgstore.Message, error) {
		return env.h.Send(ctx, a, SendInput{MessageType: "cmd", ClientMessageID: cmid, Content: json.RawMessage(content)})
	}
	num := func(m *msgstore.Message) float64 { return contentOf(t, m)["num"].(float64) }

	t.Run("sequential repeat returns the stored message", func(t *testing.T) {
		a := env.actor("seq", "u1")
		first, err := send(a, "c1", `{"op":"count","arg":"first"}`)
		require.NoError(t, err)
		require.Equal(t, float64(1), num(first))
		again, err := send(a, "c1", `{"op":"count","arg":"second"}`)
		require.NoError(t, err)
		require.Equal(t, first, again, "the original, not a second handler result")
		other, err := send(env.actor("seq", "u2"), "c1", `{"op":"count"}`)
		require.NoError(t, err)
		require.Equal(t, float64(2), num(other), "another sender's id is its own; the handler ran once for c1")
		require.Len(t, env.stored(t, "seq"), 2)
	})
	t.Run("concurrent repeats run the handler once", func(t *testing.T) {
		a := env.actor("conc", "u1")
		const n = 8
		got := make([]*msgstore.Message, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				m, err := send(a, "same", `{"op":"count"}`)
				require.NoError(t, err)
				got[i] = m
			}()
		}
		wg.Wait()
		for _, m := range got {
			require.Equal(t, got[0], m)
		}
		require.Equal(t, float64(1), num(got[0]))
		next, err := send(a, "next", `{"op":"count"}`)
		require.NoError(t, err)
		require.Equal(t, float64(2), num(next))
		require.Len(t, env.stored(t, "conc"), 2)
	})
	t.Run("nothing stored: the handler runs again", func(t *testing.T) {
		tests := []struct {
			name, op string
		}{
			{"rejected", "reject"},
			{"not persisted", "ephemeral"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				a := env.actor("again-"+tc.op, "u1")
				first, err1 := send(a, "c", `{"op":"`+tc.op+`"}`)
				second, err2 := send(a, "c", `{"op":"`+tc.op+`"}`)
				if tc.op == "reject" {
					require.Equal(t, CodeRejected, clientErr(t, err1).Code)
					require.Equal(t, CodeRejected, clientErr(t, err2).Code)
					require.Len(t, env.stored(t, a.RoomID), 2, "each run stored its server message")
					return
				}
				require.NoError(t, err1)
				require.NoError(t, err2)
				require.NotEqual(t, first.ID, second.ID, "a new id: the handler ran again")
			})
		}
	})
}
