package scripting

import (
	"context"
	"fmt"
	"testing"
)

var benchVars = map[string]any{
	"user": map[string]any{"userId": "u1", "roleId": "member", "tier": "gold"},
	"room": map[string]any{"id": "r1", "isPublic": true, "name": "lobby"},
}

// BenchmarkEvalSimple measures one condition on one runtime, including the
// channel hop, the vars conversion and the deadline guard.
func BenchmarkEvalSimple(b *testing.B) {
	e := newEngine(b, Options{Runtimes: 1})
	p := MustCompile(`user.tier == "gold" && room.isPublic`)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ok, err := e.EvalBool(ctx, p, "r1", benchVars)
		if err != nil || !ok {
			b.Fatalf("got %v, %v", ok, err)
		}
	}
}

// BenchmarkEvalParallel spreads rooms over GOMAXPROCS runtimes.
func BenchmarkEvalParallel(b *testing.B) {
	e := newEngine(b, Options{})
	p := MustCompile(`user.tier == "gold" && room.isPublic`)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			ok, err := e.EvalBool(ctx, p, fmt.Sprintf("room-%d", i%64), benchVars)
			if err != nil || !ok {
				b.Errorf("got %v, %v", ok, err)
				return
			}
		}
	})
}

// BenchmarkEvalLibTick runs a scheduled action through a lib module and
// exports its result object ({ serverMessages: [...] }).
func BenchmarkEvalLibTick(b *testing.B) {
	e := newEngine(b, Options{Runtimes: 1, LibDir: "testdata/lib"})
	p := MustCompile(`lib.games.world.tick(roomId)`)
	vars := map[string]any{"roomId": "r1", "room": map[string]any{"id": "r1", "name": "lobby"}}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.Eval(ctx, p, "r1", vars); err != nil {
			b.Fatal(err)
		}
	}
}
