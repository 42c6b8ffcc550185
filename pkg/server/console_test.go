package server

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestConsoleOnTheAdminListenerOnly(t *testing.T) {
	srv := runningServer(t, nil)
	run(t, srv)
	public := "http://" + srv.Addr().String()
	admin := "http://" + srv.AdminAddr().String()

	code, body := httpDo(t, http.MethodGet, admin+"/-/console/")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, "hubd console")
	code, _ = httpDo(t, http.MethodGet, public+"/-/console/")
	require.Equal(t, http.StatusNotFound, code)

	// The console reads the running hubs and hands REST calls to the
	// public routes.
	code, body = httpDo(t, http.MethodGet, admin+"/-/console/api/hubs")
	require.Equal(t, http.StatusOK, code)
	var hubs struct {
		Hubs   []struct{ Name string }
		Reload struct {
			OK      bool
			Initial bool
		}
	}
	require.NoError(t, json.Unmarshal([]byte(body), &hubs))
	require.Len(t, hubs.Hubs, 1)
	require.Equal(t, "alpha", hubs.Hubs[0].Name)
	require.True(t, hubs.Reload.OK && hubs.Reload.Initial)
	code, body = httpDo(t, http.MethodGet, admin+"/-/console/rest/alpha/openapi.json")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"openapi"`)

	var cfg struct{ PublicPort string }
	_, body = httpDo(t, http.MethodGet, admin+"/-/console/api/config")
	require.NoError(t, json.Unmarshal([]byte(body), &cfg))
	require.True(t, strings.HasSuffix(srv.Addr().String(), ":"+cfg.PublicPort))
}

func TestConsoleReloadResultKept(t *testing.T) {
	srv := runningServer(t, nil)
	run(t, srv)
	require.NoError(t, os.WriteFile(filepath.Join(srv.cfg.Hubs, "b.yaml"), []byte("hubBasics:\n  name: beta\nbogus: 1\n"), 0o600))
	require.Error(t, srv.Reload())
	r := srv.LastReload()
	require.False(t, r.Initial)
	require.NotEmpty(t, r.Errors)
	require.Contains(t, strings.Join(r.Errors, "\n"), "b.yaml")
	require.NoError(t, os.Remove(filepath.Join(srv.cfg.Hubs, "b.yaml")))
	require.NoError(t, srv.Reload())
	require.Empty(t, srv.LastReload().Errors)
}

func TestConsoleConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		configure func(*Config)
		err       string
	}{
		"off":                  {configure: func(c *Config) { c.Console.Enabled = false }},
		"dev tokens":           {configure: func(c *Config) { c.Console.DevTokens = true }},
		"dev tokens no secret": {configure: func(c *Config) { c.Console.DevTokens = true; c.Auth.JWTSecret = "" }, err: "console.devTokens: needs auth.jwtSecret"},
		"bad public URL":       {configure: func(c *Config) { c.Console.PublicURL = "chat.example.com" }, err: "console.publicURL"},
		"public URL":           {configure: func(c *Config) { c.Console.PublicURL = "https://chat.example.com" }},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Auth.JWTSecret = "s"
			tc.configure(&cfg)
			err := cfg.Validate()
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestConsoleOff(t *testing.T) {
	srv := runningServer(t, func(c *Config) { c.Console.Enabled = false })
	run(t, srv)
	code, _ := httpDo(t, http.MethodGet, "http://"+srv.AdminAddr().String()+"/-/console/")
	require.Equal(t, http.StatusNotFound, code)
}
