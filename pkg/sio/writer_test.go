package sio

import (
	"bytes"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recordConn records every Write as one call; it fails the write numbered
// failAt (from 1) when set.
type recordConn struct {
	net.Conn
	writes [][]byte
	failAt int
}

func (r *recordConn) Write(b []byte) (int, error) {
	if len(r.writes)+1 == r.failAt {
		return 0, errors.New("broken pipe")
	}
	r.writes = append(r.writes, bytes.Clone(b))
	return len(b), nil
}

func (r *recordConn) SetWriteDeadline(time.Time) error { return nil }

func textItem(payloads ...string) *outbound {
	o := &outbound{}
	for _, p := range payloads {
		o.frames = append(o.frames, textFrame(p))
	}
	return o
}

// wireOf is what a batch must put on the wire: every frame in order, up to
// and including a close marker's close frame.
func wireOf(items []*outbound) []byte {
	var b []byte
	for _, o := range items {
		if o.close {
			return append(b, wsCloseFrame.wire()...)
		}
		for _, f := range o.frames {
			b = append(b, f.wire()...)
		}
	}
	return b
}

func TestBatchWriterWriteItems(t *testing.T) {
	big := strings.Repeat("x", writeBufMax+1)
	nearlyFull := strings.Repeat("y", writeBufMax-100)
	tests := []struct {
		name       string
		items      []*outbound
		maxFrames  int
		wantWrites int
		wantClose  bool
		wantPkts   uint64
	}{
		{"one frame", []*outbound{textItem("4hello")}, 256, 1, false, 1},
		{"several items share one write", []*outbound{textItem("4a"), textItem("4b", "4c"), textItem("4d")}, 256, 1, false, 4},
		{"WriteBatch caps the frames per write", []*outbound{textItem("4a"), textItem("4b"), textItem("4c")}, 2, 2, false, 3},
		{"WriteBatch 1 writes each frame alone", []*outbound{textItem("4a", "4b"), textItem("4c")}, 1, 3, false, 3},
		{"a frame past the buffer's room starts a new write", []*outbound{textItem(nearlyFull), textItem("4" + strings.Repeat("z", 200))}, 256, 2, false, 2},
		{"a large frame goes out on its own", []*outbound{textItem("4a"), textItem(big), textItem("4b")}, 256, 3, false, 3},
		{"a close marker ends the batch", []*outbound{textItem("4a"), closeItem, textItem("4never")}, 256, 1, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := &recordConn{}
			var wdl time.Time
			w := batchWriter{nc: rc, timeout: time.Second, maxFrames: tt.maxFrames, wdl: &wdl}
			closeAfter, err := w.writeItems(tt.items)
			require.NoError(t, err)
			require.Equal(t, tt.wantClose, closeAfter)
			require.Len(t, rc.writes, tt.wantWrites)
			require.Equal(t, uint64(tt.wantWrites), w.writes)
			require.Equal(t, tt.wantPkts, w.packets)
			require.Equal(t, wireOf(tt.items), bytes.Join(rc.writes, nil))
			require.Equal(t, uint64(len(wireOf(tt.items))), w.bytes)
			for _, b := range rc.writes {
				require.LessOrEqual(t, len(b), max(writeBufMax, len(big)+wsMaxHeader))
			}
		})
	}
}

func TestBatchWriterStopsAtFailedWrite(t *testing.T) {
	rc := &recordConn{failAt: 2}
	var wdl time.Time
	w := batchWriter{nc: rc, timeout: time.Second, maxFrames: 1, wdl: &wdl}
	_, err := w.writeItems([]*outbound{textItem("4a"), textItem("4b"), textItem("4c")})
	require.Error(t, err)
	require.Len(t, rc.writes, 1, "nothing is written after a failed write")
}

// A WebSocket writer exits at a linger tick only when it wrote nothing
// since the tick before: a connection written to between two ticks keeps
// its writer goroutine and its ready channel.
func TestWriterLingersOneIdleInterval(t *testing.T) {
	s, base := startServer(t, Options{})
	ticks := &writerSet{} // no ticker: the test ticks
	s.engine.liveWriters = ticks
	w, so := connectRoot(t, s, base)
	c := so.client.conn
	// parked: the writer waits, with every tick handled.
	parked := func() bool {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		return c.parked && !c.lingerDue
	}
	// The connect reply was written without a writer (sendNow).
	require.NoError(t, so.Emit("m", 0))
	require.Equal(t, `42["m",0]`, w.readText())
	eventually(t, parked, "the writer parks after the event")

	require.True(t, ticks.tick()) // it wrote since it started: it stays
	eventually(t, parked, "the writer parks again")
	require.EqualValues(t, 1, s.engine.writers.Load(), "a writer that wrote in the interval stays")
	c.wmu.Lock()
	ready := c.ready
	c.wmu.Unlock()

	require.NoError(t, so.Emit("m", 1))
	require.Equal(t, `42["m",1]`, w.readText())
	eventually(t, parked, "the writer parks after the event")
	require.True(t, ticks.tick())
	eventually(t, parked, "the writer parks again")
	require.EqualValues(t, 1, s.engine.writers.Load(), "the same writer")
	c.wmu.Lock()
	require.True(t, ready == c.ready, "and the same ready channel")
	c.wmu.Unlock()

	require.True(t, ticks.tick()) // a whole interval without a write
	eventually(t, func() bool { return s.engine.writers.Load() == 0 }, "an idle writer exits")
	c.wmu.Lock()
	require.Nil(t, c.ready, "and its ready channel goes with it")
	c.wmu.Unlock()
	require.False(t, ticks.tick(), "no writer left: the ticker stops")
	require.NoError(t, so.Emit("m", 2))
	require.Equal(t, `42["m",2]`, w.readText(), "a new writer starts for the next event")
	eventually(t, parked, "the new writer parks")
	require.True(t, ticks.tick())
}

// A parked writer waits on its ready channel alone: the end of the
// connection wakes it there, and it exits.
func TestParkedWriterExitsWithItsConnection(t *testing.T) {
	s, base := startServer(t, Options{})
	s.engine.liveWriters = &writerSet{} // no linger ticks: only the close can end it
	w, so := connectRoot(t, s, base)
	c := so.client.conn
	require.NoError(t, so.Emit("m", 0)) // the connect reply started no writer (sendNow)
	require.Equal(t, `42["m",0]`, w.readText())
	eventually(t, func() bool {
		c.wmu.Lock()
		defer c.wmu.Unlock()
		return c.parked
	}, "the writer parks")
	require.EqualValues(t, 1, s.engine.writers.Load())
	c.Close("test")
	eventually(t, func() bool { return s.engine.writers.Load() == 0 }, "the parked writer exits with its connection")
}

// A wake token taken by someone else (a polling GET that straddled the
// upgrade waits on the same ready channel) does not leave the writer
// parked for good: it stays marked parked, so the next wake sends again.
func TestWriterWakeSurvivesATakenToken(t *testing.T) {
	c := &EngineConn{ready: make(chan struct{}, 1), parked: true}
	c.wmu.Lock()
	c.wakeParkedLocked()
	c.wmu.Unlock()
	<-c.ready // the GET takes it
	c.wmu.Lock()
	c.wakeParkedLocked()
	c.wmu.Unlock()
	select {
	case <-c.ready:
	default:
		t.Fatal("a parked writer whose wake was taken is never woken again")
	}
}

// A client's close frame is echoed only while the writer is idle: a busy
// writer's write may wait for a slow client, and the poller goroutine that
// echoes must not. A refusal's close frame is written either way.
func TestCloseEchoWaitsForNoWriter(t *testing.T) {
	for _, tt := range []struct {
		name                    string
		writing, parked, queued bool
		echoes                  int64
	}{
		{"no writer", false, false, false, 1},
		{"parked writer", true, true, false, 1},
		{"woken writer", true, true, true, 0},
		{"writing", true, false, false, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			nc := &discardConn{}
			c := &EngineConn{wconn: nc, writing: tt.writing, parked: tt.parked}
			if tt.queued {
				c.q = []*outbound{{}}
			}
			c.echoClose(1000)
			require.Equal(t, tt.echoes, nc.writes.Load(), "echoes")
			c.writeWSClose(wsProtocolError)
			require.Equal(t, tt.echoes+1, nc.writes.Load(), "a refusal's close frame")
		})
	}
}
