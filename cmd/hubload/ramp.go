package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/gorilla/websocket"
	"go.uber.org/zap"
)

// runner holds what every scenario shares.
type runner struct {
	cfg     config
	log     *zap.Logger
	p       *packets
	dial    dialConfig
	errs    *errorCounts
	tokens  []string
	dialers []*websocket.Dialer // one per source address
}

func newRunner(cfg config, log *zap.Logger) (*runner, error) {
	u, err := socketURL(cfg.URL, cfg.Path)
	if err != nil {
		return nil, err
	}
	sources, err := parseSources(cfg.SourceAddrs)
	if err != nil {
		return nil, err
	}
	r := &runner{
		cfg:     cfg,
		log:     log,
		p:       newPackets(cfg.Namespace),
		dial:    dialConfig{URL: u, Namespace: cfg.Namespace, Timeout: cfg.Timeout},
		errs:    &errorCounts{},
		dialers: newDialers(sources),
	}
	// Tokens are signed before any timing starts: the figures measure the
	// server's verification, not the load generator's signing.
	r.tokens, err = makeTokens(cfg.TokenSecret, cfg.totalClients(), cfg.Duration+cfg.Warmup+time.Hour)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// makeTokens signs one HS256 token per client with userId u<i> and roleId
// user. An empty secret yields empty tokens (no auth sent).
func makeTokens(secret string, n int, ttl time.Duration) ([]string, error) {
	tokens := make([]string, n)
	if secret == "" {
		return tokens, nil
	}
	exp := time.Now().Add(ttl).Unix()
	for i := range tokens {
		t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
			"userId": fmt.Sprintf("u%d", i),
			"roleId": "user",
			"exp":    exp,
		})
		s, err := t.SignedString([]byte(secret))
		if err != nil {
			return nil, fmt.Errorf("sign token %d: %w", i, err)
		}
		tokens[i] = s
	}
	return tokens, nil
}

// rampResult describes one ramp of connections.
type rampResult struct {
	clients []*client // index i is client i, nil when it failed
	opened  int
	failed  int
	elapsed time.Duration
	latency histogram // dial to namespace connected (and set up)
}

// ramp opens n clients with at most cfg.Concurrency handshakes in flight, so
// the listen backlog is never overrun. The clients are numbered i = 0..n-1
// and use the tokens and source addresses of from+i. setup runs on each
// connected client (join, measure, start); a client whose setup fails is
// closed and counted.
func (r *runner) ramp(ctx context.Context, from, n int, setup func(i int, c *client) error) *rampResult {
	res := &rampResult{clients: make([]*client, n)}
	workers := r.cfg.Concurrency
	if workers > n {
		workers = n
	}
	next := make(chan int)
	lats := make([]histogram, workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(h *histogram) {
			defer wg.Done()
			for i := range next {
				t0 := time.Now()
				g := from + i
				c, err := dialClient(ctx, r.dialers[g%len(r.dialers)], r.dial, r.p, i, r.tokens[g], r.errs)
				if err == nil && setup != nil {
					if err = setup(i, c); err != nil {
						c.close()
					}
				}
				mu.Lock()
				if err != nil {
					res.failed++
				} else {
					res.opened++
					res.clients[i] = c
				}
				mu.Unlock()
				if err != nil {
					r.errs.add(label(err))
					continue
				}
				h.record(time.Since(t0))
			}
		}(&lats[w])
	}
	progressEvery := n / 10
	if progressEvery < 1000 {
		progressEvery = n
	}
feed:
	for i := 0; i < n; i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
		if (i+1)%progressEvery == 0 && i+1 < n {
			r.log.Info("ramping", zap.Int("dispatched", i+1), zap.Int("of", n))
		}
	}
	close(next)
	wg.Wait()
	res.elapsed = time.Since(start)
	for i := range lats {
		res.latency.merge(&lats[i])
	}
	r.log.Info("ramp done", zap.Int("opened", res.opened), zap.Int("failed", res.failed),
		zap.Duration("elapsed", res.elapsed))
	return res
}

// closeAll closes every open client concurrently and waits for their readers.
func closeAll(clients []*client, workers int) {
	next := make(chan *client)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range next {
				c.close()
			}
		}()
	}
	for _, c := range clients {
		if c != nil {
			next <- c
		}
	}
	close(next)
	wg.Wait()
}

// ConnectStats summarises a ramp.
type ConnectStats struct {
	Opened     int         `json:"opened"`
	Failed     int         `json:"failed"`
	Seconds    float64     `json:"seconds"`
	PerSec     float64     `json:"perSec"`
	LatencyMs  Percentiles `json:"latency"`
	Concurrent int         `json:"concurrency"`
}

func (r *runner) connectStats(res *rampResult) ConnectStats {
	secs := res.elapsed.Seconds()
	cs := ConnectStats{
		Opened:     res.opened,
		Failed:     res.failed,
		Seconds:    secs,
		LatencyMs:  res.latency.summary(),
		Concurrent: r.cfg.Concurrency,
	}
	if secs > 0 {
		cs.PerSec = float64(res.opened) / secs
	}
	return cs
}
