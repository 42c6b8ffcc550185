package scripting

import (
	"testing"

	"github.com/dop251/goja"
	"github.com/stretchr/testify/require"
)

// TestDecodeJSONMatchesJSONParse compares the fast decoder with the
// runtime's JSON.parse on the same text.
func TestDecodeJSONMatchesJSONParse(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1})
	rt := e.workers[0].rt // idle: no call runs during the test
	show, err := rt.vm.RunString(`(function (v) {
		return JSON.stringify(v) + "|" + Object.is(v, -0) + "|" + (v !== null && typeof v === "object" ? Object.keys(v).join(",") + "|" + (Object.getPrototypeOf(v) === Object.prototype) + "|" + Array.isArray(v) : "")
	})`)
	require.NoError(t, err)
	fn, ok := goja.AssertFunction(show)
	require.True(t, ok)
	describe := func(v goja.Value) string {
		out, err := fn(goja.Undefined(), v)
		require.NoError(t, err)
		return out.String()
	}
	docs := []string{
		`{}`, `[]`, `null`, `true`, `false`, `0`, `-0`, `1`, `-12.5e3`, `1E2`, `9007199254740993`,
		`""`, `"plain"`, `"h\u00e9\n\"q\" \ud83d\ude00 \/"`, `"ünïcödé ✓"`,
		` { "b" : 1 , "a" : [ 1 , { "c" : null } ] , "d" : { } } `,
		`{"z":1,"a":2,"m":3}`, `{"dup":1,"dup":2}`, `{"__proto__":{"x":1}}`, `[1,[2,[3,[4]]],"x"]`,
		`{"op":"move","cell":4,"meta":{"at":1700000000000,"tags":["a","b"]}}`,
	}
	for _, doc := range docs {
		t.Run(doc, func(t *testing.T) {
			fast, err := rt.decodeJSON([]byte(doc))
			require.NoError(t, err)
			slow, err := rt.parseJSON([]byte(doc))
			require.NoError(t, err)
			require.Equal(t, describe(slow), describe(fast))
		})
	}
	t.Run("__proto__ stays an own property", func(t *testing.T) {
		v, err := rt.decodeJSON([]byte(`{"__proto__":{"x":1}}`))
		require.NoError(t, err)
		o := v.(*goja.Object)
		require.Contains(t, o.Keys(), "__proto__")
		require.Nil(t, o.Get("x"), "not inherited")
	})
	bad := []string{``, `{`, `[1,]`, `{"a":1,}`, `01`, `1.`, `+1`, `"a`, `tru`, `{"a" 1}`, `[1 2]`, "\"a\x01\"", `1 2`, `1e400`, `{"a":1}x`}
	for _, doc := range bad {
		t.Run("invalid "+doc, func(t *testing.T) {
			_, err := rt.decodeJSON([]byte(doc))
			require.Error(t, err, "falls back to JSON.parse, which rejects it")
		})
	}
	t.Run("invalid UTF-8 is replaced as JSON.parse does", func(t *testing.T) {
		doc := []byte("\"a\xffb\"")
		fast, err := rt.decodeJSON(doc)
		require.NoError(t, err)
		slow, err := rt.parseJSON(doc)
		require.NoError(t, err)
		require.Equal(t, slow.String(), fast.String())
	})
}

func BenchmarkDecodeJSON(b *testing.B) {
	e := newEngine(b, Options{Runtimes: 1})
	rt := e.workers[0].rt
	doc := []byte(`{"op":"move","cell":4,"meta":{"at":1700000000000,"tags":["a","b"]}}`)
	for _, bc := range []struct {
		name string
		fn   func([]byte) (goja.Value, error)
	}{{"fast", rt.decodeJSON}, {"JSON.parse", rt.parseJSON}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := bc.fn(doc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
