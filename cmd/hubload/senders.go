package main

import (
	"context"
	"time"
)

// The two ways a sender paces itself. Open loop offers a fixed rate; closed
// loop sends as fast as the server acknowledges, so its figures are the
// server's throughput at that many messages in flight.

// openLoop emits at a fixed interval until end, whatever the server does: the
// offered rate. A sender that falls more than 100 ms behind its schedule skips
// the backlog rather than bursting.
func (r *runner) openLoop(ctx context.Context, c *client, win *window, roomJSON []byte,
	interval, offset time.Duration, end time.Time, res *senderResult) {
	next := time.Now().Add(offset)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		now := time.Now()
		if d := next.Sub(now); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				return
			}
			now = time.Now()
		} else if -d > 100*time.Millisecond {
			missed := int64(-d / interval)
			res.skipped += missed
			next = next.Add(time.Duration(missed) * interval)
		}
		if !now.Before(end) || !r.sendOne(c, win, roomJSON, res) {
			return
		}
		next = next.Add(interval)
	}
}

// closedLoop keeps at most cap(c.slots) sends unacked until end: it sends
// whenever a slot is free and waits for an ack (the reader frees a slot)
// otherwise. It stops early when the connection's reader exits.
func (r *runner) closedLoop(ctx context.Context, c *client, win *window, roomJSON []byte,
	end time.Time, res *senderResult) {
	timer := time.NewTimer(time.Until(end))
	defer timer.Stop()
	for {
		select {
		case c.slots <- struct{}{}:
		case <-timer.C:
			return
		case <-c.done:
			return
		case <-ctx.Done():
			return
		}
		if !time.Now().Before(end) || !r.sendOne(c, win, roomJSON, res) {
			return
		}
	}
}

// sendOne sends one message and counts it when it left inside the window;
// false when the write failed (counted, and the sender stops).
func (r *runner) sendOne(c *client, win *window, roomJSON []byte, res *senderResult) bool {
	ts, err := c.send(roomJSON)
	if err != nil {
		res.sendErrors++
		r.errs.add(label(err))
		return false
	}
	if win.contains(ts) {
		res.sentInWindow++
	}
	return true
}

func loopMode(cfg config) string {
	if cfg.ClosedLoop {
		return "closed"
	}
	return "open"
}

func inflightOf(cfg config) int {
	if cfg.ClosedLoop {
		return cfg.Inflight
	}
	return 0
}

// targetRate is the offered rate of an open loop; a closed loop offers none.
func targetRate(cfg config) float64 {
	if cfg.ClosedLoop {
		return 0
	}
	return cfg.Rate
}
