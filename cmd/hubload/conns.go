package main

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// runIdle opens --clients connections that each join a room (spread over
// --rooms) and stay idle, answering pings. With --server-pid it reports the
// server's resident memory growth per connection, read after a collection
// (--admin-url or --gc-signal) before the ramp and after --settle.
func (r *runner) runIdle(ctx context.Context) (*Report, error) {
	rr, mem, err := r.idleCrowd(ctx)
	if rr != nil {
		defer closeAll(rr.clients, r.cfg.Concurrency)
	}
	if err != nil {
		return nil, err
	}
	return &Report{Connect: ptr(r.connectStats(rr)), Memory: mem}, nil
}

// idleCrowd opens --clients connections that join rooms <prefix>0 ..
// <prefix><rooms-1> round-robin and stay idle. With --server-pid it reads the
// server's memory before and after (memoryAfter). The caller closes the
// clients of the ramp returned, also with an error.
func (r *runner) idleCrowd(ctx context.Context) (*rampResult, *MemoryStats, error) {
	var before memSample
	if r.cfg.ServerPID > 0 {
		var err error
		if before, err = r.readMemory(ctx); err != nil {
			return nil, nil, err
		}
	}
	rr := r.ramp(ctx, 0, r.cfg.Clients, func(i int, c *client) error {
		if err := c.join(fmt.Sprintf("%s%d", r.cfg.RoomPrefix, i%r.cfg.Rooms)); err != nil {
			return err
		}
		c.start()
		return nil
	})
	if r.cfg.ServerPID <= 0 {
		return rr, nil, nil
	}
	mem, err := r.memoryAfter(ctx, before, rr.opened)
	return rr, mem, err
}

// memoryAfter reads the server's RSS right after a ramp, lets it settle for
// --settle, and compares a collected reading with before over n connections.
func (r *runner) memoryAfter(ctx context.Context, before memSample, n int) (*MemoryStats, error) {
	afterRamp, err := readRSS(r.cfg.ServerPID)
	if err != nil {
		return nil, err
	}
	r.log.Info("settling", zap.Duration("for", r.cfg.Settle), zap.String("then gc", r.cfg.gcMethod()))
	select {
	case <-time.After(r.cfg.Settle):
	case <-ctx.Done():
		return nil, fmt.Errorf("idle settle: %w", ctx.Err())
	}
	after, err := r.readMemory(ctx)
	if err != nil {
		return nil, err
	}
	return memoryStats(r.cfg.gcMethod(), before, memSample{rss: afterRamp}, after, n), nil
}

// runConnect opens --clients connections as fast as the concurrency cap
// allows; each counts once the namespace CONNECT (with JWT check) is acked.
func (r *runner) runConnect(ctx context.Context) (*Report, error) {
	a := sampleCPU(r.cfg.ServerPID)
	rr := r.ramp(ctx, 0, r.cfg.Clients, func(_ int, c *client) error {
		c.start()
		return nil
	})
	cpu := cpuBetween(a, sampleCPU(r.cfg.ServerPID), r.cfg.ServerPID > 0)
	defer closeAll(rr.clients, r.cfg.Concurrency)
	return &Report{Connect: ptr(r.connectStats(rr)), CPU: cpu}, nil
}
