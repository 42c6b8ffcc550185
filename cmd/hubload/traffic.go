package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
)

// trafficPlan says, per client index, which room it joins and whether it sends.
// Its clients are numbered 0..n-1 and use the tokens from+i.
type trafficPlan struct {
	from, n  int
	roomOf   func(i int) string
	isSender func(i int) bool
	rate     float64 // messages/s per sender
}

// senderResult is owned by one sender goroutine.
type senderResult struct {
	sentInWindow int64
	sendErrors   int64
	skipped      int64 // sends dropped because the sender fell behind
	room         string
}

// runFanout: all clients in one room, the first --senders of them emit.
func (r *runner) runFanout(ctx context.Context) (*Report, error) {
	room := r.cfg.RoomPrefix + "0"
	plan := trafficPlan{
		n:        r.cfg.Clients,
		roomOf:   func(int) string { return room },
		isSender: func(i int) bool { return i < r.cfg.Senders },
		rate:     r.cfg.Rate / float64(r.cfg.Senders),
	}
	return r.runTraffic(ctx, plan)
}

// runRooms: --rooms rooms of clients/rooms members, every client emits.
func (r *runner) runRooms(ctx context.Context) (*Report, error) {
	plan := trafficPlan{
		n:        r.cfg.Clients,
		roomOf:   func(i int) string { return fmt.Sprintf("%s%d", r.cfg.RoomPrefix, i%r.cfg.Rooms) },
		isSender: func(int) bool { return true },
		rate:     r.cfg.Rate / float64(r.cfg.Clients),
	}
	return r.runTraffic(ctx, plan)
}

func (r *runner) runTraffic(ctx context.Context, plan trafficPlan) (*Report, error) {
	win := &window{}
	// Until the window is set nothing counts.
	win.start.Store(1<<63 - 1)
	win.end.Store(1<<63 - 1)

	rr := r.ramp(ctx, plan.from, plan.n, func(i int, c *client) error {
		inflight := 0
		if r.cfg.ClosedLoop {
			inflight = r.cfg.Inflight
		}
		c.measure(win, plan.isSender(i), inflight)
		if err := c.join(plan.roomOf(i)); err != nil {
			return err
		}
		c.start()
		return nil
	})
	defer closeAll(rr.clients, r.cfg.Concurrency)
	if rr.opened == 0 {
		return nil, fmt.Errorf("no client connected: %v", r.errs.snapshot())
	}

	members := map[string]int64{}
	var senders []*client
	for i, c := range rr.clients {
		if c == nil {
			continue
		}
		members[plan.roomOf(i)]++
		if plan.isSender(i) {
			senders = append(senders, c)
		}
	}
	if len(senders) == 0 {
		return nil, fmt.Errorf("no sender connected: %v", r.errs.snapshot())
	}

	start := time.Now().Add(r.cfg.Warmup)
	end := start.Add(r.cfg.Duration)
	win.start.Store(start.UnixNano())
	win.end.Store(end.UnixNano())
	if r.cfg.ClosedLoop {
		r.log.Info("sending, closed loop", zap.Int("senders", len(senders)), zap.Int("inflight", r.cfg.Inflight),
			zap.Duration("warmup", r.cfg.Warmup), zap.Duration("duration", r.cfg.Duration))
	} else {
		r.log.Info("sending", zap.Int("senders", len(senders)), zap.Float64("ratePerSender", plan.rate),
			zap.Duration("warmup", r.cfg.Warmup), zap.Duration("duration", r.cfg.Duration))
	}

	cpuDone := make(chan *CPUStats, 1)
	go func() {
		cpuDone <- r.cpuOver(ctx, start, end)
	}()

	results := make([]senderResult, len(senders))
	interval := time.Duration(float64(time.Second) / plan.rate)
	var wg sync.WaitGroup
	for k, c := range senders {
		wg.Add(1)
		// Spread the senders' phases over one interval.
		offset := time.Duration(int64(interval) * int64(k) / int64(len(senders)))
		results[k].room = plan.roomOf(c.id)
		go func(c *client, res *senderResult) {
			defer wg.Done()
			if r.cfg.ClosedLoop {
				r.closedLoop(ctx, c, win, []byte(quote(res.room)), end, res)
				return
			}
			r.openLoop(ctx, c, win, []byte(quote(res.room)), interval, offset, end, res)
		}(c, &results[k])
	}
	wg.Wait()

	var sent, expected, sendErrs, skipped int64
	for _, s := range results {
		sent += s.sentInWindow
		expected += s.sentInWindow * members[s.room]
		sendErrs += s.sendErrors
		skipped += s.skipped
	}
	cpu := <-cpuDone
	r.drain(ctx, rr.clients, expected, sent)
	closeAll(rr.clients, r.cfg.Concurrency)

	var lat, ackLat histogram
	var inWin, ofWin, acksOKIn, acksOf, acksOKOf, unparsed int64
	for _, c := range rr.clients {
		if c == nil {
			continue
		}
		st := c.stats
		inWin += st.deliveredInWindow.Load()
		ofWin += st.deliveredOfWindow.Load()
		acksOKIn += st.acksOKInWindow.Load()
		acksOf += st.acksOfWindow.Load()
		acksOKOf += st.acksOKOfWindow.Load()
		unparsed += st.unparsed.Load()
		lat.merge(&st.latency)
		ackLat.merge(&st.ackLatency)
	}
	secs := r.cfg.Duration.Seconds()
	rep := &Report{
		Connect: ptr(r.connectStats(rr)),
		CPU:     cpu,
		Traffic: &TrafficStats{
			Rooms:             len(members),
			Senders:           len(senders),
			Mode:              loopMode(r.cfg),
			Inflight:          inflightOf(r.cfg),
			TargetRate:        targetRate(r.cfg),
			Sent:              sent,
			SendRate:          float64(sent) / secs,
			SendWriteErrors:   sendErrs,
			SkippedBehind:     skipped,
			Expected:          expected,
			Delivered:         ofWin,
			DeliveredPerSec:   float64(inWin) / secs,
			Latency:           lat.summary(),
			AcksOK:            acksOKOf,
			AcksFailed:        acksOf - acksOKOf,
			AcksMissing:       sent - acksOf,
			PersistedPerSec:   float64(acksOKIn) / secs,
			AckLatency:        ackLat.summary(),
			UnparsedDelivered: unparsed,
		},
	}
	return rep, nil
}

// drain waits until every window send was delivered and acked, or until
// cfg.Drain passes; it polls the readers' atomic counters.
func (r *runner) drain(ctx context.Context, clients []*client, expected, sent int64) {
	deadline := time.Now().Add(r.cfg.Drain)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		var got, acks int64
		for _, c := range clients {
			if c != nil {
				got += c.stats.deliveredOfWindow.Load()
				acks += c.stats.acksOfWindow.Load()
			}
		}
		if got >= expected && acks >= sent {
			return
		}
		if time.Now().After(deadline) {
			r.log.Warn("drain timed out", zap.Int64("delivered", got), zap.Int64("expected", expected),
				zap.Int64("acks", acks), zap.Int64("sent", sent))
			return
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}

// cpuOver samples CPU use at start and end; nil when ctx ends first.
func (r *runner) cpuOver(ctx context.Context, start, end time.Time) *CPUStats {
	var a cpuSample
	for _, at := range []time.Time{start, end} {
		select {
		case <-time.After(time.Until(at)):
		case <-ctx.Done():
			return nil
		}
		if at == start {
			a = sampleCPU(r.cfg.ServerPID)
		}
	}
	return cpuBetween(a, sampleCPU(r.cfg.ServerPID), r.cfg.ServerPID > 0)
}

func ptr[T any](v T) *T { return &v }
