package scripting

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFrozenVars(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, writeFile(dir, "keep.js", `
var last;
exports.same = function (v) { var s = v === last; last = v; return s; };
`))
	e := newEngine(t, Options{Runtimes: 1, LibDir: dir, MaxInputBytes: 1024})
	ctx := context.Background()
	session := Freeze(map[string]any{
		"userId": "u1", "tags": []any{"a", "b"}, "profile": map[string]any{"name": "Ann"},
		"raw": json.RawMessage(`{"deep":{"x":1}}`),
	})
	tests := []struct {
		name string
		src  string
		want any
	}{
		{"reads like a plain value", `return [session.userId, session.tags[1], session.profile.name, session.raw.deep.x]`,
			[]any{"u1", "b", "Ann", int64(1)}},
		{"top level cannot change", `session.userId = "evil"; session.added = 1; return [session.userId, session.added]`,
			[]any{"u1", nil}},
		{"nested objects cannot change", `session.profile.name = "x"; session.tags.push; try { session.tags.push("c") } catch (e) {}; session.raw.deep.x = 2; return [session.profile.name, session.tags.length, session.raw.deep.x]`,
			[]any{"Ann", int64(2), int64(1)}},
		{"strict code gets a TypeError", `return (function () { "use strict"; try { session.userId = "x"; return "changed" } catch (e) { return e.name } })()`,
			"TypeError"},
		{"exported as a copy", `return session.profile`, map[string]any{"name": "Ann"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := e.Eval(ctx, MustCompile(tc.src), "", map[string]any{"session": session})
			require.NoError(t, err)
			require.Equal(t, tc.want, v)
		})
	}

	t.Run("one JavaScript value per runtime while the same Frozen is passed", func(t *testing.T) {
		same := MustCompile(`return lib.keep.same(session)`)
		eval := func(v any) bool {
			out, err := e.Eval(ctx, same, "", map[string]any{"session": v})
			require.NoError(t, err)
			return out.(bool)
		}
		eval(session)
		require.True(t, eval(session))
		other := Freeze(map[string]any{"userId": "u1"})
		require.False(t, eval(other), "another Frozen is another value")
		require.True(t, eval(other))
		plain := map[string]any{"userId": "u1"}
		require.False(t, eval(plain))
		require.False(t, eval(plain), "a plain map is converted on every call")
	})
	t.Run("size counts against MaxInputBytes", func(t *testing.T) {
		big := Freeze(map[string]any{"s": strings.Repeat("x", 2000)})
		_, err := e.Eval(ctx, MustCompile(`return 1`), "", map[string]any{"session": big})
		var se *ScriptError
		require.ErrorAs(t, err, &se)
		require.Equal(t, KindInput, se.Kind)
	})
	t.Run("nil Frozen is null", func(t *testing.T) {
		v, err := e.Eval(ctx, MustCompile(`return room === null`), "", map[string]any{"room": (*Frozen)(nil)})
		require.NoError(t, err)
		require.Equal(t, true, v)
	})
}

func TestFrozenCacheIsBounded(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1})
	p := MustCompile(`return v.n`)
	for i := range maxFrozenPerRuntime + 10 {
		out, err := e.Eval(context.Background(), p, "", map[string]any{"v": Freeze(map[string]any{"n": i})})
		require.NoError(t, err)
		require.Equal(t, int64(i), out)
	}
	// The worker is idle between calls; its runtime's cache was reset once.
	rt := e.workers[0].rt
	require.LessOrEqual(t, len(rt.frozen), maxFrozenPerRuntime)
	require.Equal(t, 10, len(rt.frozen))
}
