package sio

import (
	"bytes"
	"context"
	"runtime"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// goroutineID is the id of the calling goroutine, from its stack trace.
func goroutineID() uint64 {
	var b [64]byte
	s := b[:runtime.Stack(b[:], false)]
	s = bytes.TrimPrefix(s, []byte("goroutine "))
	id, _ := strconv.ParseUint(string(s[:bytes.IndexByte(s, ' ')]), 10, 64)
	return id
}

// idleDispatchers counts the dispatcher goroutines waiting for a
// connection (parked in nextDispatch).
func idleDispatchers() int {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		if bytes.Contains(g, []byte("[select")) && bytes.Contains(g, []byte("sio.(*Engine).nextDispatch")) {
			n++
		}
	}
	return n
}

// A dispatcher goroutine whose connection has nothing left for it runs the
// next connection's packets (here its CONNECT) if that comes before the
// next linger tick, and exits at that tick otherwise.
func TestDispatcherServesTheNextConnection(t *testing.T) {
	s, base := startServer(t, Options{})
	linger := &pacer{interval: 1 << 62, running: true} // the test ticks
	s.engine.linger = linger
	t.Cleanup(func() { _ = s.Close(context.Background()) }) // ends the waits of its idle dispatchers
	ran := make(chan uint64, 3)
	s.Of("/g").OnConnection(func(*Socket) { ran <- goroutineID() })
	connect := func() uint64 {
		w := dialWS(t, base, "")
		w.readText()
		w.connectNsp("/g", "")
		return recv(t, ran)
	}

	first := connect()
	linger.tick(t) // its CONNECT was handled in this interval: it parks again
	linger.tick(t) // an idle interval: the connection's dispatcher ends
	eventually(t, func() bool { return idleDispatchers() == 1 }, "its goroutine waits for another connection")
	require.Equal(t, first, connect(), "the next connection's CONNECT runs on the waiting goroutine")

	linger.tick(t)
	linger.tick(t)
	eventually(t, func() bool { return idleDispatchers() == 1 }, "idle again")
	linger.tick(t) // nothing came in the interval: the goroutine exits
	eventually(t, func() bool { return idleDispatchers() == 0 }, "no dispatcher waits after a tick")
	require.NotEqual(t, first, connect(), "a new goroutine for the next connection")
}

// Closing the engine ends the wait of idle dispatchers at once.
func TestIdleDispatchersEndWithTheEngine(t *testing.T) {
	s, base := startServer(t, Options{})
	linger := &pacer{interval: 1 << 62, running: true} // no tick comes
	s.engine.linger = linger
	s.Of("/g")
	w := dialWS(t, base, "")
	w.readText()
	w.connectNsp("/g", "")
	linger.tick(t)
	linger.tick(t)
	eventually(t, func() bool { return idleDispatchers() == 1 }, "a dispatcher waits for another connection")
	require.NoError(t, s.Close(t.Context()))
	eventually(t, func() bool { return idleDispatchers() == 0 }, "it ends with the engine")
}
