package testenv

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// StallProxy forwards TCP to a service and can stop forwarding (a stalled
// server: connections stay open, nothing answers).
type StallProxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	stalled bool
	cond    *sync.Cond
}

// NewStallProxy forwards to target until tb ends.
func NewStallProxy(tb testing.TB, target string) *StallProxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("stall proxy: %v", err)
	}
	p := &StallProxy{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	tb.Cleanup(func() { p.SetStalled(false); _ = ln.Close() })
	go p.accept()
	return p
}

// Addr is the proxy's host:port.
func (p *StallProxy) Addr() string { return p.ln.Addr().String() }

// SetStalled stops (true) or resumes (false) forwarding.
func (p *StallProxy) SetStalled(v bool) {
	p.mu.Lock()
	p.stalled = v
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *StallProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		r, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		go p.pipe(c, r)
		go p.pipe(r, c)
	}
}

// pipe copies src to dst, holding each chunk while stalled.
func (p *StallProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.stalled {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = src.Close()
			}
			return
		}
	}
}
