package timerwheel

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, cond, 5*time.Second, time.Millisecond, what)
}

// settle waits until exactly running callbacks are still running: a callback
// that has returned is not yet free to fire again until it stops counting.
func settle(t testing.TB, w *Wheel, running int64) {
	t.Helper()
	waitFor(t, "callbacks finished", func() bool { return w.Stats().Running == running })
}

func TestScheduleFiresEveryInterval(t *testing.T) {
	cases := []struct {
		name     string
		interval time.Duration
		advance  int // ticks, one at a time
		want     int64
	}{
		{"every tick", 10 * time.Millisecond, 5, 5},
		{"every third tick", 30 * time.Millisecond, 10, 3},
		{"rounded up to whole ticks", 25 * time.Millisecond, 9, 3},
		{"longer than one turn", 200 * time.Millisecond, 61, 3},
		{"zero interval is one tick", 0, 4, 4},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := New(Options{Tick: 10 * time.Millisecond, Slots: 8})
			var n atomic.Int64
			w.Schedule(tc.interval, func() { n.Add(1) })
			for i := 0; i < tc.advance; i++ {
				w.Advance(1)
				// Let each callback finish so that no tick is coalesced.
				waitFor(t, "callback done", func() bool { return uint64(n.Load()) == w.Stats().Fired })
				settle(t, w, 0)
			}
			require.Equal(t, tc.want, n.Load())
			require.Zero(t, w.Stats().Skipped)
		})
	}
}

func TestCatchUpFiresOncePerTimer(t *testing.T) {
	w := New(Options{Tick: 10 * time.Millisecond, Slots: 8})
	var n atomic.Int64
	w.Schedule(10*time.Millisecond, func() { n.Add(1) })
	w.Advance(100) // far more than one turn at once
	waitFor(t, "one call", func() bool { return n.Load() == 1 })
	settle(t, w, 0)
	require.EqualValues(t, 100, w.Stats().Ticks)
	// The timer is rescheduled relative to the catch-up point.
	w.Advance(1)
	waitFor(t, "second call", func() bool { return n.Load() == 2 })
}

func TestStop(t *testing.T) {
	w := New(Options{Tick: 10 * time.Millisecond, Slots: 4})
	var a, b atomic.Int64
	ta := w.Schedule(10*time.Millisecond, func() { a.Add(1) })
	w.Schedule(10*time.Millisecond, func() { b.Add(1) })
	require.Equal(t, 2, w.Stats().Timers)
	w.Advance(1)
	waitFor(t, "both fired", func() bool { return a.Load() == 1 && b.Load() == 1 })
	settle(t, w, 0)
	require.True(t, ta.Stop())
	require.False(t, ta.Stop(), "second stop")
	require.Equal(t, 1, w.Stats().Timers)
	for i := 0; i < 3; i++ {
		w.Advance(1)
		want := int64(i + 2)
		waitFor(t, "b fired", func() bool { return b.Load() == want })
		settle(t, w, 0)
	}
	require.EqualValues(t, 1, a.Load(), "a stopped")
}

func TestStopFromCallback(t *testing.T) {
	w := New(Options{Tick: 10 * time.Millisecond, Slots: 4})
	var n atomic.Int64
	var tm *Timer
	ready := make(chan struct{})
	tm = w.Schedule(10*time.Millisecond, func() {
		<-ready
		n.Add(1)
		tm.Stop()
	})
	close(ready)
	w.Advance(1)
	waitFor(t, "fired", func() bool { return n.Load() == 1 && w.Stats().Timers == 0 })
	w.Advance(5)
	require.EqualValues(t, 1, w.Stats().Fired)
}

func TestSlowCallbackIsCoalescedNotOverlapped(t *testing.T) {
	w := New(Options{Tick: 10 * time.Millisecond, Slots: 8})
	release := make(chan struct{})
	var running, maxRunning, slowCalls, fastCalls atomic.Int64
	w.Schedule(10*time.Millisecond, func() {
		if cur := running.Add(1); cur > maxRunning.Load() {
			maxRunning.Store(cur)
		}
		<-release
		slowCalls.Add(1)
		running.Add(-1)
	})
	w.Schedule(10*time.Millisecond, func() { fastCalls.Add(1) })
	for i := 1; i <= 5; i++ {
		w.Advance(1)
		want := int64(i)
		// The fast timer is not held back by the slow one.
		waitFor(t, "fast timer fired", func() bool { return fastCalls.Load() == want })
		settle(t, w, 1) // only the slow one
	}
	require.EqualValues(t, 4, w.Stats().Skipped, "slow timer skipped the ticks while running")
	close(release)
	waitFor(t, "slow call done", func() bool { return slowCalls.Load() == 1 })
	settle(t, w, 0)
	w.Advance(1)
	waitFor(t, "slow timer fires again", func() bool { return slowCalls.Load() == 2 })
	require.EqualValues(t, 1, maxRunning.Load())
}

func TestPanicInCallback(t *testing.T) {
	var panics atomic.Int64
	w := New(Options{Tick: 10 * time.Millisecond, Slots: 4, OnPanic: func(any) { panics.Add(1) }})
	var n atomic.Int64
	w.Schedule(10*time.Millisecond, func() {
		n.Add(1)
		panic("boom")
	})
	w.Advance(1)
	waitFor(t, "panic reported", func() bool { return panics.Load() == 1 })
	// The timer is not busy anymore and keeps running.
	waitFor(t, "fires again", func() bool { w.Advance(1); return n.Load() >= 2 })
}

func TestRunDrivesTimersInRealTime(t *testing.T) {
	w := New(Options{Tick: time.Millisecond, Slots: 16})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	waitFor(t, "running", w.running.Load)
	require.ErrorIs(t, w.Run(ctx), ErrRunning)

	var n atomic.Int64
	start := time.Now()
	w.Schedule(5*time.Millisecond, func() { n.Add(1) })
	waitFor(t, "ten calls", func() bool { return n.Load() >= 10 })
	// Ten 5ms intervals cannot complete in less than 50ms.
	require.GreaterOrEqual(t, time.Since(start), 45*time.Millisecond)
	cancel()
	require.NoError(t, <-done)
}

func TestSlotsRoundedToPowerOfTwo(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{0, DefaultSlots}, {1, 1}, {3, 4}, {8, 8}, {1000, 1024}} {
		require.Len(t, New(Options{Slots: tc.in}).slots, tc.want, "slots %d", tc.in)
	}
}

// TestLagReportsLateTicks: every tick Run processes reports its lag; a
// wheel goroutine held up for a while reports a lag at least that long on
// the tick after.
func TestLagReportsLateTicks(t *testing.T) {
	const tick, stall = 5 * time.Millisecond, 60 * time.Millisecond
	lags := make(chan time.Duration, 1024)
	var n atomic.Int32
	w := New(Options{Tick: tick, OnLag: func(d time.Duration) {
		if n.Add(1) == 3 {
			time.Sleep(stall) // the wheel goroutine stalls on its third tick
		}
		select {
		case lags <- d:
		default:
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		_ = w.Run(ctx)
	}()
	require.Eventually(t, func() bool { return n.Load() >= 10 }, 5*time.Second, time.Millisecond)
	cancel()
	<-stopped
	close(lags)
	var seen []time.Duration
	for d := range lags {
		require.GreaterOrEqual(t, d, time.Duration(0))
		seen = append(seen, d)
	}
	require.GreaterOrEqual(t, len(seen), 10)
	require.GreaterOrEqual(t, seen[3], stall-3*tick, "the tick after the stall was late by about the stall: %v", seen)
	require.Less(t, seen[0], stall, "a tick before the stall was not late by a stall: %v", seen)
}

// TestRunWaitsForRunningCallbacks: Run returns only after the callbacks it
// started returned, so none runs after the daemon closed what they use.
func TestRunWaitsForRunningCallbacks(t *testing.T) {
	w := New(Options{Tick: time.Millisecond})
	entered, release := make(chan struct{}, 1), make(chan struct{})
	var after atomic.Bool
	w.Schedule(time.Millisecond, func() {
		select {
		case entered <- struct{}{}:
		default:
			return
		}
		<-release
		after.Store(true)
	})
	ctx, cancel := context.WithCancel(context.Background())
	returned := make(chan struct{})
	go func() {
		_ = w.Run(ctx)
		close(returned)
	}()
	<-entered
	cancel()
	require.Never(t, func() bool {
		select {
		case <-returned:
			return true
		default:
			return false
		}
	}, 50*time.Millisecond, time.Millisecond, "Run returned while a callback ran")
	close(release)
	<-returned
	require.True(t, after.Load())
	require.Zero(t, w.Stats().Running)
}
