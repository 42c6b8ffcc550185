package main

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/zap"
)

// runIdle opens --clients connections that each join a room (spread over
// --rooms) and stay idle, answering pings. With --server-pid it reports the
// server's resident memory growth per connection.
func (r *runner) runIdle(ctx context.Context) (*Report, error) {
	var before int64
	if r.cfg.ServerPID > 0 {
		var err error
		if before, err = readRSS(r.cfg.ServerPID); err != nil {
			return nil, err
		}
	}
	rr := r.ramp(ctx, r.cfg.Clients, func(i int, c *client) error {
		if err := c.join(fmt.Sprintf("%s%d", r.cfg.RoomPrefix, i%r.cfg.Rooms)); err != nil {
			return err
		}
		c.start()
		return nil
	})
	defer closeAll(rr.clients, r.cfg.Concurrency)
	rep := &Report{Connect: ptr(r.connectStats(rr))}
	if r.cfg.ServerPID > 0 {
		mem := &MemoryStats{BeforeBytes: before}
		var err error
		if mem.AfterRampBytes, err = readRSS(r.cfg.ServerPID); err != nil {
			return nil, err
		}
		// Let the server settle (buffers released, GC run) before the
		// reading that counts.
		r.log.Info("settling", zap.Duration("for", r.cfg.Settle))
		select {
		case <-time.After(r.cfg.Settle):
		case <-ctx.Done():
			return nil, fmt.Errorf("idle settle: %w", ctx.Err())
		}
		if mem.AfterBytes, err = readRSS(r.cfg.ServerPID); err != nil {
			return nil, err
		}
		if rr.opened > 0 {
			mem.PerConnBytes = float64(mem.AfterBytes-before) / float64(rr.opened)
		}
		rep.Memory = mem
	}
	return rep, nil
}

// runConnect opens --clients connections as fast as the concurrency cap
// allows; each counts once the namespace CONNECT (with JWT check) is acked.
func (r *runner) runConnect(ctx context.Context) (*Report, error) {
	a := sampleCPU(r.cfg.ServerPID)
	rr := r.ramp(ctx, r.cfg.Clients, func(_ int, c *client) error {
		c.start()
		return nil
	})
	cpu := cpuBetween(a, sampleCPU(r.cfg.ServerPID), r.cfg.ServerPID > 0)
	defer closeAll(rr.clients, r.cfg.Concurrency)
	return &Report{Connect: ptr(r.connectStats(rr)), CPU: cpu}, nil
}
