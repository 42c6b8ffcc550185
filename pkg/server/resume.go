package server

import (
	"os"
	"path/filepath"

	"github.com/redis/rueidis"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/resume"
)

// openResume opens the session records of connection state recovery: in
// Redis when it is configured (a client may reconnect to any node), else
// in sessions.db under the data directory (kept across restarts). nil when
// recovery is off or the file cannot be opened (logged: the daemon serves
// without recovery rather than not at all).
func openResume(cfg Config, redis rueidis.Client, back *backends, log *zap.Logger) resume.Store {
	if cfg.SocketIO.MaxDisconnectionDuration <= 0 {
		return nil
	}
	if redis != nil {
		return resume.NewRedis(redis, cfg.Redis.Prefix+"resume:")
	}
	l := log.Named("resume")
	if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
		l.Error("connection state recovery off", zap.Error(err))
		return nil
	}
	b, err := resume.OpenBolt(filepath.Join(cfg.Data, "sessions.db"))
	if err != nil {
		l.Error("connection state recovery off", zap.Error(err))
		return nil
	}
	back.closers = append(back.closers, func() { _ = b.Close() })
	return b
}
