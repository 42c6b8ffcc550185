package bridge

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestBackoffDoublesToItsCap(t *testing.T) {
	b := newBackoff(100*time.Millisecond, time.Second)
	var got []time.Duration
	for range 6 {
		got = append(got, b.delay())
	}
	for i, want := range []time.Duration{100, 200, 400, 800, 1000, 1000} {
		want *= time.Millisecond
		require.InDelta(t, float64(want), float64(got[i]), 0.2*float64(want)+1, "retry %d", i)
	}
	b.reset()
	require.InDelta(t, float64(100*time.Millisecond), float64(b.delay()), float64(20*time.Millisecond))
}

func TestLogLimiter(t *testing.T) {
	core, logs := observer.New(zap.InfoLevel)
	l := newLogLimiter(zap.New(core), 100*time.Millisecond)
	for range 50 {
		l.warn("fetch/connection", "fetch failed")
	}
	l.warn("fetch/timeout", "fetch failed") // another failure: its own first line
	require.Equal(t, 2, logs.FilterMessage("fetch failed").Len(), "the first line of each failure")
	time.Sleep(150 * time.Millisecond) // one interval
	l.warn("fetch/connection", "fetch failed")
	lines := logs.FilterMessage("fetch failed").All()
	require.Len(t, lines, 3)
	require.EqualValues(t, 49, lines[2].ContextMap()["suppressed"], "the next line counts those held back")
	for range 5 {
		l.warn("fetch/connection", "fetch failed")
	}
	l.recovered("fetch/", "fetches work again")
	rec := logs.FilterMessage("fetches work again").All()
	require.Len(t, rec, 1)
	require.EqualValues(t, 5, rec[0].ContextMap()["suppressed"])
	l.recovered("fetch/", "fetches work again")
	require.Equal(t, 1, logs.FilterMessage("fetches work again").Len(), "said once")
}
