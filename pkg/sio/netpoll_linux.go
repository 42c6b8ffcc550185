//go:build linux

package sio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

// netpollSupported: Linux has epoll.
const netpollSupported = true

// maxPollers bounds the poller goroutines of an Engine (one per core up
// to this).
const maxPollers = 8

// pollReadBuffer is the read buffer of one poller, shared by the sockets
// it serves one after the other.
const pollReadBuffer = 64 << 10

// pollID is a registration: a slot of the poller's table and the slot's
// generation, so that an event for a socket removed meanwhile is ignored
// when the slot serves another one.
type pollID struct{ slot, gen uint32 }

// wakeID marks the poller's own eventfd in epoll events.
const wakeID = -1

// netPollers are the epoll loops of an Engine; sockets are spread over
// them in turn.
type netPollers struct {
	ps   []*netPoller
	next atomic.Uint32
	wg   sync.WaitGroup
}

// netPoller is one epoll loop. Sockets are registered edge-triggered: a
// reader reads until the socket has nothing more (or until it pauses and
// then reads again on resume).
type netPoller struct {
	epfd, evfd int
	log        *zap.Logger

	mu       sync.Mutex
	slots    []*netReader
	gens     []uint32
	free     []uint32
	posted   []*netReader // readers to resume
	woken    bool         // the eventfd is signaled
	stopping bool

	buf   []byte       // poller goroutine only
	again []*netReader // readable sockets to come back to
	rd    pollRead     // poller goroutine only
}

// pollRead is the read system call of a poller's readers, made through
// RawConn.Control with a function bound once: a closure per read would
// be allocated on every read, with the results it sets.
type pollRead struct {
	b   []byte
	n   int
	err error
	fn  func(fd uintptr) // do
}

func (o *pollRead) do(fd uintptr) {
	for {
		o.n, o.err = unix.Read(int(fd), o.b)
		if o.err != unix.EINTR {
			return
		}
	}
}

func newNetPollers(log *zap.Logger) (*netPollers, error) {
	s := &netPollers{}
	for range max(1, min(runtime.GOMAXPROCS(0), maxPollers)) {
		p, err := newNetPoller(log)
		if err != nil {
			s.close()
			return nil, err
		}
		s.ps = append(s.ps, p)
		s.wg.Go(p.run)
	}
	return s, nil
}

func newNetPoller(log *zap.Logger) (*netPoller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("sio: epoll create: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		_ = unix.Close(epfd)
		return nil, fmt.Errorf("sio: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeID}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		_ = unix.Close(epfd)
		_ = unix.Close(evfd)
		return nil, fmt.Errorf("sio: epoll add eventfd: %w", err)
	}
	p := &netPoller{epfd: epfd, evfd: evfd, log: log, buf: make([]byte, pollReadBuffer)}
	p.rd.fn = p.rd.do
	return p, nil
}

// add registers r's socket nc with one of the pollers.
func (s *netPollers) add(r *netReader, nc net.Conn) error {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return errors.New("sio: connection without a file descriptor")
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return fmt.Errorf("sio: raw connection: %w", err)
	}
	p := s.ps[s.next.Add(1)%uint32(len(s.ps))]
	return p.add(r, rc)
}

// close stops the pollers and releases their descriptors.
func (s *netPollers) close() {
	for _, p := range s.ps {
		p.stop()
	}
	s.wg.Wait()
	for _, p := range s.ps {
		_ = unix.Close(p.epfd)
		_ = unix.Close(p.evfd)
	}
}

func (p *netPoller) add(r *netReader, rc syscall.RawConn) error {
	p.mu.Lock()
	if p.stopping {
		p.mu.Unlock()
		return errPollersStopped
	}
	var slot uint32
	if n := len(p.free); n > 0 {
		slot, p.free = p.free[n-1], p.free[:n-1]
	} else {
		slot = uint32(len(p.slots))
		p.slots, p.gens = append(p.slots, nil), append(p.gens, 0)
	}
	p.gens[slot]++
	p.slots[slot] = r
	r.pr, r.rc, r.id = p, rc, pollID{slot, p.gens[slot]}
	p.mu.Unlock()
	var ctlErr error
	err := rc.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLET, Fd: int32(slot), Pad: int32(r.id.gen)}
		ctlErr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err == nil {
		err = ctlErr
	}
	if err != nil {
		p.release(r)
		return fmt.Errorf("sio: epoll add: %w", err)
	}
	return nil
}

// release frees r's slot; false when it was free already.
func (p *netPoller) release(r *netReader) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.slots[r.id.slot] != r {
		return false
	}
	p.slots[r.id.slot] = nil
	p.free = append(p.free, r.id.slot)
	return true
}

// stop takes r off its poller; any goroutine, any number of times. Its
// socket stays open.
func (r *netReader) stop() {
	if !r.pr.release(r) {
		return
	}
	_ = r.rc.Control(func(fd uintptr) {
		_ = unix.EpollCtl(r.pr.epfd, unix.EPOLL_CTL_DEL, int(fd), nil)
	})
}

// wake asks the poller to resume r (the inbox has room again).
func (r *netReader) wake() {
	p := r.pr
	p.mu.Lock()
	p.posted = append(p.posted, r)
	signal := !p.woken
	p.woken = true
	p.mu.Unlock()
	if signal {
		p.signal()
	}
}

func (p *netPoller) signal() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1)
	_, _ = unix.Write(p.evfd, one[:])
}

func (p *netPoller) stop() {
	p.mu.Lock()
	p.stopping, p.woken = true, true
	p.mu.Unlock()
	p.signal()
}

// read reads from r's socket without blocking: syscall.EAGAIN when it has
// nothing, errPeerClosed at the end of the stream, net.ErrClosed once the
// server closed it (the descriptor cannot be reused meanwhile: Control
// holds it).
//
// It runs on r's poller goroutine, as every read of its readers does.
func (r *netReader) read(b []byte) (int, error) {
	o := &r.pr.rd
	o.b = b
	err := r.rc.Control(o.fn)
	n, rerr := o.n, o.err
	o.b, o.err = nil, nil
	switch {
	case err != nil:
		return 0, net.ErrClosed
	case rerr != nil:
		return 0, rerr
	case n == 0:
		return 0, errPeerClosed
	}
	return n, nil
}

// run is the epoll loop.
func (p *netPoller) run() {
	events := make([]unix.EpollEvent, 256)
	for {
		timeout := -1
		if len(p.again) > 0 {
			timeout = 0
		}
		n, err := unix.EpollWait(p.epfd, events, timeout)
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			p.log.Error("network poller stopped", zap.Error(err))
			return
		}
		again := p.again
		p.again = nil
		for i := range n {
			ev := &events[i]
			if ev.Fd == wakeID {
				if !p.resumePosted() {
					return
				}
				continue
			}
			if r := p.lookup(uint32(ev.Fd), uint32(ev.Pad)); r != nil {
				p.serve(r, false)
			}
		}
		for _, r := range again {
			if p.live(r) {
				p.serve(r, false)
			}
		}
	}
}

// resumePosted resumes the readers posted by wake; false when stopping.
func (p *netPoller) resumePosted() bool {
	var b [8]byte
	_, _ = unix.Read(p.evfd, b[:])
	p.mu.Lock()
	posted := p.posted
	p.posted, p.woken = nil, false
	stopping := p.stopping
	p.mu.Unlock()
	if stopping {
		return false
	}
	for _, r := range posted {
		if p.live(r) {
			p.serve(r, true)
		}
	}
	return true
}

func (p *netPoller) serve(r *netReader, resume bool) {
	var more bool
	if resume {
		more = r.resume(p.buf)
	} else {
		more = r.serve(p.buf)
	}
	switch {
	case r.done():
		r.stop()
	case more:
		p.again = append(p.again, r)
	}
}

func (p *netPoller) lookup(slot, gen uint32) *netReader {
	p.mu.Lock()
	defer p.mu.Unlock()
	if int(slot) >= len(p.slots) || p.gens[slot] != gen {
		return nil
	}
	return p.slots[slot]
}

func (p *netPoller) live(r *netReader) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.slots[r.id.slot] == r
}
