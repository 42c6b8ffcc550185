package scripting

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestMemoryBudget: a call that allocates past its budget ends with a
// memory error, whether it asks a built-in for one huge result or grows
// step by step, and even if it tries to catch it. The runtime serves the
// next call.
func TestMemoryBudget(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1, MemoryBudget: 32 << 20, CallTimeout: 20 * time.Second})
	ctx := context.Background()
	attacks := []struct{ name, src string }{
		{"array fill", `new Array(2**27).fill(1.5)`},
		{"string repeat", `"x".repeat(2**30)`},
		{"repeat caught", `try { "xy".repeat(2**28) } catch (e) {} return "survived"`},
		{"padStart", `"x".padStart(2**28)`},
		{"padEnd", `"x".padEnd(2**28, "ab")`},
		{"join of a sparse array", `new Array(2**26).join(",")`},
		{"join of big strings", `var s = "x".repeat(2**20); return new Array(64).fill(s).join("")`},
		{"array concat", `[1].concat(new Array(2**26))`},
		{"string concat", `var s = "x".repeat(2**23); return s.concat(s, s, s)`},
		{"Array.from", `Array.from({ length: 2**25 })`},
		{"ArrayBuffer", `new ArrayBuffer(2**30)`},
		{"typed array", `new Float64Array(2**26)`},
		{"typed array subclass", `class B extends Uint8Array {}; return new B(2**30).length`},
		{"push loop", `var a = []; for (;;) a.push({ n: a.length, s: "v" + a.length })`},
		{"string doubling", `var s = "ab"; for (;;) s = s + s + "c"`},
		{"object map", `var m = new Map(); for (var i = 0; ; i++) m.set("k" + i, [i, i])`},
	}
	for _, tc := range attacks {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := e.Eval(ctx, MustCompile(tc.src), "", nil)
			se := requireKind(t, err, KindMemory)
			require.ErrorIs(t, se, ErrMemoryBudget)
			t.Logf("%s: %v in %v", tc.name, se, time.Since(start).Round(time.Millisecond))
			got, err := e.Eval(ctx, MustCompile(`"ok".repeat(2)`), "", nil)
			require.NoError(t, err)
			require.Equal(t, "okok", got)
		})
	}
	t.Run("within the budget", func(t *testing.T) {
		got, err := e.Eval(ctx, MustCompile(`var a = new Array(10000).fill(1.5); var s = "ab".repeat(100000); return [a.length, s.length, a.join(",").length, new Uint8Array(1000).length, Array.from({length: 5}).length]`), "", nil)
		require.NoError(t, err)
		require.Equal(t, []any{int64(10000), int64(200000), int64(10000*4 - 1), int64(1000), int64(5)}, got)
	})
}

// TestMemoryBudgetBoundsRSS: while a call is stopped for its memory budget
// the process stays within the budget plus its baseline (peak RSS, read
// from /proc after resetting it).
func TestMemoryBudgetBoundsRSS(t *testing.T) {
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	const budget = 32 << 20
	e := newEngine(t, Options{Runtimes: 1, MemoryBudget: budget, CallTimeout: 20 * time.Second})
	ctx := context.Background()
	for _, src := range []string{`new Array(2**27).fill(1.5)`, `"x".repeat(2**30)`, `var a = []; for (;;) a.push([a.length, 1.5])`} {
		_, _ = e.Eval(ctx, MustCompile(`1`), "", nil) // warm
		debug.FreeOSMemory()
		require.NoError(t, os.WriteFile("/proc/self/clear_refs", []byte("5"), 0))
		base := procStatus(t, "VmRSS")
		_, err := e.Eval(ctx, MustCompile(src), "", nil)
		requireKind(t, err, KindMemory)
		peak := procStatus(t, "VmHWM")
		t.Logf("%s: RSS %d MiB before, peak %d MiB", src, base>>20, peak>>20)
		// The heap may hold garbage up to the GC's goal on top of the
		// budget; twice the budget is the documented bound.
		require.Less(t, peak-base, int64(2*budget), src)
	}
}

// procStatus reads a size field (kB) of /proc/self/status in bytes.
func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			require.NoError(t, err)
			return n << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// TestRegexpHonoursDeadline: a backtracking regular expression ends its
// call with a timeout soon after the deadline, and the engine's other
// runtime keeps serving calls while it runs.
func TestRegexpHonoursDeadline(t *testing.T) {
	SetRegexpTimeout(300 * time.Millisecond)
	t.Cleanup(func() { SetRegexpTimeout(DefaultCallTimeout) })
	e := newEngine(t, Options{Runtimes: 2, CallTimeout: 300 * time.Millisecond})
	ctx := context.Background()
	slow, other := affinitiesOnTwoRuntimes(e)

	var wg sync.WaitGroup
	wg.Add(1)
	var elapsed time.Duration
	var rerr error
	go func() {
		defer wg.Done()
		start := time.Now()
		_, rerr = e.Eval(ctx, MustCompile(`/(?=a)^(a|aa)+$/.test("a".repeat(60) + "b")`), slow, nil)
		elapsed = time.Since(start)
	}()
	served := 0
	for i := 0; i < 5; i++ {
		got, err := e.Eval(ctx, MustCompile(`1 + 1`), other, nil)
		require.NoError(t, err)
		require.Equal(t, int64(2), got)
		served++
	}
	wg.Wait()
	requireKind(t, rerr, KindTimeout)
	t.Logf("backtracking regexp stopped after %v; %d calls served meanwhile", elapsed, served)
	// Deadline + one regexp match timeout + the regexp clock's period and
	// scheduling slack on a loaded machine.
	require.Less(t, elapsed, 3*time.Second)
}

// affinitiesOnTwoRuntimes returns two affinities that run on different
// runtimes of e.
func affinitiesOnTwoRuntimes(e *Engine) (string, string) {
	first := e.pick("room-0")
	for i := 1; ; i++ {
		a := fmt.Sprintf("room-%d", i)
		if e.pick(a) != first {
			return "room-0", a
		}
	}
}

// TestRunawayDoesNotStopOtherRuntimes: while one runtime grows towards its
// memory budget, another keeps answering.
func TestRunawayDoesNotStopOtherRuntimes(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 2, MemoryBudget: 48 << 20, CallTimeout: 20 * time.Second})
	ctx := context.Background()
	slow, other := affinitiesOnTwoRuntimes(e)
	done := make(chan error, 1)
	go func() {
		_, err := e.Eval(ctx, MustCompile(`var s = "x".repeat(100000), a = []; for (;;) a.push(s + a.length)`), slow, nil)
		done <- err
	}()
	served := 0
	for {
		select {
		case err := <-done:
			requireKind(t, err, KindMemory)
			require.Positive(t, served)
			t.Logf("%d calls served on the other runtime meanwhile", served)
			return
		default:
		}
		got, err := e.Eval(ctx, MustCompile(`[1, 2].length`), other, nil)
		require.NoError(t, err)
		require.Equal(t, int64(2), got)
		served++
	}
}
