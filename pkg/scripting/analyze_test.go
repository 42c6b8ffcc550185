package scripting

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestAnalyze(t *testing.T) {
	tests := []struct {
		name, src string
		free      []string
		lib       [][]string
	}{
		{"expression", `chat.isActive == true && room.open`, []string{"chat", "room"}, nil},
		{"property names are not variables", `user.tier == "gold" && ({tier: 1}).tier == Math.max(1, 2)`, []string{"user"}, nil},
		{"lib call", `lib.logic.handle(roomId, session, message, room)`, []string{"message", "room", "roomId", "session"}, [][]string{{"logic"}, {"logic", "handle"}}},
		{"locals and params", "var n = 0; function f(a) { var b = a + n; return b; } for (let i = 0; i < 2; i++) { n += f(i); } return n > x;", []string{"x"}, nil},
		{"arrow params and catch", "try { return [1].map((v) => v * k).length } catch (e) { return e }", []string{"k"}, nil},
		{"hosts and builtins", `kv.get("a") === null && JSON.stringify(log) !== undefined`, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := Analyze(MustCompile(tc.src))
			require.Equal(t, tc.free, n.Free)
			require.Equal(t, tc.lib, n.Lib)
		})
	}
}
