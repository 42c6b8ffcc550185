package hub

import (
	"context"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/timerwheel"
)

// roomSchedule is the set of scheduled actions running for one room.
type roomSchedule struct {
	room   records.Record
	timers map[string]*timerwheel.Timer // by action name
}

// actionRun is one scheduled action of one room on the wheel. Its tick
// never overlaps itself (the wheel guarantees it), so failures needs no lock.
type actionRun struct {
	h        *Hub
	roomID   string
	name     string
	timer    *timerwheel.Timer
	failures int // consecutive
}

// startSchedule starts the room's scheduled actions that are not running
// yet; called when the first member joins on this node.
func (h *Hub) startSchedule(roomID string, room records.Record) {
	def := h.Definition()
	w := h.deps.Wheel
	if def.logic == nil || len(def.logic.actions) == 0 {
		return
	}
	if w == nil {
		h.log.Debug("no timer wheel: scheduled actions disabled", zap.String("room", roomID))
		return
	}
	l := &h.logic
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sched == nil {
		l.sched = make(map[string]*roomSchedule)
	}
	rs := l.sched[roomID]
	if rs == nil {
		rs = &roomSchedule{timers: make(map[string]*timerwheel.Timer)}
		l.sched[roomID] = rs
	}
	rs.room = room
	for _, a := range def.logic.actions {
		if _, running := rs.timers[a.name]; running {
			continue
		}
		run := &actionRun{h: h, roomID: roomID, name: a.name}
		run.timer = w.Schedule(a.interval, run.tick)
		rs.timers[a.name] = run.timer
	}
}

// stopSchedule stops the room's scheduled actions except keepAlive ones;
// called when the last member leaves on this node. A member who joined in
// between keeps them running.
func (h *Hub) stopSchedule(roomID string) {
	if r := h.room(roomID); r != nil && r.memberCount() > 0 {
		return
	}
	def := h.Definition()
	l := &h.logic
	l.mu.Lock()
	defer l.mu.Unlock()
	rs := l.sched[roomID]
	if rs == nil {
		return
	}
	for name, t := range rs.timers {
		if a := def.action(name); a != nil && a.keepAlive {
			continue
		}
		t.Stop()
		delete(rs.timers, name)
	}
	if len(rs.timers) == 0 {
		delete(l.sched, roomID)
	}
}

// scheduleOf returns the room record and whether the action still runs.
func (l *logicState) scheduleOf(roomID, name string) (records.Record, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rs := l.sched[roomID]
	if rs == nil {
		return nil, false
	}
	_, ok := rs.timers[name]
	return rs.room, ok
}

// forget removes one action of a room (it stopped itself).
func (l *logicState) forget(roomID, name string, t *timerwheel.Timer) {
	t.Stop()
	l.mu.Lock()
	defer l.mu.Unlock()
	rs := l.sched[roomID]
	if rs == nil || rs.timers[name] != t {
		return
	}
	delete(rs.timers, name)
	if len(rs.timers) == 0 {
		delete(l.sched, roomID)
	}
}

// memberCount returns the number of members in the room.
func (r *room) memberCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.members)
}

// failureLogEvery limits the logs of an action that keeps failing: the
// first failure and then every failureLogEvery-th consecutive one.
const failureLogEvery = 100

// tick runs one scheduled action for one room. It stops the timer when the
// hub is closed, the action was removed by a reload, or the room has no
// members left (and the action is not keepAlive). A failing script is
// logged and counted; the next tick simply tries again.
func (run *actionRun) tick() {
	h := run.h
	ctx, cancel := context.WithTimeout(context.Background(), h.deps.OpTimeout)
	defer cancel()
	release, err := h.logic.acquire(ctx, run.roomID)
	if err != nil {
		run.failed("room queue", err)
		return
	}
	defer release()
	// Checked with the room's turn held, so that once stopSchedule returned
	// and the queue drained no further tick of a stopped action runs.
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	def := h.Definition()
	a := def.action(run.name)
	room, scheduled := h.logic.scheduleOf(run.roomID, run.name)
	if closed || a == nil || !scheduled || (!a.keepAlive && h.room(run.roomID) == nil) {
		h.logic.forget(run.roomID, run.name, run.timer)
		return
	}
	out, err := def.Scripts.Eval(ctx, a.prog, run.roomID, map[string]any{
		"roomId": run.roomID, "room": h.logic.frozen.record(room),
	})
	if err != nil {
		run.failed("script", err)
		return
	}
	res, err := parseResult(out, def.Spec, false)
	if err != nil {
		h.countScriptError(ScriptKindScheduled)
		run.failed("invalid result", err)
		return
	}
	if run.failures > 0 {
		h.log.Info("scheduled action recovered", zap.String("action", run.name), zap.String("room", run.roomID),
			zap.Int("failures", run.failures))
		run.failures = 0
	}
	h.sendServerMessages(ctx, run.roomID, res.server, "")
}

func (run *actionRun) failed(what string, err error) {
	run.failures++
	if run.failures == 1 || run.failures%failureLogEvery == 0 {
		run.h.log.Warn("scheduled action failed; retrying on the next tick", zap.String("action", run.name),
			zap.String("room", run.roomID), zap.String("stage", what), zap.Int("failures", run.failures), zap.Error(err))
	}
}
