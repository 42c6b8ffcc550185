package sio

// Dispatcher goroutines are reused across connections. The first packets
// of a new connection (its namespace CONNECT: the token check, the hub's
// admission) run deep call chains; a goroutine started for them begins
// with a small stack and grows it two or three times, each growth copying
// the whole stack. A connection that needs a dispatcher is therefore
// handed to a dispatcher goroutine that waits: one parked on its own
// connection's next packet (inbox.go), which leaves that connection for
// it (that connection's next packet gets a dispatcher again), or one whose
// connection had nothing left for it, waiting until the next linger tick.
// In a connection storm the connections are served by a few goroutines
// with grown stacks, busy enough that the collector seldom finds them idle
// (it halves the stack of an idle goroutine); an idle server keeps no
// dispatcher past a tick or two.

// startDispatcher runs c's dispatcher on an idle dispatcher goroutine when
// one waits, else on a new one.
func (e *Engine) startDispatcher(c *EngineConn) {
	select {
	case e.idleDispatchers <- c:
	default:
		e.wg.Go(func() { e.runDispatchers(c) })
	}
}

// runDispatchers runs c's dispatcher, then those handed to it while it
// is parked on its connection or waits idle.
func (e *Engine) runDispatchers(c *EngineConn) {
	for c != nil {
		if next := c.dispatch(); next != nil {
			c = next
			continue
		}
		c = e.nextDispatch()
	}
}

// nextDispatch waits for a connection that needs a dispatcher; nil at the
// next linger tick or when the engine closes.
func (e *Engine) nextDispatch() *EngineConn {
	select {
	case c := <-e.idleDispatchers:
		return c
	case <-e.linger.wait():
	case <-e.stopped:
	}
	return nil
}
