package sio

import (
	"errors"
	"slices"
	"syscall"

	"golang.org/x/sys/unix"
)

// sendNow is enqueue for a reply to the connection's own packet (the
// namespace CONNECT's): when the WebSocket has no writer and nothing
// queued, the caller writes the frame itself with one non-blocking system
// call instead of starting a writer goroutine for it (a goroutine, its
// registration, a write deadline, and its exit at a linger tick, for one
// small frame). It never waits for the peer (only for the socket's write
// lock, which a close frame's write may hold up to closeFrameWriteTTL):
// whatever the socket does not take at once (a full send buffer, an
// error) is queued for a writer as enqueue does,
// and that writer reports the error, first: what is queued during the
// write goes after the rest.
func (c *EngineConn) sendNow(f *frame) error {
	if c.ended.Load() {
		return ErrConnClosed
	}
	c.wmu.Lock()
	rc, ok := c.directConn()
	if !ok {
		return c.enqueueLocked(&outbound{frames: []*frame{f}})
	}
	// It owns the socket's writes as a writer would, without wmu: a
	// write may wait for the socket's lock (another write of a close
	// frame to a client that does not read), and enqueue must not wait
	// with it. What is queued meanwhile goes to a writer afterwards.
	c.writing = true
	c.wmu.Unlock()
	b := f.wire()
	n := writeNonBlocking(rc, b)
	st := c.e.stats
	if n > 0 {
		st.writes.Add(1)
		st.bytesOut.Add(uint64(n))
	}
	if n == len(b) {
		st.packetsOut.Add(1) // else the writer counts it with the rest
	}
	c.wmu.Lock()
	if n < len(b) {
		c.q = slices.Insert(c.q, c.qh, &outbound{frames: []*frame{{buf: b[n:]}}})
	}
	if len(c.q) == c.qh {
		c.writing = false
		c.wmu.Unlock()
		return nil
	}
	c.wmu.Unlock()
	c.startWriter()
	return nil
}

// directConn returns the WebSocket's raw connection when sendNow may write
// to it: no writer, nothing queued, no compression; wmu held.
func (c *EngineConn) directConn() (syscall.RawConn, bool) {
	if c.wconn == nil || c.writing || len(c.q) > c.qh || c.deflate {
		return nil, false
	}
	sc, ok := c.wconn.(syscall.Conn)
	if !ok {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	return rc, err == nil
}

// enqueueLocked is enqueue with wmu held (it unlocks it).
func (c *EngineConn) enqueueLocked(o *outbound) error {
	if len(c.q)-c.qh >= c.e.opts.WriteQueueSize {
		c.wmu.Unlock()
		if c.slow.CompareAndSwap(false, true) { // once, whatever comes until the close
			c.e.stats.slowConsumers.Add(1)
			c.e.wg.Go(func() { c.refuse(RefuseSlowConsumer, nil) })
		}
		return ErrSlowConsumer
	}
	c.pushLocked(o)
	return nil
}

// writeNonBlocking writes b to rc's socket with one write system call that
// does not wait for room, and returns how many bytes it took (0 on an
// error, which the next write reports).
func writeNonBlocking(rc syscall.RawConn, b []byte) int {
	var n int
	err := rc.Write(func(fd uintptr) bool {
		for {
			m, err := unix.Write(int(fd), b)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err == nil {
				n = m
			}
			return true // never wait for the socket to be writable
		}
	})
	if err != nil {
		return 0
	}
	return n
}
