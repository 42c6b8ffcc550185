package resume

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// A record written while its socket was connected has no disconnect time:
// if its node ends without closing the socket (kill -9, power loss), no
// later write says when the client left. Such a record is usable only
// while its node's liveness stamp is live. Each node refreshes its stamp
// every BeatInterval(window) for window+BeatInterval(window), so a record
// of a node that stopped at time X is unusable after X + window + one beat
// interval at the latest.

// Beat intervals: a quarter of the window, within these bounds.
const (
	minBeat = 100 * time.Millisecond
	maxBeat = 5 * time.Second
)

// BeatInterval is how often a node stamps itself alive for a recovery
// window (maxDisconnectionDuration).
func BeatInterval(window time.Duration) time.Duration {
	return min(max(window/4, minBeat), maxBeat)
}

// Liveness keeps one node's stamp fresh.
type Liveness struct {
	Store  Store
	Node   string
	Window time.Duration // maxDisconnectionDuration
	Logger *zap.Logger
}

// TTL is how long one stamp lives.
func (l *Liveness) TTL() time.Duration { return l.Window + BeatInterval(l.Window) }

// Beat writes the stamp once.
func (l *Liveness) Beat(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, BeatInterval(l.Window))
	defer cancel()
	return l.Store.Beat(ctx, l.Node, l.TTL())
}

// Run stamps the node every BeatInterval until ctx ends; failed stamps are
// logged (the node's connected records stop being usable when they lapse).
func (l *Liveness) Run(ctx context.Context) error {
	t := time.NewTicker(BeatInterval(l.Window))
	defer t.Stop()
	for {
		if err := l.Beat(ctx); err != nil && ctx.Err() == nil && l.Logger != nil {
			l.Logger.Warn("node liveness stamp not written", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
