package server

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hubd/hubd/pkg/authz"
)

// configReloadServer runs New on a config file and re-reads that file on
// reload, as `hubd serve --config FILE` does.
func configReloadServer(t *testing.T, doc func(dir string) string) (*Server, string, zap.AtomicLevel) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "hubs"), 0o700))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "records"), 0o700))
	writeHub(t, filepath.Join(dir, "hubs"), "a.yaml", "alpha")
	file := filepath.Join(dir, "hubd.yaml")
	require.NoError(t, os.WriteFile(file, []byte(doc("A")), 0o600))
	cfg, err := loadWith(t, []string{"--config", file}, nil)
	require.NoError(t, err)
	srv, err := New(cfg, zap.NewNop())
	require.NoError(t, err)
	t.Cleanup(srv.release)
	srv.SetConfigSource(func() (Config, error) {
		c, _, err := loadConfig(flagSet(t, []string{"--config", file}), nil)
		return c, err
	})
	level := zap.NewAtomicLevelAt(zapcore.InfoLevel)
	srv.SetLogLevel(level)
	return srv, file, level
}

func baseDoc(secret, level, origin, extra string) string {
	return "hubs: hubs\nrecords: records\nlib: \"\"\ndata: data\nlisten: 127.0.0.1:0\nadmin: {listen: 127.0.0.1:0}\n" +
		"auth: {jwtSecret: " + secret + "}\nlog: {level: " + level + "}\nsocketio: {allowedOrigins: [" + origin + "]}\n" + extra
}

func verifies(t *testing.T, srv *Server, secret string) bool {
	t.Helper()
	tok, err := authz.IssueHS256(secret, map[string]any{"userId": "u1"}, time.Minute)
	require.NoError(t, err)
	_, err = srv.verifier.Verify(tok)
	return err == nil
}

func originStatus(srv *Server, origin string) int {
	return preflight(srv, "/socket.io/?EIO=4&transport=polling", origin).Code
}

// preflight answers a browser's CORS preflight of a GET on path from origin.
func preflight(srv *Server, path, origin string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("OPTIONS", path, nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "GET")
	srv.Handler().ServeHTTP(rec, req)
	return rec
}

// restOrigin is the status and Access-Control-Allow-Origin of a REST
// preflight from origin.
func restOrigin(srv *Server, origin string) (int, string) {
	rec := preflight(srv, "/alpha/rooms/r1/presence", origin)
	return rec.Code, rec.Header().Get("Access-Control-Allow-Origin")
}

func TestReloadAppliesLiveConfig(t *testing.T) {
	srv, file, level := configReloadServer(t, func(string) string {
		return baseDoc("secret-a", "info", "https://a.example", "")
	})
	require.True(t, verifies(t, srv, "secret-a"))
	require.Equal(t, http.StatusNoContent, originStatus(srv, "https://a.example"))
	require.Equal(t, http.StatusForbidden, originStatus(srv, "https://b.example"))
	status, acao := restOrigin(srv, "https://a.example")
	require.Equal(t, http.StatusNoContent, status)
	require.Equal(t, "https://a.example", acao)
	status, acao = restOrigin(srv, "https://b.example")
	require.Equal(t, http.StatusForbidden, status)
	require.Empty(t, acao)

	require.NoError(t, os.WriteFile(file, []byte(baseDoc("secret-b", "debug", "https://b.example",
		"scripting: {httpAllow: [api.example]}\n")), 0o600))
	require.NoError(t, srv.Reload())
	require.False(t, verifies(t, srv, "secret-a"), "the old secret is gone")
	require.True(t, verifies(t, srv, "secret-b"))
	require.Equal(t, zapcore.DebugLevel, level.Level())
	require.Equal(t, http.StatusForbidden, originStatus(srv, "https://a.example"))
	require.Equal(t, http.StatusNoContent, originStatus(srv, "https://b.example"))
	status, acao = restOrigin(srv, "https://a.example")
	require.Equal(t, http.StatusForbidden, status, "the REST API follows the reloaded allow-list")
	require.Empty(t, acao)
	status, acao = restOrigin(srv, "https://b.example")
	require.Equal(t, http.StatusNoContent, status)
	require.Equal(t, "https://b.example", acao)
	require.Equal(t, []string{"api.example"}, srv.shared.hosts.HTTPAllow)
	require.Equal(t, []string{"alpha"}, srv.HubNames())
}

func TestReloadRefusesFixedKeys(t *testing.T) {
	srv, file, level := configReloadServer(t, func(string) string {
		return baseDoc("secret-a", "info", "https://a.example", "")
	})
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{name: "store and shutdownTimeout need a restart",
			doc:  baseDoc("secret-c", "debug", "https://a.example", "store: embedded\n") + "shutdownTimeout: 3s\n",
			want: "config: shutdownTimeout, store changed: it needs a restart; nothing was reloaded"},
		{name: "an unknown key", doc: baseDoc("secret-c", "debug", "https://a.example", "stroe: postgres\n"),
			want: "stroe: unknown key"},
		{name: "a key file that does not exist", doc: strings.Replace(baseDoc("secret-c", "debug", "https://a.example", ""),
			"auth: {jwtSecret: secret-c}", "auth: {jwtSecret: secret-c, publicKeyFiles: [missing.pem]}", 1),
			want: "missing.pem"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(file, []byte(tc.doc), 0o600))
			err := srv.Reload()
			require.ErrorContains(t, err, tc.want)
			require.True(t, verifies(t, srv, "secret-a"), "the running config stays")
			require.False(t, verifies(t, srv, "secret-c"))
			require.Equal(t, zapcore.InfoLevel, level.Level())
			require.Equal(t, 0.0, gaugeValue(t, srv, "hubd_config_last_reload_successful"))
		})
	}
}
