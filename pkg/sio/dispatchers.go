package sio

// Dispatcher goroutines are reused across connections. The first packets
// of a new connection (its namespace CONNECT: the token check, the hub's
// admission) run deep call chains; a goroutine started for them begins
// with a small stack and grows it two or three times, each growth copying
// the whole stack. A dispatcher whose connection has nothing left for it
// (inbox.go) therefore waits, until the next linger tick, for another
// connection whose packets need a dispatcher, and runs that one's with
// the stack it already has. In a connection storm most connections get a
// grown stack this way; an idle server keeps no dispatcher past a tick.

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
// waits idle.
func (e *Engine) runDispatchers(c *EngineConn) {
	for c != nil {
		c.dispatch()
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
