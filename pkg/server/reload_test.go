package server

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

const hubYAML = `
hubBasics: {name: %s}
roomSettings:
  roomDataObject: room
  authScripts: [{name: everyone, script: "true"}]
`

func writeHub(t *testing.T, dir, file, name string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, file), []byte(sprintf(hubYAML, name)), 0o600))
}

func sprintf(f, name string) string { return fmt.Sprintf(f, name) }

func testServer(t *testing.T) (*Server, Config) {
	t.Helper()
	cfg := testConfig(t)
	srv, err := New(cfg, zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(srv.release)
	return srv, cfg
}

// testConfig is the config of a test daemon: hub alpha in a temp dir, no
// library, the embedded store.
func testConfig(t *testing.T) Config {
	t.Helper()
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Hubs = filepath.Join(dir, "hubs")
	cfg.Records = filepath.Join(dir, "records")
	cfg.Lib = ""
	cfg.Data = filepath.Join(dir, "data")
	cfg.Auth.JWTSecret = "test-secret"
	require.NoError(t, os.Mkdir(cfg.Hubs, 0o700))
	require.NoError(t, os.Mkdir(cfg.Records, 0o700))
	writeHub(t, cfg.Hubs, "a.yaml", "alpha")
	return cfg
}

func TestReloadValidateThenSwap(t *testing.T) {
	srv, cfg := testServer(t)
	require.Equal(t, []string{"alpha"}, srv.HubNames())
	require.Equal(t, 1.0, gaugeValue(t, srv, "hubd_config_last_reload_successful"))
	alpha := srv.resolveNamespace("/hub/alpha")
	require.NotNil(t, alpha)
	require.Same(t, alpha, srv.resolveNamespace("/chat-api/hub/alpha"), "prefixed alias reaches the same hub")
	require.Nil(t, srv.resolveNamespace("/hub/beta"))
	require.Nil(t, srv.resolveNamespace("/alpha"))

	// A broken file fails the reload whole: alpha keeps running, beta is not added.
	writeHub(t, cfg.Hubs, "b.yaml", "beta")
	require.NoError(t, os.WriteFile(filepath.Join(cfg.Hubs, "c.yaml"), []byte("hubBasics: {name: Bad Name}\n"), 0o600))
	err := srv.Reload()
	require.Error(t, err)
	require.Contains(t, err.Error(), "c.yaml")
	require.Equal(t, []string{"alpha"}, srv.HubNames())
	require.Equal(t, 0.0, gaugeValue(t, srv, "hubd_config_last_reload_successful"))

	// Fixed: both hubs run, alpha is the same running hub (live state kept).
	require.NoError(t, os.Remove(filepath.Join(cfg.Hubs, "c.yaml")))
	require.NoError(t, srv.Reload())
	require.Equal(t, []string{"alpha", "beta"}, srv.HubNames())
	require.Same(t, alpha, srv.resolveNamespace("/hub/alpha"))
	require.NotNil(t, srv.resolveNamespace("/hub/beta"))
	require.Equal(t, 1.0, gaugeValue(t, srv, "hubd_config_last_reload_successful"))

	// Removed hub is gone.
	require.NoError(t, os.Remove(filepath.Join(cfg.Hubs, "a.yaml")))
	require.NoError(t, srv.Reload())
	require.Equal(t, []string{"beta"}, srv.HubNames())
	require.Nil(t, srv.resolveNamespace("/hub/alpha"))
}

func TestNewRefusesInvalidDirectory(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Hubs = dir
	cfg.Records = ""
	cfg.Lib = ""
	cfg.Data = filepath.Join(dir, "data")
	cfg.Auth.JWTSecret = "s"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "x.yaml"), []byte("hubBasics: {name: metrics}\nroomSettings: {roomDataObject: r}\n"), 0o600))
	_, err := New(cfg, zap.NewNop())
	require.ErrorContains(t, err, "x.yaml")
}

func gaugeValue(t *testing.T, srv *Server, name string) float64 {
	t.Helper()
	return firstSeries(t, srv, name).GetGauge().GetValue()
}

// firstSeries gathers the first series of metric name.
func firstSeries(t *testing.T, srv *Server, name string) *dto.Metric {
	t.Helper()
	mfs, err := srv.metrics.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0]
		}
	}
	t.Fatalf("metric %s not found", name)
	return nil
}
