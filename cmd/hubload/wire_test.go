package main

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPacketPrefixes(t *testing.T) {
	tests := []struct {
		ns                  string
		wantEvent, wantConn string
	}{
		{ns: "/hub/chatHub", wantEvent: "42/hub/chatHub,", wantConn: "40/hub/chatHub,"},
		{ns: "/", wantEvent: "42", wantConn: "40"},
		{ns: "", wantEvent: "42", wantConn: "40"},
	}
	for _, tc := range tests {
		t.Run(tc.ns, func(t *testing.T) {
			p := newPackets(tc.ns)
			require.Equal(t, tc.wantEvent, string(p.event))
			require.Equal(t, tc.wantConn, string(p.connect))
		})
	}
}

func TestConnectPacket(t *testing.T) {
	p := newPackets("/hub/chatHub")
	got, err := p.connectPacket("a.b.c")
	require.NoError(t, err)
	require.Equal(t, `40/hub/chatHub,{"token":"a.b.c"}`, string(got))
	got, err = p.connectPacket("")
	require.NoError(t, err)
	require.Equal(t, `40/hub/chatHub,{}`, string(got))
}

func TestAppendSendRoundTrip(t *testing.T) {
	p := newPackets("/hub/chatHub")
	got := p.appendSend(nil, 17, []byte(`"bench-0"`), 1764000000123456789)
	require.Equal(t,
		`42/hub/chatHub,17["hub:send",{"roomId":"bench-0","messageType":"text","content":{"body":"1764000000123456789"}}]`,
		string(got))
	ts, ok := sendStamp(got)
	require.True(t, ok)
	require.Equal(t, int64(1764000000123456789), ts)
	require.Zero(t, testing.AllocsPerRun(100, func() {
		got = p.appendSend(got[:0], 18, []byte(`"bench-0"`), 1)
	}), "appendSend must reuse its buffer")
}

func TestParseAck(t *testing.T) {
	p := newPackets("/hub/chatHub")
	tests := []struct {
		name     string
		frame    string
		wantID   uint64
		wantArgs string
		wantOK   bool
	}{
		{name: "ack", frame: `43/hub/chatHub,12[{"ok":true}]`, wantID: 12, wantArgs: `[{"ok":true}]`, wantOK: true},
		{name: "other namespace", frame: `43/hub/other,12[{"ok":true}]`},
		{name: "no id", frame: `43/hub/chatHub,[{"ok":true}]`},
		{name: "no args", frame: `43/hub/chatHub,12`},
		{name: "event", frame: `42/hub/chatHub,12["x"]`},
		{name: "truncated", frame: `43/hub/chat`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			id, args, ok := p.parseAck([]byte(tc.frame))
			require.Equal(t, tc.wantOK, ok)
			require.Equal(t, tc.wantID, id)
			require.Equal(t, tc.wantArgs, string(args))
		})
	}
}

func TestAckOutcome(t *testing.T) {
	tests := []struct {
		name     string
		args     string
		wantOK   bool
		wantCode string
	}{
		{name: "ok first", args: `[{"ok":true,"message":{}}]`, wantOK: true},
		{name: "ok after message", args: `[{"message":{"id":"m"},"ok":true}]`, wantOK: true},
		{name: "error", args: `[{"ok":false,"error":{"code":"FORBIDDEN","message":"no"}}]`, wantCode: "FORBIDDEN"},
		{name: "error without code", args: `[{"ok":false}]`, wantCode: "UNKNOWN"},
		{name: "unterminated code", args: `[{"ok":false,"error":{"code":"FORB`, wantCode: "UNKNOWN"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ok, code := ackOutcome([]byte(tc.args))
			require.Equal(t, tc.wantOK, ok)
			require.Equal(t, tc.wantCode, code)
		})
	}
}

func TestSendStamp(t *testing.T) {
	tests := []struct {
		name   string
		frame  string
		want   int64
		wantOK bool
	}{
		{name: "hubd message", frame: `{"roomId":"r","message":{"content":{"body":"123"},"seq":4}}`, want: 123, wantOK: true},
		{name: "skips a non-numeric body", frame: `{"a":{"body":"hi"},"content":{"body":"77"}}`, want: 77, wantOK: true},
		{name: "no body", frame: `{"content":{}}`},
		{name: "empty body", frame: `{"body":""}`},
		{name: "unterminated", frame: `{"body":"123`},
		{name: "too long", frame: `{"body":"12345678901234567890123"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := sendStamp([]byte(tc.frame))
			require.Equal(t, tc.wantOK, ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestIsArrived(t *testing.T) {
	p := newPackets("/hub/chatHub")
	require.True(t, p.isArrived([]byte(`42/hub/chatHub,["hub:messageArrived",{}]`)))
	require.False(t, p.isArrived([]byte(`42/hub/chatHub,["hub:messageArrivedX",{}]`)))
	require.False(t, p.isArrived([]byte(`42/hub/chatHub,5["hub:messageArrived",{}]`)))
	require.False(t, p.isArrived([]byte(`42/hub/other,["hub:messageArrived",{}]`)))
}

func FuzzWire(f *testing.F) {
	for _, seed := range []string{
		`43/hub/chatHub,12[{"ok":true}]`, `43/hub/chatHub,`, `43/hub/chatHub,99999999999999999999999[`,
		`42/hub/chatHub,["hub:messageArrived",{"body":"1"}]`, `{"body":"`, `"code":"`, ``,
	} {
		f.Add([]byte(seed))
	}
	p := newPackets("/hub/chatHub")
	f.Fuzz(func(t *testing.T, frame []byte) {
		if _, args, ok := p.parseAck(frame); ok {
			require.Equal(t, byte('['), args[0])
			ackOutcome(args)
		}
		if ts, ok := sendStamp(frame); ok {
			require.GreaterOrEqual(t, ts, int64(0))
		}
		p.isArrived(frame)
		connectErrorMessage(frame)
	})
}

func TestHistogramBuckets(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 100000; i++ {
		v := rng.Uint64() >> rng.IntN(64)
		idx := bucketOf(v)
		lo, hi := bucketBounds(idx)
		if idx == histBuckets-1 && v > hi {
			continue // clamped overflow bucket
		}
		require.LessOrEqual(t, lo, v, "v=%d idx=%d", v, idx)
		require.GreaterOrEqual(t, hi, v, "v=%d idx=%d", v, idx)
		if v >= histSub {
			require.LessOrEqual(t, float64(hi-lo), float64(lo)/histSub, "bucket too wide for v=%d", v)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	tests := []struct {
		name   string
		values []time.Duration
		q      float64
		want   time.Duration
	}{
		{name: "single", values: []time.Duration{5 * time.Millisecond}, q: 0.99, want: 5 * time.Millisecond},
		{name: "median of 1..100ms", values: ramp(100, time.Millisecond), q: 0.5, want: 50 * time.Millisecond},
		{name: "p99 of 1..100ms", values: ramp(100, time.Millisecond), q: 0.99, want: 99 * time.Millisecond},
		{name: "p90 of 1..1000us", values: ramp(1000, time.Microsecond), q: 0.9, want: 900 * time.Microsecond},
		{name: "small exact", values: ramp(10, time.Microsecond), q: 0.5, want: 5 * time.Microsecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h histogram
			for _, v := range tc.values {
				h.record(v)
			}
			got := float64(h.quantile(tc.q))
			want := float64(tc.want / time.Microsecond)
			require.InEpsilon(t, want, got, 0.035)
		})
	}
}

func TestHistogramMergeAndSummary(t *testing.T) {
	var a, b histogram
	require.Equal(t, Percentiles{}, a.summary())
	a.record(time.Millisecond)
	b.record(100 * time.Millisecond)
	b.record(-time.Second) // clock skew counts as zero
	a.merge(&b)
	s := a.summary()
	require.Equal(t, uint64(3), s.Count)
	require.InDelta(t, 100, s.Max, 0.001)
	require.InEpsilon(t, 1, s.P50, 0.035)
	require.InEpsilon(t, 100, s.P99, 0.035)
}

func ramp(n int, unit time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = time.Duration(i+1) * unit
	}
	return out
}

// BenchmarkHandleDelivery is the receive hot path for one hub:messageArrived
// frame as hubd sends it.
func BenchmarkHandleDelivery(b *testing.B) {
	p := newPackets("/hub/chatHub")
	win := &window{}
	win.start.Store(0)
	win.end.Store(1 << 62)
	c := &client{p: p, errs: &errorCounts{}}
	c.measure(win, false, 0)
	frame := []byte(`42/hub/chatHub,["hub:messageArrived",{"roomId":"bench-0","message":{"id":"0193a6f4-7a51-7c2e-9b0e-5d3c1a2b4c6d",` +
		`"roomId":"bench-0","seq":1234,"senderId":"u1","messageType":"text","content":{"body":"` +
		strconv.FormatInt(time.Now().UnixNano(), 10) + `"},"timestamp":"2026-11-28T00:00:00.000Z","status":"published"},"sender":{"id":"u1"}}]`)
	b.ReportAllocs()
	for b.Loop() {
		c.handle(frame)
	}
	require.Equal(b, int64(b.N), c.stats.deliveredInWindow.Load())
}
