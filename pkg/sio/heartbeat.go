package sio

import "time"

// Heartbeat, as Engine.IO 4 has it: PingInterval after the handshake, and
// again PingInterval after each pong, the server sends a ping; a pong must
// come within PingTimeout of it or the session ends ("ping timeout"). A
// connection's next deadline (the ping to send, or the pong awaited) is a
// slot in the engine's one deadline queue (pkg/deadline), not a runtime
// timer of its own: the same precision (the deadline is the runtime
// timer's, set for the earliest deadline of all connections), 16 bytes per
// connection instead of a timer and a closure (about 150). So a client that
// stopped answering is dropped PingInterval + PingTimeout after its last
// pong, as late as the runtime runs timers.

// clock is the engine's monotonic clock, in nanoseconds since it started.
func (e *Engine) clock() int64 { return int64(time.Since(e.epoch)) }

// heartbeat runs when the connection's deadline has passed: it sends the
// ping that was due, or ends the session whose pong is overdue.
func (c *EngineConn) heartbeat() {
	c.mu.Lock()
	if c.closing || c.e.hb.Pending(c) {
		// Closed, or rescheduled (a pong) since this deadline was taken.
		c.mu.Unlock()
		return
	}
	if c.awaitingPong {
		c.mu.Unlock()
		// Off the queue's goroutine: closing runs the handlers.
		c.e.wg.Go(func() { c.Close("ping timeout") })
		return
	}
	c.awaitingPong = true
	c.pongBy = c.e.clock() + int64(c.e.opts.PingTimeout)
	c.e.hb.After(c, c.e.opts.PingTimeout)
	c.mu.Unlock()
	_ = c.enqueue(&outbound{frames: []*frame{framePing}})
}

// expired reports a pong overdue whose deadline has not been handled yet
// (timers run late on a loaded machine); requests check it so a dead
// session is not revived by a late poll.
func (c *EngineConn) expired() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.awaitingPong && c.e.clock() > c.pongBy
}

func (c *EngineConn) onPong() {
	c.mu.Lock()
	if c.awaitingPong && !c.closing {
		c.awaitingPong = false
		c.e.hb.After(c, c.e.opts.PingInterval)
	}
	c.mu.Unlock()
}
