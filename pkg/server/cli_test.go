package server

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func runMain(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestVersionAndHelp(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		code     int
		stdout   []string // substrings of stdout
		notInOut []string
		stderr   string
	}{
		{name: "version", args: []string{"version"}, stdout: []string{"hubd ", runtime.Version()}},
		{name: "--version", args: []string{"--version"}, stdout: []string{"hubd ", "commit "}},
		{name: "help", args: []string{"--help"}, stdout: []string{"hubd serve", "hubd version"}},
		{name: "serve --help lists the serve flags only", args: []string{"serve", "--help"},
			stdout: []string{"Usage: hubd serve", "--admin-listen", "--config", "--hubs"}, notInOut: []string{"--user", "--ttl"}},
		{name: "check --help", args: []string{"check", "-h"}, stdout: []string{"Usage: hubd check", "--hubs"}},
		{name: "token --help lists the token flags only", args: []string{"token", "--help"},
			stdout: []string{"Usage: hubd token", "--user", "--ttl"}, notInOut: []string{"--hubs", "--listen"}},
		{name: "unknown flag", args: []string{"serve", "--bogus"}, code: 2, stderr: "hubd serve: unknown flag: --bogus"},
		{name: "unknown command", args: []string{"sevre"}, code: 2, stderr: `unknown command "sevre"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := runMain(tc.args...)
			require.Equal(t, tc.code, code, "stdout %s\nstderr %s", out, errs)
			for _, s := range tc.stdout {
				require.Contains(t, out, s)
			}
			for _, s := range tc.notInOut {
				require.NotContains(t, out, s)
			}
			require.Contains(t, errs, tc.stderr)
		})
	}
}

func TestBuildInfoMetric(t *testing.T) {
	srv := runningServer(t, nil)
	t.Cleanup(srv.release)
	b := ReadBuildInfo()
	mfs, err := srv.metrics.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != "hubd_build_info" {
			continue
		}
		m := mf.GetMetric()[0]
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		require.Equal(t, map[string]string{"version": b.Version, "commit": b.Commit, "goversion": runtime.Version()}, labels)
		require.Equal(t, 1.0, m.GetGauge().GetValue())
		require.True(t, strings.HasPrefix(b.String(), "hubd "))
		return
	}
	t.Fatal("no hubd_build_info")
}
