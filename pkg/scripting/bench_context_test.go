package scripting

import (
	"context"
	"encoding/json"
	"github.com/hubd/hubd/internal/testenv"
	"testing"
	"time"
)

// handlerVars builds the context variables of a message handler call the
// way the hub does: claims and room record either as plain maps (converted
// on every call) or Frozen (converted once per runtime).
func handlerVars(frozen bool) func(i int) map[string]any {
	claims := map[string]any{
		"userId": "u1", "roleId": "player", "name": "Ann", "exp": int64(1_900_000_000), "iat": int64(1_700_000_000),
		"profile": map[string]any{"rating": int64(1500), "country": "NL", "badges": []any{"a", "b"}},
	}
	room := map[string]any{
		"id": "r1", "title": "Arena", "isPublic": true, "maxPlayers": int64(2),
		"players": []any{"u1", "u2"}, "settings": map[string]any{"clockMs": int64(60000), "rated": true},
	}
	var session, rec any = claims, room
	if frozen {
		session, rec = freezeForBench(claims), freezeForBench(room)
	}
	content := json.RawMessage(`{"op":"move","cell":4}`)
	return func(i int) map[string]any {
		return map[string]any{
			"session": session, "user": session, "roomId": "r1", "room": rec,
			"message": map[string]any{"type": "move", "content": content, "senderId": "u1", "clientMessageId": "c1"},
		}
	}
}

// BenchmarkHandlerContext is one handler call ({accept: true}) on one
// runtime with the hub's context variables, under a context with a
// deadline as the hub's handlers are.
func BenchmarkHandlerContext(b *testing.B) {
	for _, bc := range []struct {
		name   string
		frozen bool
	}{{"plain", false}, {"frozen", true}} {
		b.Run(bc.name, func(b *testing.B) {
			e := newEngine(b, Options{Runtimes: 1})
			p := MustCompile(`return {accept: message.content.cell >= 0 && session.userId === message.senderId && room.id === roomId}`)
			vars := handlerVars(bc.frozen)
			// The hub's handlers run under a context with a deadline.
			ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
			defer cancel()
			b.ReportAllocs()
			i := 0
			cpu0 := testenv.ProcessCPU()
			for b.Loop() {
				i++
				if _, err := e.Eval(ctx, p, "r1", vars(i)); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Nanoseconds())/1000/float64(b.N), "cpu-us/op")
		})
	}
}
