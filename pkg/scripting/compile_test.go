package scripting

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCompile(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		wantBody bool
		wantErr  string // substring of the syntax error; empty means success
	}{
		{name: "comparison", src: `chat.isActive == true`},
		{name: "logical", src: `user.tier == "gold" && room.isPublic`},
		{name: "lib call", src: `lib.chess.processMove(roomId, session, message)`},
		{name: "object literal", src: `{ accept: true }`},
		{name: "trailing line comment", src: `a == 1 // compare`},
		{name: "multi-line expression", src: "a ==\n  1"},
		{name: "body with return", src: "const x = 1;\nreturn x + 1;", wantBody: true},
		{name: "body with if", src: "if (user.vip) { return true }\nreturn room.isPublic", wantBody: true},
		{name: "empty", src: "  \n", wantErr: "empty script"},
		{name: "dangling operator", src: `user.tier ==`, wantErr: "line 1"},
		{name: "bad token on line 2", src: "const a = 1;\nreturn a +* 2", wantErr: "line 2 column"},
		{name: "unclosed string", src: `user.name == "x`, wantErr: "line 1"},
		{name: "wrapper escape", src: "1); }); globalThis.x = (function () { return (1", wantErr: "mscript syntax error"},
		{name: "body wrapper escape", src: "return 1 }); (function () { return 2", wantErr: "not one expression"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Compile(tc.src)
			if tc.wantErr != "" {
				require.Error(t, err)
				var se *ScriptError
				require.True(t, errors.As(err, &se), "error %T is not a *ScriptError", err)
				require.Equal(t, KindSyntax, se.Kind)
				require.Contains(t, se.Error(), tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.src, p.Src)
			require.Equal(t, tc.wantBody, p.Body)
		})
	}
}

func TestCompileErrorPosition(t *testing.T) {
	_, err := Compile("const a = 1;\nconst b = ;\nreturn a")
	var se *ScriptError
	require.ErrorAs(t, err, &se)
	require.Equal(t, KindSyntax, se.Kind)
	require.Contains(t, se.Msg, "line 2 column 11")
}

// FuzzCompile checks that Compile never panics, that failures are syntax
// ScriptErrors, and that a success carries a compiled program.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`a == 1`, "return 1", `{`, `}`, `)`, "1); }); (function () { return (1",
		"return 1 }); (function () { return 2", "// only a comment", "/*", "`", `"\`,
		"a\n)", "})()", "}\n})()\n(function () {",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Compile(src)
		if err != nil {
			var se *ScriptError
			if !errors.As(err, &se) || se.Kind != KindSyntax {
				t.Fatalf("Compile(%q): %T %v is not a syntax ScriptError", src, err, err)
			}
			return
		}
		if p.Src != src || p.fn == nil {
			t.Fatalf("Compile(%q) returned an incomplete program", src)
		}
	})
}
