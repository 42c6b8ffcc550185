package sio

// maxInbox is how many received packets of one WebSocket connection may
// wait for their handler; past it the reader stops reading, which pushes
// back on the client through TCP.
const maxInbox = 64

// inbound is one received packet waiting for the dispatcher, or the end of
// the read loop (closeReason set).
type inbound struct {
	typ         byte
	data        []byte
	binary      bool
	closeReason string
	refusal     string // the end of the read loop by a refusal, with err
	err         error
}

// inboxResult is what became of a packet offered to the inbox.
type inboxResult uint8

const (
	inboxQueued inboxResult = iota
	inboxFull               // no room: the reader is woken when there is
	inboxClosed             // the connection ended: the packet is dropped
)

// offerInbound queues a packet for the dispatcher, starting it when it is
// not running and waking it when it is parked. When the inbox is full
// (maxInbox packets, or inboxBudget bytes; a packet is always taken when
// the inbox is empty) it queues nothing and marks the reader as waiting:
// the dispatcher wakes it (wakeReader) once it has taken a packet out.
func (c *EngineConn) offerInbound(in inbound) inboxResult {
	select {
	case <-c.done:
		return inboxClosed
	default:
	}
	c.imu.Lock()
	if len(c.inbox) >= maxInbox || (c.inBytes > 0 && c.inBytes+len(in.data) > c.inboxBudget()) {
		c.inWaiting = true
		if c.nr.Load() == nil && c.inDrained == nil {
			c.inDrained = make(chan struct{}, 1)
		}
		c.imu.Unlock()
		return inboxFull
	}
	c.inBytes += len(in.data)
	c.inbox = append(c.inbox, in)
	start := !c.dispatching
	wake := c.inParked
	ready := c.inReady
	c.dispatching, c.inParked = true, false
	c.imu.Unlock()
	switch {
	case start:
		c.e.startDispatcher(c)
	case wake:
		select {
		case ready <- struct{}{}:
		default:
		}
	}
	return inboxQueued
}

// dispatchInbound is offerInbound for a reader goroutine: it waits while
// the inbox is full and reports false when the connection ended meanwhile.
func (c *EngineConn) dispatchInbound(in inbound) bool {
	for {
		switch c.offerInbound(in) {
		case inboxQueued:
			return true
		case inboxClosed:
			return false
		}
		select {
		case <-c.inDrained:
		case <-c.done:
			return false
		}
	}
}

// wakeReader tells a reader waiting for room in the inbox to try again.
func (c *EngineConn) wakeReader(drained chan struct{}) {
	if r := c.nr.Load(); r != nil {
		r.wake()
		return
	}
	select {
	case drained <- struct{}{}:
	default:
	}
}

// inboxBudget is how many bytes of received packets may wait for the
// handler: preConnectBytes until the handler admits the client, then
// MaxPayload.
func (c *EngineConn) inboxBudget() int {
	if c.admitted.Load() {
		return int(c.e.opts.MaxPayload)
	}
	return preConnectBytes
}

// dispatch handles the queued packets in order (on a dispatcher goroutine,
// see dispatchers.go). With nothing queued it parks, and exits at a linger
// tick that finds nothing queued and nothing handled since the tick before
// (as the writer does): a connection that sends a few times per linger
// interval keeps its dispatcher and the stack it grew instead of starting
// and growing them again for each packet, an idle one has none after one
// or two intervals. A parked dispatcher also leaves its connection for
// another one that needs a dispatcher, which dispatch then returns.
func (c *EngineConn) dispatch() (next *EngineConn) {
	for {
		c.imu.Lock()
		if len(c.inbox) == 0 {
			keep, next := c.parkDispatcher()
			if !keep {
				return next
			}
			continue
		}
		in := c.inbox[0]
		c.inHandled = true
		c.inbox[0] = inbound{}
		c.inbox = c.inbox[1:]
		c.inBytes -= len(in.data)
		wakeReader := c.inWaiting
		c.inWaiting = false
		drained := c.inDrained
		c.imu.Unlock()
		if wakeReader {
			c.wakeReader(drained)
		}
		if in.refusal != "" {
			c.refuse(in.refusal, in.err)
			continue
		}
		if in.closeReason != "" {
			c.Close(in.closeReason)
			continue
		}
		select {
		case <-c.done:
			continue // ended: what is left is dropped
		default:
		}
		if err := c.handlePacket(in.typ, in.data, in.binary); err != nil {
			c.refuse(refusalOf(err), err)
		}
	}
}

// parkDispatcher waits, imu held on entry and released, for packets (keep)
// or for a linger tick that finds none and none handled since the tick
// before, or the end of the connection (the dispatcher exits), or another
// connection that needs a dispatcher (next: the dispatcher serves it).
func (c *EngineConn) parkDispatcher() (keep bool, next *EngineConn) {
	c.inbox = nil
	c.inParked = true
	if c.inReady == nil {
		c.inReady = make(chan struct{}, 1)
	}
	ready := c.inReady
	c.imu.Unlock()
	select {
	case <-ready:
		return true, nil
	case <-c.e.linger.wait():
		c.imu.Lock()
		defer c.imu.Unlock()
		if len(c.inbox) == 0 && !c.inHandled {
			c.dispatching, c.inParked, c.inReady = false, false, nil
			return false, nil
		}
		c.inParked, c.inHandled = false, false
		return true, nil
	case <-c.done:
		c.imu.Lock()
		c.dispatching, c.inParked, c.inReady = false, false, nil
		c.imu.Unlock()
		return false, nil
	case next := <-c.e.idleDispatchers:
		// A packet that came for c meanwhile gets c a dispatcher of its
		// own.
		c.imu.Lock()
		pending := len(c.inbox) > 0
		c.dispatching, c.inParked, c.inReady = pending, false, nil
		c.imu.Unlock()
		if pending {
			c.e.startDispatcher(c)
		}
		return false, next
	}
}
