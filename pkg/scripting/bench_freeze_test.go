package scripting

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/dop251/goja"
)

func freezeForBench(v any) any { return Freeze(v) }

// BenchmarkRuntimeBuild is the cost of one runtime (each hub has its own):
// "bare" is a goja runtime with the host objects, "hardened" adds the
// allocation guards and the frozen intrinsics, as newRuntime builds it.
// heap-B/runtime is the live heap one runtime keeps.
func BenchmarkRuntimeBuild(b *testing.B) {
	e := newEngine(b, Options{Runtimes: 1})
	builds := map[string]func() (*jsRuntime, error){
		"bare": func() (*jsRuntime, error) {
			rt := &jsRuntime{vm: goja.New(), e: e, call: callWindow{parent: context.Background()}}
			rt.freeze, _ = builtin(rt.vm, "Object.freeze")
			return rt, rt.installHost()
		},
		"hardened": func() (*jsRuntime, error) { return newRuntime(e, time.Minute) },
	}
	for _, name := range []string{"bare", "hardened"} {
		b.Run(name, func(b *testing.B) {
			keep := make([]*jsRuntime, 0, 64)
			runtime.GC()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			for b.Loop() {
				rt, err := builds[name]()
				if err != nil {
					b.Fatal(err)
				}
				if len(keep) < cap(keep) {
					keep = append(keep, rt)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&m1)
			b.ReportMetric(float64(m1.HeapAlloc-m0.HeapAlloc)/float64(len(keep)), "heap-B/runtime")
			runtime.KeepAlive(keep)
		})
	}
}
