package main

import (
	"context"
	"fmt"

	"go.uber.org/zap"
)

// CrowdStats is what the crowd scenario adds: how the idle connections fared
// while the fan-out ran next to them.
type CrowdStats struct {
	Idle          int    `json:"idle"`          // idle connections opened and joined
	HeldAtEnd     int    `json:"heldAtEnd"`     // of them, still open when the fan-out ended
	PingsAnswered int64  `json:"pingsAnswered"` // Engine.IO pings they answered, from connect to the end
	RSSAtEndBytes int64  `json:"rssAtEndBytes"` // server RSS when the fan-out ended (no collection)
	FanoutRoom    string `json:"fanoutRoom"`
}

// runCrowd holds --clients idle joined connections (rooms <prefix>0 ..
// <prefix><rooms-1>, answering pings) and reads the server's memory after a
// collection, as idle does; then it connects --members more clients to room
// <prefix><rooms> and runs a fan-out there (--senders of them send, open or
// closed loop) while the idle ones stay connected.
func (r *runner) runCrowd(ctx context.Context) (*Report, error) {
	idle, mem, err := r.idleCrowd(ctx)
	if idle != nil {
		defer closeAll(idle.clients, r.cfg.Concurrency)
	}
	if err != nil {
		return nil, err
	}
	if idle.opened == 0 {
		return nil, fmt.Errorf("no idle client connected: %v", r.errs.snapshot())
	}

	room := fmt.Sprintf("%s%d", r.cfg.RoomPrefix, r.cfg.Rooms)
	r.log.Info("fan-out next to the idle crowd", zap.Int("idle", idle.opened), zap.String("room", room),
		zap.Int("members", r.cfg.Members))
	rep, err := r.runTraffic(ctx, trafficPlan{
		from:     r.cfg.Clients,
		n:        r.cfg.Members,
		roomOf:   func(int) string { return room },
		isSender: func(i int) bool { return i < r.cfg.Senders },
		rate:     r.cfg.Rate / float64(r.cfg.Senders),
	})
	if err != nil {
		return nil, err
	}
	crowd := &CrowdStats{Idle: idle.opened, FanoutRoom: room}
	for _, c := range idle.clients {
		if c == nil {
			continue
		}
		crowd.PingsAnswered += c.pongs.Load()
		select {
		case <-c.done:
		default:
			crowd.HeldAtEnd++
		}
	}
	if r.cfg.ServerPID > 0 {
		if crowd.RSSAtEndBytes, err = readRSS(r.cfg.ServerPID); err != nil {
			return nil, err
		}
	}
	rep.Connect = ptr(r.connectStats(idle))
	rep.Memory = mem
	rep.Crowd = crowd
	return rep, nil
}
