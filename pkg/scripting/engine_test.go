package scripting

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/hubd/hubd/internal/testenv"
)

func newEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	e, err := NewEngine(opts)
	require.NoError(t, err)
	t.Cleanup(e.Close)
	return e
}

func requireKind(t testing.TB, err error, kind string) *ScriptError {
	t.Helper()
	require.Error(t, err)
	var se *ScriptError
	require.True(t, errors.As(err, &se), "error %T (%v) is not a *ScriptError", err, err)
	require.Equal(t, kind, se.Kind, "error: %v", err)
	return se
}

func TestEvalBool(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 2})
	user := map[string]any{"userId": "u1", "roleId": "member", "tier": "gold", "level": int64(3), "city": "Oslo"}
	room := map[string]any{"id": "r1", "isPublic": true, "minLevel": 2.0, "city": "Oslo", "tags": []any{"a", "b"}}
	tests := []struct {
		name string
		src  string
		vars map[string]any
		want bool
	}{
		{"roomEligibility true", `catalogEvent.chatEnabled == true`, map[string]any{"catalogEvent": map[string]any{"chatEnabled": true}}, true},
		{"roomEligibility false", `catalogEvent.chatEnabled == true`, map[string]any{"catalogEvent": map[string]any{"chatEnabled": false}}, false},
		{"missing field is falsy", `catalogEvent.status == "published"`, map[string]any{"catalogEvent": map[string]any{}}, false},
		{"and of two objects", `user.tier == "gold" && room.isPublic`, map[string]any{"user": user, "room": room}, true},
		{"and fails on tier", `user.tier == "silver" && room.isPublic`, map[string]any{"user": user, "room": room}, false},
		{"int against float", `user.level >= room.minLevel`, map[string]any{"user": user, "room": room}, true},
		{"string equality across objects", `user.city == room.city`, map[string]any{"user": user, "room": room}, true},
		{"array method", `room.tags.includes("b")`, map[string]any{"room": room}, true},
		{"truthiness of string", `user.tier`, map[string]any{"user": user}, true},
		{"truthiness of empty string", `""`, nil, false},
		{"truthiness of zero", `0`, nil, false},
		{"null var", `record === null`, map[string]any{"record": nil}, true},
		{"raw json var", `record.status == "active" && record.n === 2`, map[string]any{"record": json.RawMessage(`{"status":"active","n":2}`)}, true},
		{"typed slice via json", `data.length == 2 && data[1] == "y"`, map[string]any{"data": []string{"x", "y"}}, true},
		{"struct via json", `data.Name == "n"`, map[string]any{"data": struct{ Name string }{"n"}}, true},
		{"body form", "if (user.roleId === 'admin') { return true }\nreturn user.tier === 'gold'", map[string]any{"user": user}, true},
		{"strict equality with kafka data", `data.eventType === "participant.added"`, map[string]any{"data": map[string]any{"eventType": "participant.added"}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(tc.src)
			require.NoError(t, err)
			got, err := e.EvalBool(context.Background(), p, "room-1", tc.vars)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestEvalResultsArePlainGoValues(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1})
	tests := []struct {
		name string
		src  string
		vars map[string]any
		want any
	}{
		{"undefined", `undefined`, nil, nil},
		{"null", `null`, nil, nil},
		{"string", `"a" + "b"`, nil, "ab"},
		{"integer", `40 + 2`, nil, int64(42)},
		{"integral float is int64", `0.5 * 4`, nil, int64(2)},
		{"fraction", `1 / 4`, nil, 0.25},
		{"bool", `!false`, nil, true},
		{"object", `({ accept: true, n: 1, nested: { list: [1, "x", null, undefined] }, skip: undefined })`, nil,
			map[string]any{"accept": true, "n": int64(1), "nested": map[string]any{"list": []any{int64(1), "x", nil, nil}}}},
		{"date becomes ISO string", `new Date(0)`, nil, "1970-01-01T00:00:00.000Z"},
		{"object built from vars", "const out = { who: session.userId, to: message.content.to };\nreturn out", map[string]any{
			"session": map[string]any{"userId": "u7"}, "message": map[string]any{"content": map[string]any{"to": []any{"u1"}}},
		}, map[string]any{"who": "u7", "to": []any{"u1"}}},
		{"getter runs", `({ get x() { return 5 } })`, nil, map[string]any{"x": int64(5)}},
		{"__proto__ key in input stays data", `Object.keys(data)`, map[string]any{"data": map[string]any{"__proto__": 1, "a": 2}}, []any{"__proto__", "a"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.Eval(context.Background(), MustCompile(tc.src), "", tc.vars)
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestEvalResultErrors(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1, CallTimeout: 10 * time.Second})
	tests := []struct {
		name, src, want string
	}{
		{"function", `(function () {})`, "function"},
		{"nested function", `({ a: { f: function () {} } })`, "result.a.f is a function"},
		{"promise", `Promise.resolve(1)`, "promise"},
		{"async function result", "const f = async () => 1;\nreturn f()", "promise"},
		{"cycle", "const a = {};\na.self = a;\nreturn a", "nested too deeply"},
		{"symbol", `Symbol("s")`, "symbol"},
		{"bigint", `({ n: 10n })`, "result.n is a bigint"},
		{"function in array", `[1, [2, () => 3]]`, "result[1][1] is a function"},
		{"throwing getter", `({ get x() { throw new Error("getter broke") } })`, "getter broke"},
		{"huge sparse array", "const a = [];\na.length = 1e8;\nreturn a", "beyond"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Eval(context.Background(), MustCompile(tc.src), "", nil)
			se := requireKind(t, err, KindResult)
			require.Contains(t, se.Msg, tc.want)
		})
	}
}

func TestVarsAreScopedToOneCall(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1})
	ctx := context.Background()
	got, err := e.Eval(ctx, MustCompile(`room.name`), "r", map[string]any{"room": map[string]any{"name": "a"}})
	require.NoError(t, err)
	require.Equal(t, "a", got)

	got, err = e.Eval(ctx, MustCompile(`typeof room`), "r", nil)
	require.NoError(t, err)
	require.Equal(t, "undefined", got)

	// A call passing some of the last call's names sees its own values
	// and not the names it does not pass, not even as declared globals;
	// a call whose var fails to convert leaves none of its vars behind.
	_, err = e.Eval(ctx, MustCompile(`true`), "r", map[string]any{"a": "one", "b": "two", "c": "three"})
	require.NoError(t, err)
	got, err = e.Eval(ctx, MustCompile(`[a, typeof b, "b" in globalThis, (function(){ try { return c } catch (e) { return e.name } })()]`),
		"r", map[string]any{"a": "new"})
	require.NoError(t, err)
	require.Equal(t, []any{"new", "undefined", false, "ReferenceError"}, got)
	_, err = e.Eval(ctx, MustCompile(`true`), "r", map[string]any{"a": "one", "z": json.RawMessage(`{`)})
	requireKind(t, err, KindInput)
	got, err = e.Eval(ctx, MustCompile(`[typeof a, typeof z]`), "r", nil)
	require.NoError(t, err)
	require.Equal(t, []any{"undefined", "undefined"}, got)
	// A script that deletes or replaces a var does not break the next call.
	_, err = e.Eval(ctx, MustCompile(`delete globalThis.a; globalThis.b = 1; true`), "r", map[string]any{"a": "x", "b": "y"})
	require.NoError(t, err)
	got, err = e.Eval(ctx, MustCompile(`[a, b]`), "r", map[string]any{"a": "p", "b": "q"})
	require.NoError(t, err)
	require.Equal(t, []any{"p", "q"}, got)
	// A script that makes a var permanent does not pass it to a later
	// call, with or without that name: the runtime is rebuilt.
	for _, next := range []map[string]any{nil, {"secret": "user-B"}} {
		_, err = e.Eval(ctx, MustCompile(`Object.defineProperty(globalThis, "secret", {configurable: false}); true`),
			"r", map[string]any{"secret": "user-A"})
		require.NoError(t, err)
		got, err = e.Eval(ctx, MustCompile(`typeof secret === "undefined" ? "none" : secret`), "r", next)
		require.NoError(t, err)
		want := "none"
		if next != nil {
			want = "user-B"
		}
		require.Equal(t, want, got)
	}

	// A script changing its input does not change the caller's map.
	room := map[string]any{"name": "a"}
	_, err = e.Eval(ctx, MustCompile(`room.name = "changed"`), "r", map[string]any{"room": room})
	require.NoError(t, err)
	require.Equal(t, "a", room["name"])
}

// TestFieldsVariable: a Fields value reaches the script as a plain object
// with its members in the order given, converted as a map's are, and
// counts against the input limit.
func TestFieldsVariable(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1, MaxInputBytes: 256})
	ctx := context.Background()
	m := Fields{{"z", "last?"}, {"content", json.RawMessage(`{"a":[1,2]}`)}, {"__proto__", int64(7)}, {"n", nil}}
	got, err := e.Eval(ctx, MustCompile(`[Object.keys(m).join(","), m.z, m.content.a[1], Object.getPrototypeOf(m) === Object.prototype, m.__proto__, m.n]`),
		"r", map[string]any{"m": m})
	require.NoError(t, err)
	require.Equal(t, []any{"z,content,__proto__,n", "last?", int64(2), true, int64(7), nil}, got)
	_, err = e.Eval(ctx, MustCompile(`true`), "r", map[string]any{"m": Fields{{"big", strings.Repeat("x", 300)}}})
	require.ErrorIs(t, err, ErrInputTooLarge)
}

// TestProgramRunsAsItsWrappedSource: a runtime creates a program's wrapper
// function once and calls it for each evaluation; each call still sees this
// call's vars, no arguments, this as the global object (sloppy mode), and
// local variables that start afresh.
func TestProgramRunsAsItsWrappedSource(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1})
	ctx := context.Background()
	body := MustCompile(`var seen = typeof local; var local = n; return [seen, local, arguments.length, this === globalThis]`)
	expr := MustCompile(`[n * 2, arguments.length, this === globalThis]`)
	for _, n := range []int64{1, 2, 3} {
		got, err := e.Eval(ctx, body, "r", map[string]any{"n": n})
		require.NoError(t, err)
		require.Equal(t, []any{"undefined", n, int64(0), true}, got)
		got, err = e.Eval(ctx, expr, "r", map[string]any{"n": n})
		require.NoError(t, err)
		require.Equal(t, []any{n * 2, int64(0), true}, got)
	}
}

func TestLibModules(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 2, LibDir: "testdata/lib"})
	require.Equal(t, []string{"chess", "counter", "games/world", "rules", "util/index"}, e.Lib())
	ctx := context.Background()
	handler := MustCompile(`lib.chess.processMove(roomId, session, message)`)
	move := func(room, user, mv string) map[string]any {
		t.Helper()
		got, err := e.Eval(ctx, handler, room, map[string]any{
			"roomId":  room,
			"session": map[string]any{"userId": user},
			"message": map[string]any{"type": "chessMove", "content": map[string]any{"move": mv}},
			"room":    map[string]any{"id": room},
		})
		require.NoError(t, err)
		return got.(map[string]any)
	}
	moveCount := func(res map[string]any) any {
		return res["serverMessages"].([]any)[0].(map[string]any)["content"].(map[string]any)["moveCount"]
	}

	// Two rooms: module state is kept per room id, whichever runtime they use.
	require.Equal(t, int64(1), moveCount(move("roomA", "u1", "e2e4")))
	require.Equal(t, int64(2), moveCount(move("roomA", "u2", "e7e5")))
	require.Equal(t, int64(1), moveCount(move("roomB", "u3", "d2d4")))
	require.Equal(t, map[string]any{"accept": false, "rejectReason": "illegal move"}, move("roomA", "u1", "zz"))

	state, err := e.Eval(ctx, MustCompile(`lib.chess.getState(roomId)`), "roomA", map[string]any{"roomId": "roomA"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"moves": []any{"e2e4", "e7e5"}, "turn": "white"}, state)

	tick, err := e.Eval(ctx, MustCompile(`lib.games.world.tick(roomId)`), "roomA", map[string]any{"roomId": "roomA"})
	require.NoError(t, err)
	require.Equal(t, map[string]any{"serverMessages": []any{map[string]any{"type": "tick", "content": map[string]any{"n": int64(1)}, "to": "all"}}}, tick)

	ok, err := e.EvalBool(ctx, MustCompile(`lib.games.world.usesParent()`), "roomA", nil)
	require.NoError(t, err)
	require.True(t, ok)
	name, err := e.Eval(ctx, MustCompile(`lib.games.world.viaIndex() + "/" + lib.util.index.name`), "roomA", nil)
	require.NoError(t, err)
	require.Equal(t, "util/util", name)

	// The lib namespace cannot be replaced by a script.
	_, err = e.Eval(ctx, MustCompile("lib.chess = null; lib = null; return 1"), "roomA", nil)
	require.NoError(t, err)
	require.Equal(t, int64(3), moveCount(move("roomA", "u1", "g1f3")))
}

func TestAffinity(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 4, LibDir: "testdata/lib"})
	ctx := context.Background()
	next := MustCompile(`lib.counter.next()`)

	// Find two room ids that hash to different runtimes.
	a := "room-0"
	var b string
	for i := 1; b == ""; i++ {
		if id := fmt.Sprintf("room-%d", i); e.pick(id) != e.pick(a) {
			b = id
		}
	}
	for want := int64(1); want <= 3; want++ {
		got, err := e.Eval(ctx, next, a, nil)
		require.NoError(t, err)
		require.Equal(t, want, got, "same affinity must reach the same module instance")
	}
	got, err := e.Eval(ctx, next, b, nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), got, "another runtime has its own module state")
	require.Same(t, e.pick(a), e.pick(a))
}

func TestInfiniteLoopIsInterrupted(t *testing.T) {
	const timeout = 100 * time.Millisecond
	e := newEngine(t, Options{Runtimes: 1, CallTimeout: timeout, LibDir: "testdata/lib"})
	ctx := context.Background()
	next := MustCompile(`lib.counter.next()`)
	got, err := e.Eval(ctx, next, "r", nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), got)

	for _, src := range []string{
		`for(;;){}`,
		"while (true) { try { for(;;){} } catch (e) {} }",
		`lib.chess.getState(roomId) && (() => { for(;;){} })()`,
		`({ get x() { for(;;){} } })`, // runs while the result is read
		`({ toJSON() { for(;;){} } })`,
	} {
		start := time.Now()
		_, err = e.Eval(ctx, MustCompile(src), "r", map[string]any{"roomId": "r"})
		elapsed := time.Since(start)
		t.Logf("%s interrupted after %v (deadline %v)", src, elapsed, timeout)
		requireKind(t, err, KindTimeout)
		require.ErrorIs(t, err, ErrTimeout)
		require.Less(t, elapsed, timeout+750*time.Millisecond, "interrupt took %v", elapsed)
		require.GreaterOrEqual(t, elapsed, timeout)
	}

	// The runtime keeps working, with its module state.
	got, err = e.Eval(ctx, next, "r", nil)
	require.NoError(t, err)
	require.Equal(t, int64(2), got)
}

func TestContextCancellation(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1, CallTimeout: 10 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.Eval(ctx, MustCompile(`for(;;){}`), "r", nil)
	requireKind(t, err, KindCanceled)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotErrorIs(t, err, ErrTimeout)
	require.Less(t, time.Since(start), 2*time.Second)

	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	_, err = e.Eval(canceled, MustCompile(`1`), "r", nil)
	requireKind(t, err, KindCanceled)
	require.ErrorIs(t, err, context.Canceled)

	got, err := e.Eval(context.Background(), MustCompile(`1 + 1`), "r", nil)
	require.NoError(t, err)
	require.Equal(t, int64(2), got)
}

func TestThrownError(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1})
	tests := []struct{ name, src, want string }{
		{"throw", `(() => { throw new Error("nope") })()`, "nope"},
		{"reference error", `missingVar.field`, "missingVar"},
		{"type error", `room.field`, "field"},
		{"body throw", "if (true) { throw new RangeError('bad range') }\nreturn 1", "bad range"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Eval(context.Background(), MustCompile(tc.src), "", map[string]any{"room": nil})
			se := requireKind(t, err, KindRuntime)
			require.Contains(t, se.Msg, tc.want)
		})
	}
}

// panicKV panics on Get, as a buggy backend would.
type panicKV struct{ KV }

func (panicKV) Get(context.Context, string) ([]byte, bool, error) { panic("kv backend bug") }

func TestPanicInHostFunction(t *testing.T) {
	core, logs := observer.New(zap.ErrorLevel)
	e := newEngine(t, Options{Runtimes: 1, KV: panicKV{NewMemoryKV()}, LibDir: "testdata/lib", Logger: zap.New(core)})
	ctx := context.Background()

	_, err := e.Eval(ctx, MustCompile(`lib.counter.next()`), "r", nil)
	require.NoError(t, err)
	// try/catch in the script cannot swallow a Go panic.
	_, err = e.Eval(ctx, MustCompile("try { kv.get('k') } catch (e) { return 'caught' }"), "r", nil)
	se := requireKind(t, err, KindPanic)
	require.Contains(t, se.Msg, "kv backend bug")
	require.Equal(t, 1, logs.FilterMessage("script panicked; rebuilding runtime").Len())

	// The runtime was rebuilt: it works, with fresh module state.
	got, err := e.Eval(ctx, MustCompile(`lib.counter.next()`), "r", nil)
	require.NoError(t, err)
	require.Equal(t, int64(1), got)
}

func TestStackOverflow(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1, MaxCallStackSize: 200})
	ctx := context.Background()
	_, err := e.Eval(ctx, MustCompile("function f(n) { return f(n + 1) + 1 }\nreturn f(0)"), "", nil)
	requireKind(t, err, KindRuntime)
	require.ErrorIs(t, err, ErrStackOverflow)

	// Below the cap recursion works, and the runtime is still usable.
	got, err := e.Eval(ctx, MustCompile("function f(n) { return n == 0 ? 0 : f(n - 1) + 1 }\nreturn f(150)"), "", nil)
	require.NoError(t, err)
	require.Equal(t, int64(150), got)
}

func TestInputGuard(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1, MaxInputBytes: 1024})
	ctx := context.Background()
	p := MustCompile(`true`)
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	tests := []struct {
		name    string
		vars    map[string]any
		wantErr error
		wantMsg string
	}{
		{name: "big string", vars: map[string]any{"message": strings.Repeat("x", 2000)}, wantErr: ErrInputTooLarge},
		{name: "many small values", vars: map[string]any{"a": []any{strings.Repeat("x", 600)}, "b": strings.Repeat("y", 600)}, wantErr: ErrInputTooLarge},
		{name: "big raw json", vars: map[string]any{"data": json.RawMessage(`"` + strings.Repeat("x", 2000) + `"`)}, wantErr: ErrInputTooLarge},
		{name: "reserved host name", vars: map[string]any{"lib": 1}, wantMsg: "reserved"},
		{name: "reserved builtin", vars: map[string]any{"JSON": 1}, wantMsg: "reserved"},
		{name: "cycle", vars: map[string]any{"room": cyclic}, wantMsg: "nested deeper"},
		{name: "bad raw json", vars: map[string]any{"data": json.RawMessage(`{`)}, wantMsg: "parse json"},
		{name: "unmarshalable", vars: map[string]any{"data": make(chan int)}, wantMsg: "chan int"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.EvalBool(ctx, p, "", tc.vars)
			se := requireKind(t, err, KindInput)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			}
			require.Contains(t, se.Error(), tc.wantMsg)
		})
	}
	ok, err := e.EvalBool(ctx, p, "", map[string]any{"message": strings.Repeat("x", 500)})
	require.NoError(t, err)
	require.True(t, ok)
	_, err = e.Eval(ctx, nil, "", nil)
	requireKind(t, err, KindInput)
}

func TestKVHostFunctions(t *testing.T) {
	store := NewMemoryKV()
	e := newEngine(t, Options{Runtimes: 2, KV: store, KVPrefix: "hub:"})
	ctx := context.Background()
	script := MustCompile(`
kv.set("score:" + roomId, { best: 10, by: "u1" }, 60);
const a = kv.incr("count:" + roomId);
const b = kv.incr("count:" + roomId, 5);
const got = kv.get("score:" + roomId);
kv.del("score:" + roomId);
let err = "";
try { kv.incr("gone") ; kv.set("s", "text"); kv.incr("s") } catch (e) { err = String(e) }
return { a, b, got, after: kv.get("score:" + roomId), err }`)
	got, err := e.Eval(ctx, script, "r1", map[string]any{"roomId": "r1"})
	require.NoError(t, err)
	m := got.(map[string]any)
	require.Equal(t, int64(1), m["a"])
	require.Equal(t, int64(6), m["b"])
	require.Equal(t, map[string]any{"best": int64(10), "by": "u1"}, m["got"])
	require.Nil(t, m["after"])
	require.Contains(t, m["err"], "not an integer")

	// Keys carry the prefix and are shared across runtimes.
	v, ok, err := store.Get(ctx, NamespacedKey("", "hub:count:r1"))
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "6", string(v))
	n, err := e.Eval(ctx, MustCompile(`kv.get("count:r1")`), "other-room", nil)
	require.NoError(t, err)
	require.Equal(t, int64(6), n)

	for _, src := range []string{`kv.get("")`, `kv.set("k", undefined)`, `kv.set("k", 1, -1)`, `kv.incr("k", 1.5)`} {
		_, err := e.Eval(ctx, MustCompile(src), "", nil)
		requireKind(t, err, KindRuntime)
	}
}

func TestScriptLogging(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	e := newEngine(t, Options{Runtimes: 1, Logger: zap.New(core)})
	p := MustCompile(`log.warn("slow move", { roomId: roomId, n: 2 }); log.info("detail"); console.log("c"); log.error("bad")`)
	p.Name = "handler:chessMove"
	_, err := e.Eval(context.Background(), p, "", map[string]any{"roomId": "r9"})
	require.NoError(t, err)
	warn := logs.FilterMessage("slow move").All()
	require.Len(t, warn, 1)
	require.Equal(t, zapcore.WarnLevel, warn[0].Level)
	require.Equal(t, "scripting.script", warn[0].LoggerName)
	require.Equal(t, map[string]any{"roomId": "r9", "n": int64(2)}, warn[0].ContextMap()["data"])
	require.Equal(t, "handler:chessMove", warn[0].ContextMap()["script"])
	require.Equal(t, zapcore.DebugLevel, logs.FilterMessage("detail").All()[0].Level)
	require.Equal(t, 1, logs.FilterMessage("c").Len())
	require.Equal(t, zapcore.ErrorLevel, logs.FilterMessage("bad").All()[0].Level)
}

func TestLibLoadErrors(t *testing.T) {
	dup := t.TempDir()
	require.NoError(t, writeFile(dup, "a.js", "exports.x = 1"))
	require.NoError(t, writeFile(dup, "a/b.js", "exports.y = 1"))
	loop := t.TempDir()
	require.NoError(t, writeFile(loop, "spin.js", "for(;;){}"))
	escape := t.TempDir()
	require.NoError(t, writeFile(escape, "up.js", `require("../../etc/passwd")`))
	tests := []struct {
		name string
		opts Options
		want []string
	}{
		{"syntax error", Options{LibDir: "testdata/badlib"}, []string{"broken.js", "end of file"}},
		{"throws at load", Options{LibDir: "testdata/throwlib"}, []string{"boom.js", "boom at load"}},
		{"module and directory", Options{LibDir: dup}, []string{"a.js", "lib.a"}},
		{"missing dir", Options{LibDir: "testdata/nope"}, []string{"testdata/nope"}},
		{"endless load", Options{LibDir: loop, LoadTimeout: 50 * time.Millisecond}, []string{"spin.js", "timed out"}},
		{"require outside lib", Options{LibDir: escape}, []string{"up.js", "leaves the lib directory"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Runtimes = 1
			_, err := NewEngine(tc.opts)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestObserverAndClose(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	e, err := NewEngine(Options{Runtimes: 1, Observer: func(kind string, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, fmt.Sprintf("%s:%v", kind, err != nil))
	}})
	require.NoError(t, err)
	p := MustCompile(`1`)
	p.Name = "stateScript"
	_, err = e.Eval(context.Background(), p, "", nil)
	require.NoError(t, err)
	_, err = e.Eval(context.Background(), MustCompile(`x.y`), "", nil)
	require.Error(t, err)
	mu.Lock()
	require.Equal(t, []string{"stateScript:false", "mscript:true"}, seen)
	mu.Unlock()

	e.Close()
	e.Close()
	_, err = e.Eval(context.Background(), p, "", nil)
	requireKind(t, err, KindClosed)
	require.ErrorIs(t, err, ErrClosed)
}

func TestConcurrentRooms(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 3, LibDir: "testdata/lib"})
	p := MustCompile(`lib.games.world.tick(roomId).serverMessages[0].content.n`)
	const rooms, ticks = 8, 25
	testenv.Concurrently(t, rooms, func(r int) error {
		room := fmt.Sprintf("room-%d", r)
		for i := 1; i <= ticks; i++ {
			got, err := e.Eval(context.Background(), p, room, map[string]any{"roomId": room})
			if err != nil {
				return err
			}
			if got != int64(i) {
				return fmt.Errorf("room %s tick %d: got %v", room, i, got)
			}
		}
		return nil
	})
}

// TestEvalFields: variables given in name order reach the script as Eval's
// map would, and replace the last call's as Eval's do; out of order or
// repeated names are refused before anything runs.
func TestEvalFields(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1})
	ctx := context.Background()
	_, err := e.Eval(ctx, MustCompile(`true`), "r", map[string]any{"a": 1, "c": 3, "d": 4})
	require.NoError(t, err)
	got, err := e.EvalFields(ctx, MustCompile(`[a, b, typeof c, typeof d, msg.x]`), "r",
		Fields{{Name: "a", Value: "A"}, {Name: "b", Value: int64(2)}, {Name: "msg", Value: Fields{{Name: "x", Value: true}}}})
	require.NoError(t, err)
	require.Equal(t, []any{"A", int64(2), "undefined", "undefined", true}, got)
	got, err = e.Eval(ctx, MustCompile(`[typeof a, typeof msg, c]`), "r", map[string]any{"c": "C"})
	require.NoError(t, err)
	require.Equal(t, []any{"undefined", "undefined", "C"}, got)
	for _, bad := range []Fields{{{Name: "b"}, {Name: "a"}}, {{Name: "a"}, {Name: "a"}}} {
		_, err = e.EvalFields(ctx, MustCompile(`true`), "r", bad)
		requireKind(t, err, KindInput)
	}
}
