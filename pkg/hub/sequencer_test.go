package hub

import (
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// recorder collects released sequence numbers.
type recorder struct {
	mu  sync.Mutex
	got []int64
}

func (r *recorder) emit(s int64) func() {
	return func() { r.mu.Lock(); r.got = append(r.got, s); r.mu.Unlock() }
}

func (r *recorder) snapshot() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.got...)
}

// waitFor polls until the recorder holds want exactly.
func (r *recorder) waitFor(t *testing.T, want []int64) {
	t.Helper()
	require.Eventually(t, func() bool { return len(r.snapshot()) >= len(want) }, 5*time.Second, time.Millisecond)
	require.Equal(t, want, r.snapshot())
}

func seqRange(from, to int64) []int64 {
	var out []int64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

// storeFiller answers repairs from a fake store holding numbers 1..top,
// and counts its reads.
type storeFiller struct {
	top   atomic.Int64
	fail  atomic.Int32 // reads left that fail
	reads atomic.Int32
	rec   *recorder
}

func (f *storeFiller) fill(after, before int64) ([]seqItem, int64, error) {
	f.reads.Add(1)
	if f.fail.Load() > 0 {
		f.fail.Add(-1)
		return nil, 0, errors.New("store down")
	}
	top := f.top.Load()
	if before == 0 || before-1 > top {
		before = top + 1
	}
	var items []seqItem
	for s := after + 1; s < before; s++ {
		items = append(items, seqItem{seq: s, emit: f.rec.emit(s)})
	}
	return items, max(after, before-1), nil
}

func TestSequencerReleasesInOrder(t *testing.T) {
	var q sequencer
	var rec recorder
	// The first number seen starts the sequence.
	q.done(1, rec.emit(1))
	seqs := seqRange(2, 200)
	rand.Shuffle(len(seqs), func(i, j int) { seqs[i], seqs[j] = seqs[j], seqs[i] })
	var wg sync.WaitGroup
	for _, s := range seqs {
		wg.Add(1)
		go func() { defer wg.Done(); q.done(s, rec.emit(s)) }()
	}
	wg.Wait()
	rec.waitFor(t, seqRange(1, 200))
}

func TestSequencerDropsDuplicates(t *testing.T) {
	var q sequencer
	var rec recorder
	for _, s := range []int64{1, 2, 2, 1, 3, 3} {
		q.done(s, rec.emit(s))
	}
	q.done(5, rec.emit(5))
	q.done(5, rec.emit(5))
	q.done(4, rec.emit(4))
	rec.waitFor(t, seqRange(1, 5))
}

func TestSequencerSkipsAGapWithoutAStore(t *testing.T) {
	var q sequencer
	var rec recorder
	q.done(1, rec.emit(1))
	// 2 never arrives: 3 and 4 go out after the wait.
	start := time.Now()
	q.done(4, rec.emit(4))
	q.done(3, rec.emit(3))
	rec.waitFor(t, []int64{1, 3, 4})
	require.GreaterOrEqual(t, time.Since(start), gapWait)
	// A late 2 is still delivered, right away, and only once.
	q.done(2, rec.emit(2))
	q.done(2, rec.emit(2))
	q.done(5, rec.emit(5))
	rec.waitFor(t, []int64{1, 3, 4, 2, 5})
}

func TestSequencerRepairsAGapFromTheStore(t *testing.T) {
	var rec recorder
	f := &storeFiller{rec: &rec}
	f.top.Store(10)
	q := sequencer{fill: f.fill}
	q.done(1, rec.emit(1))
	// 2..9 are lost; 10 arrives: the gap is read from the store.
	q.done(10, rec.emit(10))
	rec.waitFor(t, seqRange(1, 10))
	require.Equal(t, int32(1), f.reads.Load())
	// Their late notices are dropped: each number once.
	for s := int64(2); s <= 10; s++ {
		q.done(s, rec.emit(s))
	}
	q.done(11, rec.emit(11))
	rec.waitFor(t, seqRange(1, 11))
}

func TestSequencerRetriesAFailedRepair(t *testing.T) {
	var rec recorder
	f := &storeFiller{rec: &rec}
	f.top.Store(4)
	f.fail.Store(2)
	q := sequencer{fill: f.fill}
	q.done(1, rec.emit(1))
	q.done(4, rec.emit(4))
	rec.waitFor(t, seqRange(1, 4))
	require.Equal(t, int32(3), f.reads.Load())
}

func TestSequencerSkipsAfterBoundedRepairs(t *testing.T) {
	defer func(w time.Duration) { gapWait = w }(gapWait)
	gapWait = 5 * time.Millisecond
	var rec recorder
	f := &storeFiller{rec: &rec}
	f.fail.Store(1000)
	var skipped atomic.Int32
	q := sequencer{fill: f.fill, stats: func(r string) {
		if r == gapSkipped {
			skipped.Add(1)
		}
	}}
	q.done(1, rec.emit(1))
	q.done(3, rec.emit(3))
	rec.waitFor(t, []int64{1, 3})
	require.Equal(t, int32(repairAttempts), f.reads.Load())
	require.Equal(t, int32(1), skipped.Load())
	// The store comes back: a skipped number that shows up is delivered.
	q.done(2, rec.emit(2))
	rec.waitFor(t, []int64{1, 3, 2})
}

func TestSequencerCatchUpReadsTheTail(t *testing.T) {
	var rec recorder
	f := &storeFiller{rec: &rec}
	q := sequencer{fill: f.fill}
	q.done(1, rec.emit(1))
	rec.waitFor(t, []int64{1})
	// 2..1200 were committed while no notice could arrive; nothing later
	// reveals them.
	f.top.Store(1200)
	q.catchUp()
	rec.waitFor(t, seqRange(1, 1200))
	q.done(1200, rec.emit(1200))
	q.done(1201, rec.emit(1201))
	rec.waitFor(t, seqRange(1, 1201))
}

func TestSequencerAnchor(t *testing.T) {
	for _, tc := range []struct {
		name    string
		last    int64
		ok      bool
		arrived []int64
		want    []int64
	}{
		{name: "numbers after the anchor", last: 7, ok: true, arrived: []int64{9, 8}, want: []int64{8, 9}},
		{name: "numbers from before the anchor are released too", last: 7, ok: true, arrived: []int64{6, 8}, want: []int64{6, 8}},
		{name: "no anchor: the lowest number starts", ok: false, arrived: []int64{5, 4}, want: []int64{4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec recorder
			f := &storeFiller{rec: &rec}
			f.top.Store(tc.last)
			q := sequencer{fill: f.fill, anchoring: true}
			for _, s := range tc.arrived {
				q.done(s, rec.emit(s))
			}
			require.Empty(t, rec.snapshot(), "nothing released before the anchor")
			q.anchor(tc.last, tc.ok)
			rec.waitFor(t, tc.want)
		})
	}
}
