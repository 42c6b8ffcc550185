package deploy_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/hubd/hubd/pkg/server"
)

var composeDir = filepath.Join("compose")

// composeFile is the part of deploy/compose/compose.yaml the test reads.
type composeFile struct {
	Services map[string]struct {
		Image       string            `json:"image"`
		Command     []string          `json:"command"`
		Environment map[string]string `json:"environment"`
		Ports       []string          `json:"ports"`
		Volumes     []string          `json:"volumes"`
	} `json:"services"`
}

// envDefault resolves ${VAR:-default} as Compose does with VAR unset.
var envDefault = regexp.MustCompile(`\$\{[A-Z_]+:-([^}]*)\}`)

// TestComposeQuickstart: the Compose file parses, every service comes from
// a public image, the admin port is published on loopback only, and
// hubd's config, with the container's environment and mounts, passes the
// plan `hubd serve` runs (hubd check).
func TestComposeQuickstart(t *testing.T) {
	var c composeFile
	b, err := os.ReadFile(filepath.Join(composeDir, "compose.yaml"))
	require.NoError(t, err)
	require.NoError(t, yaml.Unmarshal(b, &c))
	require.ElementsMatch(t, []string{"hubd", "postgres", "redis", "kafka", "prometheus"}, keys(c.Services))
	public := regexp.MustCompile(`^(ghcr\.io/|docker\.redpanda\.com/|prom/|)[a-z0-9./-]+:[A-Za-z0-9._-]+$`)
	for name, s := range c.Services {
		require.Regexp(t, public, s.Image, "service %s runs a public, tagged image", name)
	}
	hubd := c.Services["hubd"]
	require.Contains(t, hubd.Ports, "8080:8080")
	require.Contains(t, hubd.Ports, "127.0.0.1:9090:9090", "the admin listener on the host's loopback only")
	require.Equal(t, []string{"serve", "--config", "/etc/hubd/hubd.yaml"}, hubd.Command)

	// The container's files: each bind mount's container path -> host path.
	mounts := map[string]string{}
	for _, v := range hubd.Volumes {
		parts := strings.Split(v, ":")
		if strings.HasPrefix(parts[0], ".") {
			mounts[parts[1]] = filepath.Join(composeDir, parts[0])
		}
	}
	hostPath := func(p string) string {
		for ctr, host := range mounts {
			if p == ctr || strings.HasPrefix(p, ctr+"/") {
				return host + strings.TrimPrefix(p, ctr)
			}
		}
		return p
	}
	var environ []string
	for k, v := range hubd.Environment {
		environ = append(environ, k+"="+envDefault.ReplaceAllString(v, "$1"))
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	server.AddFlags(fs)
	require.NoError(t, fs.Parse([]string{"--config", hostPath(hubd.Command[2])}))
	cfg, err := server.LoadConfig(fs, environ)
	require.NoError(t, err)
	require.Equal(t, "postgres", cfg.Store)
	require.Equal(t, "redis:6379", cfg.Redis.Addr)
	require.Equal(t, []string{"kafka:9092"}, cfg.Kafka.Brokers)
	require.Equal(t, "0.0.0.0:9090", cfg.Admin.Listen)
	cfg.Hubs, cfg.Records, cfg.Lib = hostPath(cfg.Hubs), hostPath(cfg.Records), hostPath(cfg.Lib)
	p, err := server.NewPlan(cfg)
	require.NoError(t, err)
	require.NotEmpty(t, p.Specs)

	b, err = os.ReadFile(filepath.Join(composeDir, "prometheus.yml"))
	require.NoError(t, err)
	b, err = yaml.YAMLToJSON(b)
	require.NoError(t, err)
	require.Contains(t, string(b), `"targets":["hubd:9090"]`, "Prometheus scrapes the admin listener")
	_, err = os.Stat(filepath.Join(composeDir, "..", "..", "docs", "quickstart-production.md"))
	require.NoError(t, err, "the walkthrough exists")
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
