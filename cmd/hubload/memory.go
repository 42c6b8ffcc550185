package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A memory reading of the server: its RSS after the server was made to
// collect garbage and return freed memory to the OS, and, for a Go server
// with an admin listener, the heap and stack figures of its /metrics.

// memSample is one reading.
type memSample struct {
	rss        int64
	heapInuse  int64 // go_memstats_heap_inuse_bytes, 0 without --admin-url
	stackInuse int64 // go_memstats_stack_inuse_bytes
	goroutines int64 // go_goroutines
}

var errNoMetric = errors.New("not exposed")

// gcSignals are the signals --gc-signal accepts.
var gcSignals = map[string]syscall.Signal{"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2}

// gcMethod says how readings are preceded by a collection.
func (c config) gcMethod() string {
	switch {
	case c.AdminURL != "":
		return "POST " + strings.TrimRight(c.AdminURL, "/") + "/-/gc"
	case c.GCSignal != "":
		return "signal " + c.GCSignal
	default:
		return "none"
	}
}

// readMemory collects the server's garbage as configured, then reads its RSS
// and, with an admin URL, its runtime memory metrics.
func (r *runner) readMemory(ctx context.Context) (memSample, error) {
	var s memSample
	if err := r.collectServer(ctx); err != nil {
		return s, err
	}
	var err error
	if s.rss, err = readRSS(r.cfg.ServerPID); err != nil {
		return s, err
	}
	if r.cfg.AdminURL == "" {
		return s, nil
	}
	m, err := r.scrapeMetrics(ctx)
	if err != nil {
		return s, err
	}
	s.heapInuse = int64(m["go_memstats_heap_inuse_bytes"])
	s.stackInuse = int64(m["go_memstats_stack_inuse_bytes"])
	s.goroutines = int64(m["go_goroutines"])
	return s, nil
}

// collectServer asks the server to collect: synchronously through the admin
// endpoint, or with a signal, after which it waits until the RSS stops
// moving (a signal is not answered).
func (r *runner) collectServer(ctx context.Context) error {
	switch {
	case r.cfg.AdminURL != "":
		body, err := r.adminDo(ctx, http.MethodPost, "/-/gc")
		if err != nil {
			return fmt.Errorf("server gc: %w", err)
		}
		_, _ = io.Copy(io.Discard, body)
		return body.Close()
	case r.cfg.GCSignal != "":
		if err := syscall.Kill(r.cfg.ServerPID, gcSignals[r.cfg.GCSignal]); err != nil {
			return fmt.Errorf("server gc: signal %s to %d: %w", r.cfg.GCSignal, r.cfg.ServerPID, err)
		}
		return waitRSSSteady(ctx, r.cfg.ServerPID)
	}
	return nil
}

// waitRSSSteady gives a signalled server 200 ms to start collecting, then
// polls its RSS every 100 ms until two readings agree, for at most 5 s.
func waitRSSSteady(ctx context.Context, pid int) error {
	deadline := time.Now().Add(5 * time.Second)
	prev := int64(-1)
	for wait := 200 * time.Millisecond; time.Now().Before(deadline); wait = 100 * time.Millisecond {
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("server gc: %w", ctx.Err())
		}
		rss, err := readRSS(pid)
		if err != nil {
			return err
		}
		if rss == prev {
			return nil
		}
		prev = rss
	}
	return nil
}

func (r *runner) scrapeMetrics(ctx context.Context) (map[string]float64, error) {
	body, err := r.adminDo(ctx, http.MethodGet, "/metrics")
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	defer body.Close()
	return parseMetrics(body, "go_memstats_heap_inuse_bytes", "go_memstats_stack_inuse_bytes", "go_goroutines")
}

func (r *runner) adminDo(ctx context.Context, method, path string) (io.ReadCloser, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(r.cfg.AdminURL, "/")+path, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		_ = res.Body.Close()
		cancel()
		return nil, fmt.Errorf("%s %s: %s", method, path, res.Status)
	}
	return cancelOnClose{res.Body, cancel}, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c cancelOnClose) Close() error {
	defer c.cancel()
	return c.ReadCloser.Close()
}

// parseMetrics reads the unlabelled samples named in want from a Prometheus
// text exposition; every one must be present.
func parseMetrics(r io.Reader, want ...string) (map[string]float64, error) {
	got := make(map[string]float64, len(want))
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		if !ok || strings.HasPrefix(name, "#") {
			continue
		}
		for _, w := range want {
			if name != w {
				continue
			}
			v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			if err != nil {
				return nil, fmt.Errorf("metric %s: %w", name, err)
			}
			got[name] = v
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	for _, w := range want {
		if _, ok := got[w]; !ok {
			return nil, fmt.Errorf("metric %s: %w", w, errNoMetric)
		}
	}
	return got, nil
}
