package spec

import (
	"testing"

	"github.com/dop251/goja"
	"github.com/stretchr/testify/require"
)

// ticTacToe loads configs/lib/tictactoe.js as a CommonJS module in a fresh
// runtime and returns its exports.
func ticTacToe(t *testing.T) (*goja.Runtime, *goja.Object) {
	t.Helper()
	src := mustRead(t, "../../configs/lib/tictactoe.js")
	vm := goja.New()
	wrapper, err := vm.RunString("(function(module, exports){" + string(src) + "\n})")
	require.NoError(t, err)
	fn, ok := goja.AssertFunction(wrapper)
	require.True(t, ok)
	module := vm.NewObject()
	exports := vm.NewObject()
	require.NoError(t, module.Set("exports", exports))
	_, err = fn(goja.Undefined(), module, exports)
	require.NoError(t, err)
	return vm, module.Get("exports").ToObject(vm)
}

type ttMove struct {
	user string
	typ  string // "move" or "resign"
	cell any
}

func TestTicTacToeLibrary(t *testing.T) {
	tests := []struct {
		name       string
		moves      []ttMove
		lastAccept bool
		lastReason string
		gameOver   map[string]any // systemData of the last result's gameOver message
		board      []any
	}{
		{
			name:       "X wins the top row",
			moves:      []ttMove{{"u1", "move", 0}, {"u2", "move", 3}, {"u1", "move", 1}, {"u2", "move", 4}, {"u1", "move", 2}},
			lastAccept: true,
			gameOver:   map[string]any{"winner": "X", "reason": "line"},
			board:      []any{"X", "X", "X", "O", "O", nil, nil, nil, nil},
		},
		{
			name: "draw",
			moves: []ttMove{{"u1", "move", 0}, {"u2", "move", 1}, {"u1", "move", 2}, {"u2", "move", 4},
				{"u1", "move", 3}, {"u2", "move", 5}, {"u1", "move", 7}, {"u2", "move", 6}, {"u1", "move", 8}},
			lastAccept: true,
			gameOver:   map[string]any{"winner": nil, "reason": "draw"},
			board:      []any{"X", "O", "X", "X", "O", "O", "O", "X", "X"},
		},
		{
			name:       "O wins the diagonal",
			moves:      []ttMove{{"u1", "move", 1}, {"u2", "move", 0}, {"u1", "move", 2}, {"u2", "move", 4}, {"u1", "move", 3}, {"u2", "move", 8}},
			lastAccept: true,
			gameOver:   map[string]any{"winner": "O", "reason": "line"},
		},
		{name: "not your turn", moves: []ttMove{{"u1", "move", 0}, {"u1", "move", 1}}, lastReason: "it is not your turn"},
		{name: "cell taken", moves: []ttMove{{"u1", "move", 0}, {"u2", "move", 0}}, lastReason: "cell 0 is taken"},
		{name: "third player", moves: []ttMove{{"u1", "move", 0}, {"u2", "move", 1}, {"u3", "move", 2}}, lastReason: "the game already has two players"},
		{name: "cell out of range", moves: []ttMove{{"u1", "move", 9}}, lastReason: "cell must be an integer from 0 to 8"},
		{name: "cell not integer", moves: []ttMove{{"u1", "move", 1.5}}, lastReason: "cell must be an integer from 0 to 8"},
		{name: "move after the end", moves: []ttMove{{"u1", "move", 0}, {"u2", "move", 1}, {"u2", "resign", nil}, {"u1", "move", 1}}, lastReason: "the game is over"},
		{
			name:       "resign",
			moves:      []ttMove{{"u1", "move", 4}, {"u2", "move", 0}, {"u2", "resign", nil}},
			lastAccept: true,
			gameOver:   map[string]any{"winner": "X", "reason": "resign"},
		},
		{name: "spectator cannot resign", moves: []ttMove{{"u1", "move", 4}, {"u3", "resign", nil}}, lastReason: "you are not playing in this game"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vm, lib := ticTacToe(t)
			call := func(name string, args ...any) map[string]any {
				fn, ok := goja.AssertFunction(lib.Get(name))
				require.True(t, ok, name)
				vals := make([]goja.Value, len(args))
				for i, a := range args {
					vals[i] = vm.ToValue(a)
				}
				res, err := fn(goja.Undefined(), vals...)
				require.NoError(t, err)
				return res.Export().(map[string]any)
			}
			var last map[string]any
			for _, m := range tc.moves {
				msg := map[string]any{"type": m.typ, "content": map[string]any{"cell": m.cell}}
				last = call(m.typ, "room1", map[string]any{"userId": m.user}, msg)
			}
			require.Equal(t, tc.lastAccept, last["accept"], "result %v", last)
			if tc.lastReason != "" {
				require.Equal(t, tc.lastReason, last["rejectReason"])
			}
			if tc.gameOver != nil {
				sm := last["serverMessages"].([]any)
				require.Len(t, sm, 1)
				m := sm[0].(map[string]any)
				require.Equal(t, "system", m["type"])
				require.Equal(t, "all", m["to"])
				content := m["content"].(map[string]any)
				require.Equal(t, "gameOver", content["systemAction"])
				data := content["systemData"].(map[string]any)
				for k, v := range tc.gameOver {
					require.Equal(t, v, data[k], k)
				}
				state := call("state", "room1")
				require.Equal(t, true, state["finished"])
				require.Equal(t, tc.gameOver["winner"], state["winner"])
			}
			if tc.board != nil {
				require.Equal(t, tc.board, call("state", "room1")["board"])
			}
			// Another room is untouched.
			require.Equal(t, int64(0), call("state", "room2")["moves"])
		})
	}
}
