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
// connection (in nextDispatch).
func idleDispatchers() int { return goroutinesWith("sio.(*Engine).nextDispatch(") }

// parkedOn reports whether c's dispatcher waits for its next packet and
// for a linger tick of the test's pacer (a tick takes the pacer's
// channel; only a wait after it makes one).
func parkedOn(linger *pacer, c *EngineConn) func() bool {
	return func() bool {
		linger.mu.Lock()
		waiting := linger.ch != nil
		linger.mu.Unlock()
		c.imu.Lock()
		defer c.imu.Unlock()
		return c.inParked && waiting
	}
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
	sockets := make(chan *Socket, 3)
	s.Of("/g").OnConnection(func(so *Socket) { ran <- goroutineID(); sockets <- so })
	connect := func() (*EngineConn, uint64) {
		w := dialWS(t, base, "")
		w.readText()
		w.connectNsp("/g", "")
		return recv(t, sockets).client.conn, recv(t, ran)
	}
	// idle: the connection's dispatcher ends after an idle interval and
	// its goroutine waits for another connection.
	idle := func(c *EngineConn) {
		t.Helper()
		eventually(t, parkedOn(linger, c), "the dispatcher parks")
		linger.tick(t) // its CONNECT was handled in this interval: it parks again
		eventually(t, parkedOn(linger, c), "the dispatcher parks again")
		linger.tick(t) // an idle interval: the connection's dispatcher ends
		eventually(t, func() bool { return idleDispatchers() == 1 }, "its goroutine waits for another connection")
	}

	a, first := connect()
	idle(a)
	b, second := connect()
	require.Equal(t, first, second, "the next connection's CONNECT runs on the waiting goroutine")

	idle(b)
	linger.tick(t) // nothing came in the interval: the goroutine exits
	eventually(t, func() bool { return idleDispatchers() == 0 }, "no dispatcher waits after a tick")
	_, third := connect()
	require.NotEqual(t, first, third, "a new goroutine for the next connection")
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

// A dispatcher parked on its connection's next packet leaves that
// connection for a new one that needs a dispatcher; the connection it left
// gets a dispatcher again for its next packet.
func TestParkedDispatcherServesANewConnection(t *testing.T) {
	s, base := startServer(t, Options{})
	linger := &pacer{interval: 1 << 62, running: true} // no tick comes
	s.engine.linger = linger
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	ns := s.Of("/g")
	ran := make(chan uint64, 2)
	sockets := make(chan *Socket, 2)
	ns.OnConnection(func(so *Socket) { ran <- goroutineID(); sockets <- so })
	handled := make(chan string, 2)
	ns.OnEvent(func(_ *Socket, ev *Event) { handled <- ev.Name })
	connect := func() (*wsClient, *Socket, uint64) {
		w := dialWS(t, base, "")
		w.readText()
		w.connectNsp("/g", "")
		return w, recv(t, sockets), recv(t, ran)
	}

	a, sa, first := connect()
	ca := sa.client.conn
	eventually(t, func() bool {
		ca.imu.Lock()
		defer ca.imu.Unlock()
		return ca.inParked
	}, "the first connection's dispatcher parks on it")
	b, _, second := connect()
	require.Equal(t, first, second, "the second connection's CONNECT runs on it")
	ca.imu.Lock()
	require.False(t, ca.dispatching, "the first connection has no dispatcher left")
	ca.imu.Unlock()

	a.send(`42/g,["from a"]`)
	require.Equal(t, "from a", recv(t, handled), "the first connection's next packet is handled")
	b.send(`42/g,["from b"]`)
	require.Equal(t, "from b", recv(t, handled))
}
