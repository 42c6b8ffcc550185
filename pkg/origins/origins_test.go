package origins

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPolicy(t *testing.T) {
	const app, evil = "https://app.example", "https://evil.example"
	tests := []struct {
		name        string
		list        []string
		origin      string
		allowed     bool
		allowOrigin string
		credentials string
	}{
		{name: "empty list: any origin, no credentials", origin: evil, allowed: true, allowOrigin: evil},
		{name: "no Origin: not checked, no headers", list: []string{app}, allowed: true},
		{name: "listed", list: []string{app}, origin: app, allowed: true, allowOrigin: app, credentials: "true"},
		{name: "listed, other case", list: []string{app}, origin: "HTTPS://APP.example", allowed: true, allowOrigin: "HTTPS://APP.example", credentials: "true"},
		{name: "not listed", list: []string{app}, origin: evil},
		{name: "wildcard", list: []string{"*"}, origin: evil, allowed: true, allowOrigin: evil, credentials: "true"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := New(tc.list)
			require.Equal(t, tc.allowed, p.Allowed(tc.origin))
			if !tc.allowed {
				return
			}
			h := http.Header{}
			p.WriteHeaders(h, tc.origin)
			require.Equal(t, tc.allowOrigin, h.Get("Access-Control-Allow-Origin"))
			require.Equal(t, tc.credentials, h.Get("Access-Control-Allow-Credentials"))
		})
	}
}

func TestPolicySetReplacesTheList(t *testing.T) {
	p := New([]string{"https://a.example"})
	require.True(t, p.Allowed("https://a.example"))
	p.Set([]string{"https://b.example"})
	require.False(t, p.Allowed("https://a.example"))
	require.True(t, p.Allowed("https://b.example"))
	p.Set(nil)
	require.True(t, p.Allowed("https://a.example"), "an empty list allows every origin")
}
