package main

import (
	"math/bits"
	"time"
)

// histogram is a log-linear latency histogram over microseconds: exact below
// 32 µs, then 32 buckets per power of two (relative error under 3.2%). It is
// not safe for concurrent use; each reader goroutine owns one and they are
// merged after the readers stopped.
type histogram struct {
	counts [histBuckets]uint64
	total  uint64
	max    uint64 // µs
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histBuckets = 40 * histSub // up to 2^44 µs, far beyond any run
)

func bucketOf(us uint64) int {
	if us < histSub {
		return int(us)
	}
	shift := bits.Len64(us) - histSubBits - 1
	idx := (shift+1)*histSub + int(us>>uint(shift)) - histSub
	if idx >= histBuckets {
		return histBuckets - 1
	}
	return idx
}

// bucketBounds returns the smallest and largest value that land in bucket idx.
func bucketBounds(idx int) (lo, hi uint64) {
	if idx < histSub {
		return uint64(idx), uint64(idx)
	}
	shift := uint(idx/histSub - 1)
	base := uint64(histSub + idx%histSub)
	return base << shift, (base+1)<<shift - 1
}

func (h *histogram) record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	us := uint64(d / time.Microsecond)
	h.counts[bucketOf(us)]++
	h.total++
	if us > h.max {
		h.max = us
	}
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.total += o.total
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile returns the value at quantile q (0..1) in microseconds, as the
// midpoint of its bucket, never above the recorded maximum.
func (h *histogram) quantile(q float64) uint64 {
	if h.total == 0 {
		return 0
	}
	rank := uint64(q*float64(h.total) + 0.5)
	if rank < 1 {
		rank = 1
	}
	if rank > h.total {
		rank = h.total
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			lo, hi := bucketBounds(i)
			v := lo + (hi-lo)/2
			if v > h.max {
				v = h.max
			}
			return v
		}
	}
	return h.max
}

// Percentiles is the latency summary written to reports, in milliseconds.
type Percentiles struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50Ms"`
	P90   float64 `json:"p90Ms"`
	P99   float64 `json:"p99Ms"`
	Max   float64 `json:"maxMs"`
}

func (h *histogram) summary() Percentiles {
	ms := func(us uint64) float64 { return float64(us) / 1000 }
	return Percentiles{
		Count: h.total,
		P50:   ms(h.quantile(0.50)),
		P90:   ms(h.quantile(0.90)),
		P99:   ms(h.quantile(0.99)),
		Max:   ms(h.max),
	}
}
