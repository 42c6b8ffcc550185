package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// A sessions.db that cannot be opened stops the daemon with an error that
// names the file and the key turning recovery off; with recovery off the
// same data directory serves.
func TestNewRefusesUnusableSessionRecords(t *testing.T) {
	cfg := testConfig(t)
	require.NoError(t, os.MkdirAll(cfg.Data, 0o750))
	path := filepath.Join(cfg.Data, "sessions.db")
	require.NoError(t, os.WriteFile(path, []byte("not a bbolt file, not even close to one page long"), 0o600))

	_, err := New(cfg, zap.NewNop())
	require.Error(t, err)
	require.Contains(t, err.Error(), path)
	require.Contains(t, err.Error(), "socketio.maxDisconnectionDuration: 0")

	cfg.SocketIO.MaxDisconnectionDuration = 0
	srv, err := New(cfg, zap.NewNop())
	require.NoError(t, err)
	srv.release()
}
