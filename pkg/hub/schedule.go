package hub

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/lease"
	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/timerwheel"
)

// Scheduled actions across nodes. When Deps.Leases is set, a room's
// scheduled actions run only on the node holding the room's lease
// ("sched:<hub>:<roomId>"), so a room with members on several nodes ticks
// once. One lease covers every action of the room: the lib module state
// they share lives on one node.
const (
	// leaseTTL is how long a granted lease lasts without renewal: a node
	// that dies hands its rooms over within about leaseTTL.
	leaseTTL = 6 * time.Second
	// leaseRenewAt: the holder renews once less than this is left.
	leaseRenewAt = leaseTTL / 2
	// leaseAskEvery: a node refused the lease asks again after this.
	leaseAskEvery = leaseTTL / 3
	// leaseUpkeepEvery is the period of the per-room timer that renews and
	// asks between ticks, for actions with intervals longer than that.
	leaseUpkeepEvery = leaseTTL / 6
	// leaseRetryAfterError spaces the calls while the backend fails.
	leaseRetryAfterError = leaseTTL / 6
	// leaseWantSuffix names the key that a node with members sets when it
	// is refused, asking a holder without members to hand the lease over.
	leaseWantSuffix = ":want"
)

// roomSchedule is the set of scheduled actions running for one room.
type roomSchedule struct {
	room   records.Record
	timers map[string]*timerwheel.Timer // by action name
	// lease is this node's view of the room's lease and upkeep its timer;
	// both nil without Deps.Leases.
	lease  *roomLease
	upkeep *timerwheel.Timer
}

// roomLease caches the answer of the leaser for one room, so that the
// leaser sees a couple of calls per room per leaseTTL, not one per tick.
// Calls to the leaser are made with the room's turn held (and mu), so they
// are ordered with the release of the lease (releaseLease).
type roomLease struct {
	key     string
	recheck atomic.Bool // ask at the next chance: members came or went

	mu     sync.Mutex
	held   bool      // the last answer granted the lease
	until  time.Time // when the last grant runs out, by the leaser's clock
	next   time.Time // no call to the leaser before this
	errors int       // consecutive failed calls
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
	if !def.hasLogic() {
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
		if h.deps.Leases != nil {
			// A lease borrowed for a send without members here goes on.
			if rs.lease = h.takeBorrowed(roomID); rs.lease == nil {
				rs.lease = &roomLease{key: h.leaseKey(roomID)}
			}
			rl := rs.lease
			rs.upkeep = w.Schedule(leaseUpkeepEvery, func() { h.leaseUpkeep(roomID, rl) })
		}
		l.sched[roomID] = rs
	} else if rs.lease != nil {
		// Members again on a node that kept keepAlive actions: ask now.
		rs.lease.recheck.Store(true)
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
	rs := l.sched[roomID]
	if rs == nil {
		l.mu.Unlock()
		return
	}
	for name, t := range rs.timers {
		if a := def.action(name); a != nil && a.keepAlive {
			continue
		}
		t.Stop()
		delete(rs.timers, name)
	}
	gone := len(rs.timers) == 0
	if gone {
		l.dropSchedule(roomID, rs)
	} else if rs.lease != nil {
		// Only keepAlive actions are left: hand the lease to a node with
		// members if one wants it (mayRun).
		rs.lease.recheck.Store(true)
	}
	l.mu.Unlock()
	if gone {
		h.releaseLease(roomID, rs.lease)
	}
}

// dropSchedule removes the room's schedule; l.mu must be held.
func (l *logicState) dropSchedule(roomID string, rs *roomSchedule) {
	if rs.upkeep != nil {
		rs.upkeep.Stop()
	}
	delete(l.sched, roomID)
}

// scheduleOf returns the room record, its lease view (nil without
// leases) and whether the action still runs.
func (l *logicState) scheduleOf(roomID, name string) (records.Record, *roomLease, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	rs := l.sched[roomID]
	if rs == nil {
		return nil, nil, false
	}
	_, ok := rs.timers[name]
	return rs.room, rs.lease, ok
}

// leaseOf returns the lease view of the room's running schedule.
func (l *logicState) leaseOf(roomID string) *roomLease {
	l.mu.Lock()
	defer l.mu.Unlock()
	if rs := l.sched[roomID]; rs != nil {
		return rs.lease
	}
	return nil
}

// forget removes one action of a room (it stopped itself); the room's
// lease goes with its last action.
func (h *Hub) forget(roomID, name string, t *timerwheel.Timer) {
	t.Stop()
	l := &h.logic
	l.mu.Lock()
	rs := l.sched[roomID]
	if rs == nil || rs.timers[name] != t {
		l.mu.Unlock()
		return
	}
	delete(rs.timers, name)
	gone := len(rs.timers) == 0
	if gone {
		l.dropSchedule(roomID, rs)
	}
	l.mu.Unlock()
	if gone {
		h.releaseLease(roomID, rs.lease)
	}
}

// hasLogic reports whether the hub runs room logic (message handlers, a
// state script or scheduled actions), which has one owner per room.
func (d *Definition) hasLogic() bool {
	return d.state != nil || (d.logic != nil && (len(d.logic.handlers) > 0 || len(d.logic.actions) > 0))
}

// hasKeepAlive reports whether an action of the hub runs without members.
func (d *Definition) hasKeepAlive() bool {
	if d.logic == nil {
		return false
	}
	for _, a := range d.logic.actions {
		if a.keepAlive {
			return true
		}
	}
	return false
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
// logged and counted; the next tick simply tries again. A tick on a node
// that does not hold the room's lease does nothing.
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
	room, rl, scheduled := h.logic.scheduleOf(run.roomID, run.name)
	if closed || a == nil || !scheduled || (!a.keepAlive && h.room(run.roomID) == nil) {
		h.forget(run.roomID, run.name, run.timer)
		return
	}
	if rl != nil && !h.mayRun(ctx, run.roomID, rl) {
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

// mayRun reports whether this node runs the room's scheduled actions now.
// It asks the leaser only when the cached answer is due: the holder renews
// once less than leaseRenewAt is left, a refused node asks again after
// leaseAskEvery. A holder whose room has no members here (keepAlive
// actions only) hands the lease over when a node with members wants it.
// While the leaser fails, the last grant holds until it runs out by the
// local clock. Called with the room's turn held.
func (h *Hub) mayRun(ctx context.Context, roomID string, rl *roomLease) bool {
	ls := h.deps.Leases
	rl.mu.Lock()
	defer rl.mu.Unlock()
	now := lease.Now(ls)
	if recheck := rl.recheck.Swap(false); now.Before(rl.next) && !recheck {
		return rl.held && now.Before(rl.until)
	}
	members := h.room(roomID) != nil
	want := rl.key + leaseWantSuffix
	if rl.held && !members {
		// A want key held by another node: a node with members asked for
		// the lease.
		free, err := ls.Acquire(ctx, want, leaseTTL)
		if err == nil && free {
			err = ls.Release(ctx, want)
		}
		if err != nil {
			return h.leaseFailed(roomID, rl, now, err)
		}
		if !free {
			rl.held = false
			rl.next = now.Add(leaseTTL) // leave the node with members time to take it
			if err := ls.Release(ctx, rl.key); err != nil {
				return h.leaseFailed(roomID, rl, now, err)
			}
			h.log.Debug("scheduled actions handed over to a node with members", zap.String("room", roomID))
			rl.errors = 0
			return false
		}
	}
	ok, err := ls.Acquire(ctx, rl.key, leaseTTL)
	if err != nil {
		return h.leaseFailed(roomID, rl, now, err)
	}
	if rl.errors > 0 {
		h.log.Info("schedule lease recovered", zap.String("room", roomID), zap.Int("failures", rl.errors))
		rl.errors = 0
	}
	if ok && !rl.held {
		h.log.Debug("running the room's scheduled actions on this node", zap.String("room", roomID))
	}
	rl.held = ok
	if ok {
		rl.until = now.Add(leaseTTL) // measured from before the call: never later than the leaser's
		rl.next = rl.until.Add(-leaseRenewAt)
		return true
	}
	rl.next = now.Add(leaseAskEvery)
	if members && h.Definition().hasKeepAlive() {
		// Ask a holder without members to hand over; best effort.
		if _, err := ls.Acquire(ctx, want, leaseTTL); err != nil {
			h.leaseFailed(roomID, rl, now, err)
		}
	}
	return false
}

// leaseFailed logs (rate-limited) and counts a failed lease call, spaces
// the next one, and reports whether the last grant still holds.
func (h *Hub) leaseFailed(roomID string, rl *roomLease, now time.Time, err error) bool {
	rl.errors++
	h.countLeaseError()
	if rl.errors == 1 || rl.errors%failureLogEvery == 0 {
		h.log.Warn("schedule lease failed; running only while the last grant holds", zap.String("room", roomID),
			zap.Bool("held", rl.held && now.Before(rl.until)), zap.Int("failures", rl.errors), zap.Error(err))
	}
	rl.next = now.Add(leaseRetryAfterError)
	return rl.held && now.Before(rl.until)
}

func (h *Hub) countLeaseError() {
	if mt := h.deps.Metrics; mt != nil {
		mt.ScheduleLeaseErrors.WithLabelValues(h.name).Inc()
	}
}

// leaseUpkeep renews or asks for the room's lease between ticks, so that
// a holder whose actions tick less often than leaseRenewAt keeps it.
func (h *Hub) leaseUpkeep(roomID string, rl *roomLease) {
	rl.mu.Lock()
	due := !lease.Now(h.deps.Leases).Before(rl.next) || rl.recheck.Load()
	rl.mu.Unlock()
	if !due {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.deps.OpTimeout)
	defer cancel()
	release, err := h.logic.acquire(ctx, roomID)
	if err != nil {
		return
	}
	defer release()
	if h.logic.leaseOf(roomID) != rl {
		return // stopped meanwhile
	}
	h.mayRun(ctx, roomID, rl)
}

// releaseLease gives up the room's lease once its schedule stopped here,
// so that a node with members takes over at once instead of waiting for
// the lease to run out. It runs in the background (StopSchedules waits for
// it) with the room's turn held, so no call of mayRun comes between; a
// schedule started here again meanwhile keeps the lease.
func (h *Hub) releaseLease(roomID string, rl *roomLease) {
	if rl == nil {
		return
	}
	h.logic.releasing.Add(1)
	go func() {
		defer h.logic.releasing.Done()
		ctx, cancel := context.WithTimeout(context.Background(), h.deps.OpTimeout)
		defer cancel()
		h.releaseLeaseNow(ctx, roomID, rl)
	}()
}

func (h *Hub) releaseLeaseNow(ctx context.Context, roomID string, rl *roomLease) {
	release, err := h.logic.acquire(ctx, roomID)
	if err != nil {
		return
	}
	defer release()
	if h.logic.leaseOf(roomID) != nil {
		return // running here again: this node keeps the lease
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	rl.held = false
	// Also withdraw this node's request, if any, so that a holder
	// without members does not hand over for nobody.
	for _, key := range []string{rl.key, rl.key + leaseWantSuffix} {
		if err := h.deps.Leases.Release(ctx, key); err != nil {
			h.countLeaseError()
			h.log.Warn("schedule lease not released; it runs out by itself", zap.String("room", roomID), zap.Error(err))
			return
		}
	}
}

// StopSchedules stops every scheduled action of the hub, keepAlive ones
// too, and gives up their rooms' leases, waiting for the releases (also
// those already under way) until ctx ends: on shutdown, another node takes
// the rooms over at once instead of when the leases run out.
func (h *Hub) StopSchedules(ctx context.Context) {
	l := &h.logic
	type stopped struct {
		room string
		rl   *roomLease
	}
	var leases []stopped
	l.mu.Lock()
	for roomID, rs := range l.sched {
		for name, t := range rs.timers {
			t.Stop()
			delete(rs.timers, name)
		}
		l.dropSchedule(roomID, rs)
		if rs.lease != nil {
			leases = append(leases, stopped{roomID, rs.lease})
		}
	}
	l.mu.Unlock()
	for _, s := range leases {
		h.releaseLease(s.room, s.rl)
	}
	done := make(chan struct{})
	go func() {
		l.releasing.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
}
