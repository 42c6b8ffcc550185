package sio

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The heartbeat keeps Engine.IO's schedule for every connection on the
// shared deadline queue: the first ping PingInterval after the handshake,
// the next PingInterval after each pong (never earlier), and a connection
// that stops answering closed PingTimeout after its unanswered ping (never
// earlier; later only by how late the runtime runs timers, bounded here by
// a generous slack for a loaded machine). Connections answering at
// different delays keep their own schedules.
func TestHeartbeatSchedule(t *testing.T) {
	// The timeout leaves a loaded machine time to answer a ping (the
	// client waits up to 70 ms before it does).
	const interval, timeout = 150 * time.Millisecond, 400 * time.Millisecond
	const slack = 2 * time.Second
	s, base := startServer(t, Options{PingInterval: interval, PingTimeout: timeout})
	var wg sync.WaitGroup
	for i, delay := range []time.Duration{0, 30 * time.Millisecond, 70 * time.Millisecond} {
		wg.Go(func() {
			last := time.Now() // before the server arms the first ping
			c := dialWS(t, base, "")
			c.readText() // the open packet
			for range 3 {
				_ = c.c.SetReadDeadline(time.Now().Add(interval + slack))
				_, b, err := c.c.ReadMessage()
				if !assertNoError(t, err, "conn %d: ping", i) {
					return
				}
				got := time.Since(last)
				if string(b) != "2" || got < interval {
					t.Errorf("conn %d: %q after %v, want a ping no earlier than %v", i, b, got, interval)
					return
				}
				time.Sleep(delay)
				last = time.Now()
				c.send("3")
			}
			// Silent from here: the next ping, then the close.
			_ = c.c.SetReadDeadline(time.Now().Add(interval + slack))
			_, b, err := c.c.ReadMessage()
			if !assertNoError(t, err, "conn %d: last ping", i) || string(b) != "2" {
				t.Errorf("conn %d: %q, want the last ping", i, b)
				return
			}
			_ = c.c.SetReadDeadline(time.Now().Add(timeout + slack))
			_, _, err = c.c.ReadMessage()
			closed := time.Since(last)
			if err == nil {
				t.Errorf("conn %d: a message where the close was due", i)
				return
			}
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Errorf("conn %d: not closed %v after its unanswered ping", i, timeout+slack)
				return
			}
			if closed < interval+timeout {
				t.Errorf("conn %d: closed %v after its last pong, want no earlier than %v", i, closed, interval+timeout)
			}
		})
	}
	wg.Wait()
	eventually(t, func() bool { return s.ConnCount() == 0 }, "every connection dropped")
	require.Zero(t, s.engine.hb.Len(), "no deadline left behind")
}

func assertNoError(t *testing.T, err error, format string, args ...any) bool {
	t.Helper()
	if err != nil {
		t.Errorf(format+": %v", append(args, err)...)
		return false
	}
	return true
}
