package sio

import (
	"net"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// TestPollerReadAllocatesNothing: a read of a socket on the poller (data,
// then nothing left) allocates nothing, and returns what the peer wrote.
func TestPollerReadAllocatesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer client.Close()
	server, err := ln.Accept()
	require.NoError(t, err)
	defer server.Close()
	rc, err := server.(syscall.Conn).SyscallConn()
	require.NoError(t, err)
	p, err := newNetPoller(zap.NewNop())
	require.NoError(t, err)
	defer p.stop()
	r := &netReader{pr: p, rc: rc}
	buf := make([]byte, 64)

	_, err = client.Write([]byte("hello"))
	require.NoError(t, err)
	var got []byte
	for len(got) < 5 { // the bytes may take a moment to arrive
		n, err := r.read(buf)
		if err == nil {
			got = append(got, buf[:n]...)
			continue
		}
		require.ErrorIs(t, err, syscall.EAGAIN)
	}
	require.Equal(t, "hello", string(got))

	x := []byte("x")
	var last error
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := client.Write(x); err != nil {
			last = err
			return
		}
		for {
			if _, err := r.read(buf); err != nil {
				last = err
				return
			}
		}
	})
	require.ErrorIs(t, last, syscall.EAGAIN)
	require.Zero(t, allocs, "allocations per read")
}
