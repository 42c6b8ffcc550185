package sio

import (
	"bytes"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPartialFrameHoldsWhatArrived: the poller keeps the bytes of a frame
// not complete, with room for one more read, whatever length the header
// declares (up to maxPayload: a client's word, not yet its bytes).
func TestPartialFrameHoldsWhatArrived(t *testing.T) {
	r := &netReader{c: &EngineConn{e: &Engine{opts: Options{MaxPayload: DefaultMaxPayload}}}}
	f := clientFrame(wsFinBit|opBinary, make([]byte, 900_000), false)
	r.consume(bytes.Clone(f[:14+10]))
	require.Len(t, r.partial, 24)
	require.LessOrEqual(t, cap(r.partial), 24+partialReserve, "room kept for a frame declared 900 kB long")
}

// TestProbeHoldsWhatArrived: the same bound while an upgrade probe reads.
func TestProbeHoldsWhatArrived(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	f := clientFrame(wsFinBit|opBinary, make([]byte, 900_000), false)
	go func() { _, _ = client.Write(f[:14+10]); _ = client.Close() }()
	p := &rawProbe{nc: server, limit: DefaultMaxPayload}
	_, _, err := p.next()
	require.Error(t, err, "the client closed mid-frame")
	require.LessOrEqual(t, cap(p.buf), 24+partialReserve, "room kept for a frame declared 900 kB long")
}
