package hub

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

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
