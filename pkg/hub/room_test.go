package hub

import (
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSequencerReleasesInOrder(t *testing.T) {
	var q sequencer
	var mu sync.Mutex
	var got []int64
	rec := func(s int64) func() {
		return func() { mu.Lock(); got = append(got, s); mu.Unlock() }
	}
	// The first number seen starts the sequence.
	q.done(1, rec(1))
	seqs := make([]int64, 0, 199)
	for s := int64(2); s <= 200; s++ {
		seqs = append(seqs, s)
	}
	rand.Shuffle(len(seqs), func(i, j int) { seqs[i], seqs[j] = seqs[j], seqs[i] })
	var wg sync.WaitGroup
	for _, s := range seqs {
		wg.Add(1)
		go func() { defer wg.Done(); q.done(s, rec(s)) }()
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 200)
	for i, s := range got {
		require.Equal(t, int64(i+1), s, "position %d", i)
	}
}

func TestSequencerSkipsAGap(t *testing.T) {
	var q sequencer
	out := make(chan int64, 10)
	rec := func(s int64) func() { return func() { out <- s } }
	q.done(1, rec(1))
	require.Equal(t, int64(1), <-out)
	// 2 never arrives (written elsewhere or failed): 3 and 4 go out after the hold.
	start := time.Now()
	q.done(4, rec(4))
	q.done(3, rec(3))
	require.Equal(t, int64(3), <-out)
	require.Equal(t, int64(4), <-out)
	require.GreaterOrEqual(t, time.Since(start), sequencerHold)
	// A late 2 is still delivered, right away.
	q.done(2, rec(2))
	require.Equal(t, int64(2), <-out)
	q.done(5, rec(5))
	require.Equal(t, int64(5), <-out)
}
