package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/redis/rueidis"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/resume"
)

// sessionRecords are the session records of connection state recovery and
// this node's liveness stamp in them.
type sessionRecords struct {
	store    resume.Store
	liveness *resume.Liveness
}

// openResume opens the session records of connection state recovery: in
// Redis when it is configured (a client may reconnect to any node), else
// in sessions.db under the data directory (kept across restarts), and
// stamps the node alive once. Zero when recovery is off. A sessions.db that
// cannot be opened is an error: the daemon does not start rather than run
// without the recovery it was configured for. Redis failures are not: the
// guarded client degrades the node (hubd_redis_degraded) and recovery
// works again once Redis answers.
func openResume(cfg Config, redis rueidis.Client, node string, back *backends, log *zap.Logger) (sessionRecords, error) {
	window := cfg.SocketIO.MaxDisconnectionDuration
	if window <= 0 {
		return sessionRecords{}, nil
	}
	l := log.Named("resume")
	var st resume.Store
	if redis != nil {
		st = resume.NewRedis(redis, cfg.Redis.Prefix+"resume:")
	} else {
		path := filepath.Join(cfg.Data, "sessions.db")
		if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
			return sessionRecords{}, fmt.Errorf("data dir: %w (connection state recovery needs %s; socketio.maxDisconnectionDuration: 0 turns it off)", err, path)
		}
		b, err := resume.OpenBolt(path)
		if err != nil {
			return sessionRecords{}, fmt.Errorf("%w (socketio.maxDisconnectionDuration: 0 turns connection state recovery off)", err)
		}
		back.closers = append(back.closers, func() { _ = b.Close() })
		st = b
	}
	lv := &resume.Liveness{Store: st, Node: node, Window: window, Logger: l}
	if err := lv.Beat(context.Background()); err != nil {
		l.Warn("node liveness stamp not written", zap.Error(err))
	}
	return sessionRecords{store: st, liveness: lv}, nil
}

// newNodeID names a node without a Redis adapter in its session records.
func newNodeID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// node is the node name written in session records ("" when off).
func (r sessionRecords) node() string {
	if r.liveness == nil {
		return ""
	}
	return r.liveness.Node
}
