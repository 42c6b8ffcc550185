package sio

import (
	"net"
	"sync"
	"time"
)

// Write buffers: a writer copies every frame queued by the time it looks
// into one contiguous buffer and hands it to the kernel in one write. A
// buffer is taken from writeBufPool for each write and given back right
// after it, so the buffers in use follow the writes in progress, not the
// connections, and a parked writer holds none.
const (
	// writeBufSize is the initial capacity of a pooled write buffer.
	writeBufSize = 4 << 10
	// writeBufMax is the most bytes copied into one write; the frames
	// queued past it go out in the next write of the same batch.
	writeBufMax = 64 << 10
)

var writeBufPool = sync.Pool{New: func() any {
	b := make([]byte, 0, writeBufSize)
	return &b
}}

// startWriter starts the connection's writer goroutine, counted in the
// engine's writers; the caller has set c.writing under c.wmu.
func (c *EngineConn) startWriter() {
	c.e.writers.Add(1)
	go c.writeLoop()
}

// writeLoop drains the queue to the WebSocket: every frame queued by the
// time it looks is copied into one buffer and written in one system call.
// Coalescing: when frames arrive while it writes, or within
// Options.WriteDelay of its last write, it waits for the engine's next
// coalescing tick so that they share one system call; the first frame
// after a quiet period is written at once. With nothing to write it parks
// until an enqueue wakes it, and it exits at a linger tick that finds the
// queue empty and nothing written since the tick before: an idle
// connection has no writer goroutine after one or two linger intervals,
// while one written to several times an interval keeps its writer (and
// its ready channel) instead of starting them again after every tick.
func (c *EngineConn) writeLoop() {
	defer c.e.writers.Add(-1)
	c.e.liveWriters.add(c)
	defer c.e.liveWriters.remove(c)
	w := batchWriter{nc: c.wconn, timeout: c.e.opts.WriteTimeout, maxFrames: c.e.opts.WriteBatch, wdl: &c.wdl}
	if c.deflate {
		w.deflateAt = c.e.opts.PerMessageDeflateThreshold
	}
	delay := c.e.opts.WriteDelay
	st := c.e.stats
	var lastWrite time.Time
	wrote := false // since the last linger tick
	for {
		c.wmu.Lock()
		c.parked = false
		items := c.q[c.qh:]
		if len(items) == 0 {
			// Nothing queued: exit at a linger tick after an interval
			// without a write, else park until an enqueue or the next
			// tick (writerSet) wakes it. A session that began on
			// WebSocket has its ready channel only while a writer lives,
			// so an idle one has none; a polling session's stays, its
			// requests wait on it.
			if c.lingerDue {
				c.lingerDue = false
				if !wrote {
					c.writing, c.parked = false, false
					if c.wake == nil {
						c.ready = nil
					}
					c.wmu.Unlock()
					return
				}
				wrote = false
			}
			if c.ended.Load() {
				c.wmu.Unlock()
				return
			}
			c.parked = true
			if c.ready == nil {
				c.ready = make(chan struct{}, 1)
			}
			ready := c.ready
			c.wmu.Unlock()
			// One channel: an enqueue, a linger tick and the end of the
			// connection (closeWith) all wake it there, a plain receive
			// instead of a select.
			<-ready
			if c.ended.Load() {
				return
			}
			if delay > 0 && time.Since(lastWrite) < delay && !c.waitTick() {
				return
			}
			continue
		}
		c.q, c.qh, c.spare = c.spare, 0, nil
		c.wmu.Unlock()

		closeAfter, err := w.writeItems(items)
		st.writes.Add(w.writes)
		st.packetsOut.Add(w.packets)
		st.bytesOut.Add(w.bytes)
		if err != nil {
			c.Close("transport error")
			return
		}
		if closeAfter {
			c.Close("server shutting down")
			return
		}
		lastWrite, wrote = time.Now(), true
		clear(items)
		c.wmu.Lock()
		if c.spare == nil && cap(items) <= 64 {
			c.spare = items[:0]
		}
		more := len(c.q) > c.qh
		c.wmu.Unlock()
		if more && delay > 0 && !c.waitTick() {
			return
		}
	}
}

// waitTick waits for the next coalescing tick; false when the connection
// ended meanwhile.
func (c *EngineConn) waitTick() bool {
	select {
	case <-c.e.pacer.wait():
		return true
	case <-c.done:
		return false
	}
}

// batchWriter writes a batch of queue items to a WebSocket connection in as
// few system calls as writeBufMax and maxFrames allow. It belongs to one
// writer goroutine.
type batchWriter struct {
	nc        net.Conn
	timeout   time.Duration
	maxFrames int
	wdl       *time.Time // write deadline last set (the connection's)
	// deflateAt > 0: the connection negotiated permessage-deflate, and
	// frames of at least this many payload bytes go out compressed.
	deflateAt int

	// Counts of the last writeItems call.
	writes, packets, bytes uint64
}

// writeItems writes items in order, up to and including a close marker;
// closeAfter reports that marker (nothing after it is written).
func (w *batchWriter) writeItems(items []*outbound) (closeAfter bool, err error) {
	w.writes, w.packets, w.bytes = 0, 0, 0
	bp := writeBufPool.Get().(*[]byte)
	buf, frames := (*bp)[:0], 0
	defer func() {
		if cap(buf) <= 2*writeBufMax {
			*bp = buf[:0]
			writeBufPool.Put(bp)
		}
	}()
	for _, o := range items {
		if o.close {
			buf = append(buf, wsCloseFrame.wire()...)
			closeAfter = true
			break
		}
		for _, f := range o.frames {
			b := f.wire()
			if w.deflateAt > 0 {
				b = deflatedWire(f, w.deflateAt)
			}
			if len(buf) > 0 && (len(buf)+len(b) > writeBufMax || frames >= w.maxFrames) {
				if buf, err = w.flush(buf); err != nil {
					return false, err
				}
				frames = 0
			}
			if len(b) > writeBufMax {
				// A large frame goes out as it is, not copied.
				if _, err = w.flush(b); err != nil {
					return false, err
				}
				continue
			}
			buf = append(buf, b...)
			frames++
		}
		w.packets += uint64(len(o.frames))
	}
	if len(buf) > 0 {
		buf, err = w.flush(buf)
	}
	return closeAfter, err
}

// flush writes b in one call and returns b emptied.
func (w *batchWriter) flush(b []byte) ([]byte, error) {
	// Moving the deadline costs a timer update: do it only when a quarter
	// of the timeout has passed, so a write always has at least 3/4 of it.
	if now := time.Now(); now.Add(w.timeout - w.timeout/4).After(*w.wdl) {
		*w.wdl = now.Add(w.timeout)
		_ = w.nc.SetWriteDeadline(*w.wdl)
	}
	_, err := w.nc.Write(b)
	w.writes++
	w.bytes += uint64(len(b))
	return b[:0], err
}
