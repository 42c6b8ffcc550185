package server

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// runningServer starts a daemon with one hub on random public and admin
// ports; configure may change the config and the server before Run. The
// server stops when the test ends.
func runningServer(t *testing.T, configure func(*Config)) *Server {
	t.Helper()
	cfg := testConfig(t)
	cfg.Listen = "127.0.0.1:0"
	cfg.Admin.Listen = "127.0.0.1:0"
	cfg.ShutdownDrain = 0
	if configure != nil {
		configure(&cfg)
	}
	srv, err := New(cfg, zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(srv.release) // after Run's own, for a server that never ran
	return srv
}

// run runs srv until the test ends and waits until it listens.
func run(t *testing.T, srv *Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	require.Eventually(t, func() bool { return srv.Addr() != nil }, 10*time.Second, 10*time.Millisecond)
}

func httpDo(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(""))
	require.NoError(t, err)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(b)
}

func TestAdminEndpointsOffThePublicListener(t *testing.T) {
	srv := runningServer(t, nil)
	srv.HandleAdmin("GET /console/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("console\n"))
	}))
	run(t, srv)
	require.NotNil(t, srv.AdminAddr())
	require.NotEqual(t, srv.Addr().String(), srv.AdminAddr().String())
	public := "http://" + srv.Addr().String()
	admin := "http://" + srv.AdminAddr().String()

	tests := []struct {
		name       string
		method     string
		path       string
		public     int
		admin      int
		adminBody  string // a substring of the admin answer
		publicBody string // a substring of the public answer
	}{
		{name: "metrics", method: "GET", path: "/metrics", public: 404, admin: 200, adminBody: "hubd_config_hubs_loaded 1"},
		{name: "reload", method: "POST", path: "/-/reload", public: 404, admin: 200, adminBody: "reloaded"},
		{name: "reload by GET", method: "GET", path: "/-/reload", public: 404, admin: 405},
		{name: "gc", method: "POST", path: "/-/gc", public: 404, admin: 200, adminBody: "collected"},
		{name: "gc by GET", method: "GET", path: "/-/gc", public: 404, admin: 405},
		{name: "pprof index", method: "GET", path: "/debug/pprof/", public: 404, admin: 200, adminBody: "goroutine"},
		{name: "pprof profile", method: "GET", path: "/debug/pprof/heap?debug=1", public: 404, admin: 200, adminBody: "heap profile"},
		{name: "pprof cmdline", method: "GET", path: "/debug/pprof/cmdline", public: 404, admin: 200},
		{name: "healthy", method: "GET", path: "/-/healthy", public: 200, admin: 200, adminBody: "ok", publicBody: "ok"},
		{name: "ready", method: "GET", path: "/-/ready", public: 200, admin: 200, adminBody: "ready", publicBody: "ready"},
		{name: "added admin route", method: "GET", path: "/console/", public: 404, admin: 200, adminBody: "console"},
		{name: "socket.io stays public", method: "GET", path: "/socket.io/?EIO=4&transport=polling", public: 200, admin: 404, publicBody: `"sid"`},
		{name: "REST stays public", method: "GET", path: "/alpha/rooms/r1/messages", public: 401, admin: 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := httpDo(t, tc.method, public+tc.path)
			require.Equal(t, tc.public, code, "public %s %s: %s", tc.method, tc.path, body)
			require.Contains(t, body, tc.publicBody)
			code, body = httpDo(t, tc.method, admin+tc.path)
			require.Equal(t, tc.admin, code, "admin %s %s: %s", tc.method, tc.path, body)
			require.Contains(t, body, tc.adminBody)
		})
	}
}

func TestAdminListenerOff(t *testing.T) {
	srv := runningServer(t, func(c *Config) { c.Admin.Listen = "" })
	run(t, srv)
	require.Nil(t, srv.AdminAddr())
	code, _ := httpDo(t, "GET", "http://"+srv.Addr().String()+"/metrics")
	require.Equal(t, 404, code)
}

func TestAdminListenFailureStopsRun(t *testing.T) {
	busy := runningServer(t, nil)
	run(t, busy)
	srv := runningServer(t, func(c *Config) { c.Admin.Listen = busy.AdminAddr().String() })
	err := srv.Run(context.Background())
	require.ErrorContains(t, err, "admin.listen "+busy.AdminAddr().String())
}

func TestAdminGCCollectsBeforeAnswering(t *testing.T) {
	srv := runningServer(t, nil)
	run(t, srv)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	code, body := httpDo(t, "POST", "http://"+srv.AdminAddr().String()+"/-/gc")
	require.Equal(t, http.StatusOK, code, body)
	runtime.ReadMemStats(&after)
	require.Greater(t, after.NumForcedGC, before.NumForcedGC, "a forced collection ran before the answer")
}
