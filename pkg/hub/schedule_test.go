package hub

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/lease"
	"github.com/hubd/hubd/pkg/lease/leasetest"
	"github.com/hubd/hubd/pkg/metrics"
	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/scripting"
)

// libStats reads the per-room counters of testdata/logic/lib/logic.js.
func (e *logicEnv) libStats(t testing.TB, roomID string) (beats, forevers int64) {
	t.Helper()
	p, err := scripting.Compile("lib.logic.stats(roomId)")
	require.NoError(t, err)
	v, err := e.eng.Eval(context.Background(), p, roomID, map[string]any{"roomId": roomID})
	require.NoError(t, err)
	m := v.(map[string]any)
	return m["beats"].(int64), m["forevers"].(int64)
}

func (e *logicEnv) libCall(t testing.TB, roomID, src string) {
	t.Helper()
	p, err := scripting.Compile(src)
	require.NoError(t, err)
	_, err = e.eng.Eval(context.Background(), p, roomID, map[string]any{"roomId": roomID})
	require.NoError(t, err)
}

// beatsStored counts the stored "beat" server messages of a room.
func (e *logicEnv) beatsStored(t testing.TB, roomID string) int {
	n := 0
	for _, m := range e.stored(t, roomID) {
		if m.SenderID == SystemSender && contentOf(t, m)["systemAction"] == "beat" {
			n++
		}
	}
	return n
}

// until advances the wheel one interval at a time until cond holds.
func (e *logicEnv) until(t testing.TB, what string, cond func() bool) {
	t.Helper()
	require.Eventually(t, func() bool {
		if cond() {
			return true
		}
		e.wheel.Advance(10)
		return false
	}, 5*time.Second, time.Millisecond, what)
}

func TestScheduledActionsStartAndStopWithTheRoom(t *testing.T) {
	env := newLogicEnv(t, scripting.Options{Runtimes: 2})
	const room = "arena1"
	env.addMember(room, "u1")
	env.h.roomActive(room, records.Record{"id": room, "title": "Main arena"})
	require.Equal(t, 2, env.wheel.Stats().Timers, "beat and forever")

	env.until(t, "three beats stored", func() bool { return env.beatsStored(t, room) >= 3 })
	first := env.stored(t, room)[0]
	require.Equal(t, SystemSender, first.SenderID)
	require.Equal(t, map[string]any{"systemAction": "beat", "systemData": map[string]any{"n": float64(1), "title": "Main arena"}},
		contentOf(t, first), "the script sees roomId and room")

	// Last member leaves: beat stops, the keepAlive action goes on.
	env.removeMember(room, "u1")
	env.h.roomIdle(room)
	require.Equal(t, 1, env.wheel.Stats().Timers)
	// Let a beat that was already running finish.
	release, err := env.h.logic.acquire(context.Background(), room)
	require.NoError(t, err)
	release()
	beats, forevers := env.libStats(t, room)
	env.until(t, "forever keeps ticking", func() bool { _, f := env.libStats(t, room); return f >= forevers+3 })
	b, _ := env.libStats(t, room)
	require.Equal(t, beats, b, "beat stopped")

	// A rejoin starts beat again without a second forever.
	env.addMember(room, "u2")
	env.h.roomActive(room, records.Record{"id": room})
	require.Equal(t, 2, env.wheel.Stats().Timers)
	env.until(t, "beat again", func() bool { b, _ := env.libStats(t, room); return b > beats })
}

func TestScheduledActionStopsWithoutMembers(t *testing.T) {
	env := newLogicEnv(t, scripting.Options{Runtimes: 1})
	// roomActive raced with the last leave: nobody is in the room.
	env.h.roomActive("ghost", nil)
	require.Equal(t, 2, env.wheel.Stats().Timers)
	env.until(t, "beat stopped itself", func() bool { return env.wheel.Stats().Timers == 1 })
	require.Zero(t, env.beatsStored(t, "ghost"))
}

func TestIdleDoesNotStopARejoinedRoom(t *testing.T) {
	env := newLogicEnv(t, scripting.Options{Runtimes: 1})
	env.addMember("r", "u1")
	env.h.roomActive("r", nil)
	// A late roomIdle from an earlier leave finds a member: nothing stops.
	env.h.roomIdle("r")
	require.Equal(t, 2, env.wheel.Stats().Timers)
}

func TestScheduledActionFailureIsRetried(t *testing.T) {
	env := newLogicEnv(t, scripting.Options{Runtimes: 1})
	var mu sync.Mutex
	var errs []string
	env.eng.SetObserver(func(kind string, _ time.Duration, err error) {
		if err != nil {
			mu.Lock()
			errs = append(errs, kind)
			mu.Unlock()
		}
	})
	const room = "failing1"
	env.addMember(room, "u1")
	env.h.roomActive(room, nil)
	env.until(t, "several failing beats", func() bool { b, _ := env.libStats(t, room); return b >= 3 })
	require.Equal(t, 2, env.wheel.Stats().Timers, "the action keeps its timer")
	require.Zero(t, env.beatsStored(t, room))
	env.eng.SetObserver(nil)
	mu.Lock()
	defer mu.Unlock()
	require.Contains(t, errs, ScriptKindScheduled)
}

func TestSlowTickIsNotOverlapped(t *testing.T) {
	env := newLogicEnv(t, scripting.Options{Runtimes: 2})
	const room = "slow"
	env.addMember(room, "u1")
	env.libCall(t, room, "lib.logic.setSlowBeat(roomId, 100)")
	env.h.roomActive(room, nil)
	env.until(t, "ticks skipped while one runs", func() bool { return env.wheel.Stats().Skipped > 0 })
	env.until(t, "the slow beat completes", func() bool { return env.beatsStored(t, room) >= 1 })
	// Messages are numbered by the script in call order: no tick ran twice
	// at once, so every number appears once and in order.
	for i, m := range env.stored(t, room) {
		require.EqualValues(t, i+1, contentOf(t, m)["systemData"].(map[string]any)["n"])
	}
}

func TestClosedHubStopsKeepAliveActions(t *testing.T) {
	env := newLogicEnv(t, scripting.Options{Runtimes: 1})
	env.addMember("r", "u1")
	env.h.roomActive("r", nil)
	env.h.Close("test")
	env.until(t, "all timers gone", func() bool { return env.wheel.Stats().Timers == 0 })
}

// cluster is two hubs of one spec on two "nodes": each has its own wheel
// and script engine (so its own lib module state), and they share leases.
type cluster struct {
	a, b   *logicEnv
	la, lb *lease.Local
	clock  *leasetest.FakeClock
}

func newCluster(t *testing.T, specFile string) *cluster {
	t.Helper()
	clk := leasetest.NewFakeClock(time.Unix(1_700_000_000, 0))
	c := &cluster{clock: clk, la: lease.NewLocalClock(clk.Now)}
	c.lb = c.la.Peer()
	c.a = newLogicEnvFrom(t, specFile, scripting.Options{Runtimes: 1})
	c.b = newLogicEnvFrom(t, specFile, scripting.Options{Runtimes: 1})
	// Set before any room starts: nothing reads them concurrently yet.
	c.a.h.deps.Leases, c.b.h.deps.Leases = c.la, c.lb
	return c
}

// until advances both wheels (nodes listed in frozen stay still) until
// cond holds.
func (c *cluster) until(t *testing.T, what string, cond func() bool, frozen ...*logicEnv) {
	t.Helper()
	require.Eventually(t, func() bool {
		if cond() {
			return true
		}
		for _, e := range []*logicEnv{c.a, c.b} {
			if !contains(frozen, e) {
				e.wheel.Advance(10)
			}
		}
		return false
	}, 10*time.Second, time.Millisecond, what)
}

// turns advances both wheels by n ticks, 10 at a time, letting each tick
// finish before the next.
func (c *cluster) turns(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i += 10 {
		c.a.wheel.Advance(10)
		c.b.wheel.Advance(10)
		for _, e := range []*logicEnv{c.a, c.b} {
			require.Eventually(t, func() bool { return e.wheel.Stats().Running == 0 }, 5*time.Second, time.Millisecond)
		}
	}
}

// holdOnA gives room a member on node a and waits until cond shows a
// ticking; a then holds the room's lease, whose key it returns.
func (c *cluster) holdOnA(t *testing.T, room string, cond func() bool) string {
	t.Helper()
	key := "sched:" + c.a.h.Name() + ":" + room
	c.a.addMember(room, "u1")
	c.a.h.roomActive(room, nil)
	c.until(t, "a ticks", cond)
	require.Equal(t, c.la.Node(), c.la.Holder(key))
	return key
}

func contains(list []*logicEnv, e *logicEnv) bool {
	for _, x := range list {
		if x == e {
			return true
		}
	}
	return false
}

func TestScheduledActionsRunOnTheLeaseHolderOnly(t *testing.T) {
	c := newCluster(t, "testdata/logic/hub.yaml")
	const room = "shared"
	key := c.holdOnA(t, room, func() bool { b, _ := c.a.libStats(t, room); return b >= 3 })
	require.Equal(t, 3, c.a.wheel.Stats().Timers, "beat, forever and the lease upkeep")

	// b gets members too: its ticks find the lease taken and do nothing.
	c.b.addMember(room, "u2")
	c.b.h.roomActive(room, nil)
	beatsA, _ := c.a.libStats(t, room)
	c.until(t, "a keeps ticking", func() bool { b, _ := c.a.libStats(t, room); return b >= beatsA+20 })
	c.turns(t, 100)
	beats, forevers := c.b.libStats(t, room)
	require.Zero(t, beats+forevers, "no action ran on b")
	require.Zero(t, c.b.beatsStored(t, room))
	require.Equal(t, 3, c.b.wheel.Stats().Timers, "b's timers wait for the lease")

	// The lease is renewed across its ttl by the holder.
	for i := 0; i < 4; i++ {
		c.clock.Advance(leaseTTL / 3)
		c.turns(t, 1100)
	}
	require.Equal(t, c.la.Node(), c.la.Holder(key), "a renewed it")
	beats, forevers = c.b.libStats(t, room)
	require.Zero(t, beats+forevers)

	// a's last member leaves: a keeps only the keepAlive action and hands
	// the room over to b, which has members and asked for it.
	c.a.removeMember(room, "u1")
	c.a.h.roomIdle(room)
	c.until(t, "a gave the lease up", func() bool { return c.la.Holder(key) != c.la.Node() })
	c.clock.Advance(leaseAskEvery)
	c.until(t, "b ticks", func() bool { b, _ := c.b.libStats(t, room); return b >= 3 })
	require.Equal(t, c.lb.Node(), c.la.Holder(key))
	c.turns(t, 100)
	_, forevers = c.a.libStats(t, room)
	c.until(t, "b keeps ticking", func() bool { b, _ := c.b.libStats(t, room); return b >= 20 })
	_, f := c.a.libStats(t, room)
	require.Equal(t, forevers, f, "a's keepAlive action no longer runs")
	require.Equal(t, 2, c.a.wheel.Stats().Timers, "a keeps its keepAlive timer, waiting")
}

func TestScheduleLeaseHandoverOnLeaveAndExpiry(t *testing.T) {
	c := newCluster(t, "testdata/logic/ticks.yaml")
	const room = "r1"
	ticks := func(e *logicEnv) int64 { _, n := e.libStats(t, room); return n }

	key := c.holdOnA(t, room, func() bool { return ticks(c.a) >= 1 })
	c.b.addMember(room, "u2")
	c.b.h.roomActive(room, nil)
	c.turns(t, 3000)
	require.Zero(t, ticks(c.b))
	n := ticks(c.a)
	require.GreaterOrEqual(t, n, int64(3))

	// The holder's room empties: its schedule stops and the lease is
	// released at once, so b takes over on its next ask.
	c.a.removeMember(room, "u1")
	c.a.h.roomIdle(room)
	require.Zero(t, c.a.wheel.Stats().Timers, "the action and the upkeep stopped")
	c.until(t, "released", func() bool { return c.la.Holder(key) == "" })
	c.clock.Advance(leaseAskEvery)
	c.until(t, "b ticks", func() bool { return ticks(c.b) >= 2 })
	require.Equal(t, c.lb.Node(), c.la.Holder(key))
	require.Equal(t, n, ticks(c.a))

	// a has members again; then b dies (its wheel stops): a takes over
	// once b's lease has run out, not before.
	c.a.addMember(room, "u3")
	c.a.h.roomActive(room, nil)
	c.turns(t, 3000)
	require.Equal(t, n, ticks(c.a), "b still holds the lease")
	c.clock.Advance(leaseTTL)
	c.until(t, "a took over from the dead b", func() bool { return ticks(c.a) >= n+2 }, c.b)
	require.Equal(t, c.la.Node(), c.la.Holder(key))
}

// flakyLeaser fails every call while down is set.
type flakyLeaser struct {
	lease.Leaser
	down  atomic.Bool
	calls atomic.Int64
}

var errLeaseDown = errors.New("lease backend down")

func (f *flakyLeaser) Acquire(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	f.calls.Add(1)
	if f.down.Load() {
		return false, errLeaseDown
	}
	return f.Leaser.Acquire(ctx, key, ttl)
}

func (f *flakyLeaser) Release(ctx context.Context, key string) error {
	f.calls.Add(1)
	if f.down.Load() {
		return errLeaseDown
	}
	return f.Leaser.Release(ctx, key)
}

func (f *flakyLeaser) Now() time.Time { return lease.Now(f.Leaser) }

func TestScheduleLeaseErrors(t *testing.T) {
	clk := leasetest.NewFakeClock(time.Unix(1_700_000_000, 0))
	ls := &flakyLeaser{Leaser: lease.NewLocalClock(clk.Now)}
	env := newLogicEnv(t, scripting.Options{Runtimes: 1})
	env.h.deps.Leases = ls
	env.h.deps.Metrics = metrics.NewUnregistered()
	errorsCounted := func() float64 {
		var m dto.Metric
		require.NoError(t, env.h.deps.Metrics.ScheduleLeaseErrors.WithLabelValues(env.h.Name()).Write(&m))
		return m.GetCounter().GetValue()
	}
	const room = "r"
	env.addMember(room, "u1")
	env.h.roomActive(room, nil)
	env.until(t, "ticks", func() bool { b, _ := env.libStats(t, room); return b >= 3 })
	calls := ls.calls.Load()
	env.until(t, "many ticks", func() bool { b, _ := env.libStats(t, room); return b >= 50 })
	require.Equal(t, calls, ls.calls.Load(), "a held lease is not asked for on every tick")

	// The backend fails: the last grant still holds, ticks go on.
	ls.down.Store(true)
	clk.Advance(leaseTTL - leaseRenewAt)
	env.until(t, "a failed renewal", func() bool { return errorsCounted() >= 1 })
	beats, _ := env.libStats(t, room)
	env.until(t, "ticks while the grant holds", func() bool { b, _ := env.libStats(t, room); return b >= beats+10 })

	// Once the grant ran out by the local clock, ticks are skipped.
	clk.Advance(leaseRenewAt)
	env.until(t, "the next call failed too", func() bool { return errorsCounted() >= 2 })
	for i := 0; i < 5; i++ {
		env.wheel.Advance(100)
		require.Eventually(t, func() bool { return env.wheel.Stats().Running == 0 }, 5*time.Second, time.Millisecond)
	}
	beats, forevers := env.libStats(t, room)
	for i := 0; i < 5; i++ {
		env.wheel.Advance(100)
		require.Eventually(t, func() bool { return env.wheel.Stats().Running == 0 }, 5*time.Second, time.Millisecond)
	}
	b, f := env.libStats(t, room)
	require.Equal(t, beats, b, "no tick without a valid lease")
	require.Equal(t, forevers, f)

	// The backend is back: ticks resume at the next ask.
	ls.down.Store(false)
	clk.Advance(leaseRetryAfterError)
	env.until(t, "ticks again", func() bool { b, _ := env.libStats(t, room); return b >= beats+3 })
	require.Equal(t, 3, env.wheel.Stats().Timers, "timers were kept throughout")
}

func TestClosedHubReleasesItsLeases(t *testing.T) {
	c := newCluster(t, "testdata/logic/hub.yaml")
	const room = "r"
	key := c.holdOnA(t, room, func() bool { b, _ := c.a.libStats(t, room); return b >= 1 })
	c.a.h.Close("test")
	c.until(t, "all timers gone, the upkeep too", func() bool { return c.a.wheel.Stats().Timers == 0 })
	c.until(t, "released", func() bool { return c.la.Holder(key) == "" })
	require.Zero(t, c.la.Len(), "no want key left either")
}

// TestStopSchedulesReleasesEveryLease: on shutdown the node stops every
// action, keepAlive ones too (the room still has members here), and gives
// up the room's lease before StopSchedules returns, so that the other node
// with members takes the room over at once.
func TestStopSchedulesReleasesEveryLease(t *testing.T) {
	c := newCluster(t, "testdata/logic/hub.yaml")
	const room = "r"
	key := c.holdOnA(t, room, func() bool { b, _ := c.a.libStats(t, room); return b >= 1 })
	c.b.addMember(room, "u2")
	c.b.h.roomActive(room, nil)
	require.Equal(t, c.la.Node(), c.la.Holder(key))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c.a.h.StopSchedules(ctx)
	require.Empty(t, c.la.Holder(key), "released before StopSchedules returned")
	require.Zero(t, c.a.wheel.Stats().Timers, "keepAlive and upkeep timers stopped too")
	beats, _ := c.b.libStats(t, room)
	c.until(t, "b takes over without waiting for the lease to run out",
		func() bool { n, _ := c.b.libStats(t, room); return n > beats }, c.a)
	require.Equal(t, c.lb.Node(), c.la.Holder(key))
}
