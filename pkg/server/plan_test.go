package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestExampleConfigPlans: configs/hubd.yaml plans from any working
// directory (its paths are relative to it) and writes nothing.
func TestExampleConfigPlans(t *testing.T) {
	file, err := filepath.Abs(filepath.Join("..", "..", "configs", "hubd.yaml"))
	require.NoError(t, err)
	t.Chdir(t.TempDir())
	cfg, err := loadWith(t, []string{"--config", file}, []string{"HUBD_JWT_SECRET=s"})
	require.NoError(t, err)
	p, err := NewPlan(cfg)
	require.NoError(t, err)
	require.NotEmpty(t, p.Specs)
	require.Equal(t, filepath.Join(filepath.Dir(file), "hubs"), p.Config.Hubs)
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	require.Empty(t, entries, "planning writes nothing")
}

// TestPlanReportsEveryProblem: problems of every part of the plan come
// back together, each with what sets the key.
func TestPlanReportsEveryProblem(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.Hubs = filepath.Join(dir, "hubs")
	cfg.Records = filepath.Join(dir, "records")
	cfg.Lib = filepath.Join(dir, "lib")
	cfg.Store = "stroe"
	cfg.Auth.Session.Resolver = "redis"
	require.NoError(t, os.Mkdir(cfg.Hubs, 0o700))
	require.NoError(t, os.Mkdir(cfg.Records, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(cfg.Records, "room.json"), []byte(`[{"id":`), 0o600))
	writeHub(t, cfg.Hubs, "a.yaml", "alpha")
	_, err := NewPlan(cfg)
	require.Error(t, err)
	for _, want := range []string{
		`store: "stroe" is not auto, embedded or postgres [set with HUBD_STORE, store in the --config file]`,
		"redis.addr: auth.session.resolver redis needs it [set with HUBD_REDIS__ADDR",
		"auth.session.redisKey: auth.session.resolver redis needs it",
		"auth: authz: no token verification key configured [set with --jwt-secret",
		"room.json",
		"load service library " + cfg.Lib, // the library named by the operator does not exist
	} {
		require.Contains(t, err.Error(), want)
	}
}

// TestPlanDefaultLibOptional: a missing default library directory is no
// error; the hubs run without a library.
func TestPlanDefaultLibOptional(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cfg := DefaultConfig()
	cfg.Hubs, cfg.Records = "hubs", "records"
	cfg.Auth.JWTSecret = "s"
	require.NoError(t, os.Mkdir("hubs", 0o700))
	require.NoError(t, os.Mkdir("records", 0o700))
	writeHub(t, "hubs", "a.yaml", "alpha")
	p, err := NewPlan(cfg)
	require.NoError(t, err)
	require.Equal(t, "", p.Config.Lib)
	require.Len(t, p.Specs, 1)
}
