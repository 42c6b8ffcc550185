package sio

import (
	"io"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// While another write holds the socket (a refusal's or a close echo's
// close frame waiting for a client that does not read), a CONNECT reply
// that waits for it must not hold the write queue's lock: enqueue (a
// broadcast's, the heartbeat's) never waits for a client.
func TestSendNowDoesNotBlockEnqueue(t *testing.T) {
	s, c, r, nc := pipedConn(t)

	// Another write holds the pipe: more than it takes, so it waits.
	go func() { _, _ = nc.Write(make([]byte, 64<<10)) }()
	eventually(t, func() bool { return goroutinesWith("(*pipeConn).Write", "waitWrite") > 0 }, "the other write waits")
	go func() { _ = c.sendNow(textFrame("40")) }()
	eventually(t, func() bool { return goroutinesWith("(*EngineConn).sendNow", "RawWrite") > 0 }, "sendNow waits for the socket")

	done := make(chan error, 1)
	go func() { done <- c.enqueue(&outbound{frames: []*frame{textFrame(`42["b"]`)}}) }()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(5 * time.Second):
		_ = r.Close() // ends the waiting writes
		t.Fatal("enqueue waited for another connection's socket")
	}
	go func() { _, _ = io.Copy(io.Discard, r) }()
	c.Close("test")
	eventually(t, func() bool { return s.engine.writers.Load() == 0 }, "the writer ends with the connection")
}
