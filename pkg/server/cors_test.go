package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCORS checks the CORS answers of the public listener: with
// socketio.allowedOrigins empty any origin may connect but never with
// credentials; listed origins get credentials, others 403. The REST APIs
// set no CORS headers at all.
func TestCORS(t *testing.T) {
	const listed, other = "https://app.example", "https://evil.example"
	type answer struct {
		status      int
		allowOrigin string // Access-Control-Allow-Origin
		credentials string // Access-Control-Allow-Credentials
	}
	tests := []struct {
		name    string
		allowed []string
		method  string
		path    string
		origin  string
		want    answer
	}{
		{name: "default: polling handshake", method: "GET", path: "/socket.io/?EIO=4&transport=polling", origin: other,
			want: answer{status: 200, allowOrigin: other}},
		{name: "default: preflight", method: "OPTIONS", path: "/socket.io/?EIO=4&transport=polling", origin: other,
			want: answer{status: 204, allowOrigin: other}},
		{name: "default: REST", method: "GET", path: "/alpha/rooms/r1/messages", origin: other,
			want: answer{status: 401}},
		{name: "default: no Origin", method: "GET", path: "/socket.io/?EIO=4&transport=polling",
			want: answer{status: 200}},
		{name: "listed: polling handshake", allowed: []string{listed}, method: "GET", path: "/socket.io/?EIO=4&transport=polling", origin: listed,
			want: answer{status: 200, allowOrigin: listed, credentials: "true"}},
		{name: "listed: preflight", allowed: []string{listed}, method: "OPTIONS", path: "/socket.io/?EIO=4&transport=polling", origin: listed,
			want: answer{status: 204, allowOrigin: listed, credentials: "true"}},
		{name: "listed: other origin refused", allowed: []string{listed}, method: "GET", path: "/socket.io/?EIO=4&transport=polling", origin: other,
			want: answer{status: 403}},
		{name: "listed: REST", allowed: []string{listed}, method: "GET", path: "/alpha/rooms/r1/messages", origin: listed,
			want: answer{status: 401}},
		{name: "wildcard: credentials as configured", allowed: []string{"*"}, method: "GET", path: "/socket.io/?EIO=4&transport=polling", origin: other,
			want: answer{status: 200, allowOrigin: other, credentials: "true"}},
	}
	// One daemon per allow-list, running until the whole test ends.
	servers := map[string]string{} // allowed origins -> base URL
	base := func(allowed []string) string {
		key := strings.Join(allowed, ",")
		if u, ok := servers[key]; ok {
			return u
		}
		srv := runningServer(t, func(c *Config) { c.SocketIO.AllowedOrigins = allowed })
		run(t, srv)
		servers[key] = "http://" + srv.Addr().String()
		return servers[key]
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, base(tc.allowed)+tc.path, nil)
			require.NoError(t, err)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = res.Body.Close()
			got := answer{
				status:      res.StatusCode,
				allowOrigin: res.Header.Get("Access-Control-Allow-Origin"),
				credentials: res.Header.Get("Access-Control-Allow-Credentials"),
			}
			require.Equal(t, tc.want, got)
		})
	}
}
