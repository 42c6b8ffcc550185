package scripting

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestIntrinsicsFrozen: what one call does to the built-ins, through the
// context variables or directly, no later call sees, in any room.
func TestIntrinsicsFrozen(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1})
	ctx := context.Background()
	vars := func() map[string]any {
		return map[string]any{
			"message": map[string]any{"type": "text", "content": map[string]any{"text": "hi"}},
			"session": Freeze(map[string]any{"userId": "u1", "tags": []any{"a"}}),
			"room":    Freeze(map[string]any{"id": "r1"}),
		}
	}
	attacks := []string{
		`Object.prototype.hub = "other"`,
		`message.__proto__.hub = "other"`,
		`message.constructor.prototype.hub = "other"`,
		`session.constructor.prototype.hub = "other"`,
		`room.__proto__.isAdmin = true`,
		`message.content.text.constructor.prototype.trim = function () { return "pwned" }`,
		`session.tags.constructor.prototype.includes = function () { return true }`,
		`Object.defineProperty(Object.prototype, "hub", { get: function () { return "other" } })`,
		`Array.prototype.push = function () {}`,
		`JSON.parse = function () { return { admin: true } }`,
		`Object = function () { return { hub: "other" } }`,
		`Math.random = function () { return 0 }`,
		`Function.prototype.call = function () { return true }`,
		`Object.setPrototypeOf(Object.prototype, { hub: "other" })`,
		`[][Symbol.iterator]().__proto__.next = function () { return { done: true } }`,
		`(function* () {}).constructor.prototype.prototype.next = function () { return { done: true } }`,
		`Error.prototype.toString = function () { return "pwned" }`,
	}
	for _, src := range attacks {
		_, err := e.Eval(ctx, MustCompile(`try { `+src+` } catch (e) {} return 1`), "room-a", vars())
		require.NoError(t, err, src)
	}
	check := MustCompile(`return [({}).hub, message.hub, room.isAdmin, " x ".trim(), ["a"].includes("b"),
		(function () { var a = []; a.push(1); return a.length })(), JSON.parse('{"a":1}').admin, typeof Object.keys,
		Math.random() !== 0 || Math.random() !== 0, Array.from([1, 2].values()).length, String(new Error("e"))]`)
	got, err := e.Eval(ctx, check, "room-b", vars())
	require.NoError(t, err)
	require.Equal(t, []any{nil, nil, nil, "x", false, int64(1), nil, "function", true, int64(2), "Error: e"}, got)

	t.Run("strict code is told", func(t *testing.T) {
		got, err := e.Eval(ctx, MustCompile(`return (function () { "use strict"; try { Object.prototype.x = 1; return "changed" } catch (e) { return e.name } })()`), "", nil)
		require.NoError(t, err)
		require.Equal(t, "TypeError", got)
	})
	t.Run("ordinary code still overrides inherited names", func(t *testing.T) {
		got, err := e.Eval(ctx, MustCompile(`
function F() {}
F.prototype.toString = function () { return "F!" };
F.prototype.constructor = F;
var err = new Error("boom"); err.name = "MyError";
var o = {}; o.valueOf = function () { return 41 }; o.constructor = "c";
class G extends Error { constructor(m) { super(m); this.name = "G" } }
return [String(new F()), err.name, String(err), o + 1, o.constructor, new G("g").name, new F() instanceof F]`), "", nil)
		require.NoError(t, err)
		require.Equal(t, []any{"F!", "MyError", "MyError: boom", int64(42), "c", "G", true}, got)
	})
	t.Run("guarded constructors keep their identity", func(t *testing.T) {
		got, err := e.Eval(ctx, MustCompile(`var u = new Uint8Array([1, 2, 3]); return [u.constructor === Uint8Array, u instanceof Uint8Array, u.length, new ArrayBuffer(8).byteLength, u.map(function (x) { return x * 2 })[2], Uint8Array.name]`), "", nil)
		require.NoError(t, err)
		require.Equal(t, []any{true, true, int64(3), int64(8), int64(6), "Uint8Array"}, got)
	})
}

// TestHubsDoNotSeeEachOther: the engines of two hubs share nothing a script
// can change: built-ins, globals and kv keys.
func TestHubsDoNotSeeEachOther(t *testing.T) {
	lib, err := LoadLibrary("")
	require.NoError(t, err)
	store := NewMemoryKV()
	evil := newEngine(t, Options{Runtimes: 1, Hub: "evil", Library: lib, KV: store})
	other := newEngine(t, Options{Runtimes: 1, Hub: "other", Library: lib, KV: store})
	ctx := context.Background()

	_, err = evil.Eval(ctx, MustCompile(`try { Object.prototype.hub = "other" } catch (e) {}; leaked = "yes"; kv.set("grant", true); return 1`), "r", nil)
	require.NoError(t, err)
	ok, err := other.EvalBool(ctx, MustCompile(`user.hub == "other"`), "r", map[string]any{"user": map[string]any{"userId": "u1"}})
	require.NoError(t, err)
	require.False(t, ok, "the authScript of other still refuses")
	got, err := other.Eval(ctx, MustCompile(`return [typeof leaked, kv.get("grant")]`), "r", nil)
	require.NoError(t, err)
	require.Equal(t, []any{"undefined", nil}, got)

	t.Run("kv keys are per hub", func(t *testing.T) {
		for name, e := range map[string]*Engine{"evil": evil, "other": other} {
			_, err := e.Eval(ctx, MustCompile(`kv.set("k", hub); kv.incr("n"); return 1`), "", map[string]any{"hub": name})
			require.NoError(t, err)
		}
		got, err := other.Eval(ctx, MustCompile(`return [kv.get("k"), kv.get("n")]`), "", nil)
		require.NoError(t, err)
		require.Equal(t, []any{"other", int64(1)}, got)
		_, err = evil.Eval(ctx, MustCompile(`kv.del("k"); return 1`), "", nil)
		require.NoError(t, err)
		got, err = other.Eval(ctx, MustCompile(`kv.get("k")`), "", nil)
		require.NoError(t, err)
		require.Equal(t, "other", got)
	})
	t.Run("the shared namespace is opt-in", func(t *testing.T) {
		_, err := evil.Eval(ctx, MustCompile(`kv.shared.set("k", 1)`), "", nil)
		se := requireKind(t, err, KindRuntime)
		require.Contains(t, se.Msg, `hub "evil" may not use the shared namespace`)
		a := newEngine(t, Options{Runtimes: 1, Hub: "a", Library: lib, KV: store, KVShared: true})
		b := newEngine(t, Options{Runtimes: 1, Hub: "b", Library: lib, KV: store, KVShared: true})
		_, err = a.Eval(ctx, MustCompile(`kv.shared.set("motd", "hello")`), "", nil)
		require.NoError(t, err)
		got, err := b.Eval(ctx, MustCompile(`return [kv.shared.get("motd"), kv.get("motd")]`), "", nil)
		require.NoError(t, err)
		require.Equal(t, []any{"hello", nil}, got)
		v, ok, err := store.Get(ctx, SharedKey("motd"))
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, `"hello"`, string(v))
	})
}
