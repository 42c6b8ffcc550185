package sio

import (
	"bytes"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The namespace CONNECT's reply is written by the dispatcher itself: the
// connection has no writer goroutine afterwards, and the write is counted.
func TestConnectReplyStartsNoWriter(t *testing.T) {
	for _, tc := range readerCases {
		t.Run(tc.name, func(t *testing.T) {
			s, base := startServer(t, tc.opts)
			before := s.Stats()
			w, so := connectRoot(t, s, base) // reads the reply
			require.EqualValues(t, 0, s.engine.writers.Load(), "writer goroutines")
			after := s.Stats()
			require.Equal(t, before.Writes+1, after.Writes, "the reply's write")
			require.Equal(t, before.PacketsOut+2, after.PacketsOut, "the open packet and the reply")
			require.NoError(t, so.Emit("m", 1))
			require.Equal(t, `42["m",1]`, w.readText(), "the next packet goes through a writer")
		})
	}
}

// pipeConn is a WebSocket connection whose writes go to a pipe: its
// buffer can be filled so that a write takes only part of a frame.
type pipeConn struct {
	net.Conn // unused
	w        *os.File
}

func (p *pipeConn) Write(b []byte) (int, error)           { return p.w.Write(b) }
func (p *pipeConn) SetWriteDeadline(time.Time) error      { return nil }
func (p *pipeConn) SyscallConn() (syscall.RawConn, error) { return p.w.SyscallConn() }
func (p *pipeConn) Close() error                          { return p.w.Close() }
func (p *pipeConn) SetDeadline(time.Time) error           { return nil }
func (p *pipeConn) SetReadDeadline(time.Time) error       { return nil }
func (p *pipeConn) LocalAddr() net.Addr                   { return &net.TCPAddr{} }
func (p *pipeConn) RemoteAddr() net.Addr                  { return &net.TCPAddr{} }
func (p *pipeConn) Read([]byte) (int, error)              { return 0, io.EOF }
func (p *pipeConn) setBuffer(t *testing.T, size int) (err error) {
	rc, err := p.w.SyscallConn()
	require.NoError(t, err)
	require.NoError(t, rc.Control(func(fd uintptr) { _, err = unix.FcntlInt(fd, unix.F_SETPIPE_SZ, size) }))
	return err
}

// pipedConn is a WebSocket connection of a new server whose writes go to
// a pipe of 4 KiB; r reads what it wrote. Both are closed with the test.
func pipedConn(t *testing.T) (s *Server, c *EngineConn, r *os.File, nc *pipeConn) {
	s = NewServer(Options{})
	c = s.engine.newConn(httptest.NewRequest("GET", "/socket.io/?EIO=4&transport=websocket", nil), "websocket")
	r, pw, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close() })
	nc = &pipeConn{w: pw}
	t.Cleanup(func() { _ = nc.Close() })
	require.NoError(t, nc.setBuffer(t, 4096))
	c.setWriter(nc)
	return s, c, r, nc
}

// What the socket does not take at once goes to a writer goroutine,
// before what is queued next: the peer gets every byte, in order, and
// sendNow never waits.
func TestSendNowLeavesTheRestToAWriter(t *testing.T) {
	s, c, r, nc := pipedConn(t)
	pw := nc.w

	// Fill the pipe; what it took is what the reader must see first.
	var want bytes.Buffer
	rc, err := pw.SyscallConn()
	require.NoError(t, err)
	chunk := bytes.Repeat([]byte("f"), 1000)
	for {
		n := writeNonBlocking(rc, chunk)
		want.Write(chunk[:n])
		if n < len(chunk) {
			break
		}
	}
	reply := textFrame("40" + string(bytes.Repeat([]byte("r"), 3000)))
	done := make(chan error, 1)
	go func() { done <- c.sendNow(reply) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		t.Fatal("sendNow waited for a full pipe")
	}
	next := textFrame("42[\"next\"]")
	require.NoError(t, c.enqueue(&outbound{frames: []*frame{next}}))
	want.Write(reply.wire())
	want.Write(next.wire())

	got := make([]byte, want.Len())
	_, err = io.ReadFull(r, got)
	require.NoError(t, err)
	require.Equal(t, want.String(), string(got), "every byte, in order")
	eventually(t, func() bool { return s.Stats().PacketsOut == 2 }, "both packets counted once")
	c.Close("test")
	eventually(t, func() bool { return s.engine.writers.Load() == 0 }, "the writer ends with the connection")
}
