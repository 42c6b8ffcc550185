package server

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCORS checks the CORS answers of the public listener, one rule for the
// Socket.IO transports and every REST route: with socketio.allowedOrigins
// empty any origin may call but never with credentials; listed origins get
// credentials; others get no Access-Control-Allow-Origin (403 for the
// polling transport and for REST preflights).
func TestCORS(t *testing.T) {
	const listed, other = "https://app.example", "https://evil.example"
	type answer struct {
		status      int
		allowOrigin string // Access-Control-Allow-Origin
		credentials string // Access-Control-Allow-Credentials
		methods     string // Access-Control-Allow-Methods
		headers     string // Access-Control-Allow-Headers
		vary        string
	}
	const (
		restPath  = "/alpha/rooms/r1/messages" // a route every hub has
		restVerbs = "GET, POST, PATCH, DELETE"
		restHdrs  = "Authorization, Content-Type"
	)
	tests := []struct {
		name    string
		allowed []string
		method  string
		path    string
		origin  string
		want    answer
	}{
		{name: "default: polling handshake", method: "GET", path: "/socket.io/?EIO=4&transport=polling", origin: other,
			want: answer{status: 200, allowOrigin: other, vary: "Origin"}},
		{name: "default: preflight", method: "OPTIONS", path: "/socket.io/?EIO=4&transport=polling", origin: other,
			want: answer{status: 204, allowOrigin: other, methods: "GET, POST", vary: "Origin"}},
		{name: "default: REST", method: "GET", path: "/alpha/rooms/r1/messages", origin: other,
			want: answer{status: 401, allowOrigin: other, vary: "Origin"}},
		{name: "default: REST preflight", method: "OPTIONS", path: restPath, origin: other,
			want: answer{status: 204, allowOrigin: other, methods: restVerbs, headers: restHdrs, vary: "Origin"}},
		{name: "default: REST without Origin", method: "GET", path: restPath,
			want: answer{status: 401, vary: "Origin"}},
		{name: "default: no Origin", method: "GET", path: "/socket.io/?EIO=4&transport=polling",
			want: answer{status: 200, vary: "Origin"}},
		{name: "listed: polling handshake", allowed: []string{listed}, method: "GET", path: "/socket.io/?EIO=4&transport=polling", origin: listed,
			want: answer{status: 200, allowOrigin: listed, credentials: "true", vary: "Origin"}},
		{name: "listed: preflight", allowed: []string{listed}, method: "OPTIONS", path: "/socket.io/?EIO=4&transport=polling", origin: listed,
			want: answer{status: 204, allowOrigin: listed, credentials: "true", methods: "GET, POST", vary: "Origin"}},
		{name: "listed: other origin refused", allowed: []string{listed}, method: "GET", path: "/socket.io/?EIO=4&transport=polling", origin: other,
			want: answer{status: 403, vary: "Origin"}},
		{name: "listed: other origin's preflight refused", allowed: []string{listed}, method: "OPTIONS", path: "/socket.io/?EIO=4&transport=polling", origin: other,
			want: answer{status: 403, vary: "Origin"}},
		{name: "listed: REST", allowed: []string{listed}, method: "GET", path: "/alpha/rooms/r1/messages", origin: listed,
			want: answer{status: 401, allowOrigin: listed, credentials: "true", vary: "Origin"}},
		{name: "listed: REST preflight", allowed: []string{listed}, method: "OPTIONS", path: restPath, origin: listed,
			want: answer{status: 204, allowOrigin: listed, credentials: "true", methods: restVerbs, headers: restHdrs, vary: "Origin"}},
		{name: "listed: REST preflight of another origin refused", allowed: []string{listed}, method: "OPTIONS", path: restPath, origin: other,
			want: answer{status: 403, vary: "Origin"}},
		{name: "listed: REST of another origin has no CORS headers", allowed: []string{listed}, method: "GET", path: restPath, origin: other,
			want: answer{status: 401, vary: "Origin"}},
		{name: "listed: openapi.json", allowed: []string{listed}, method: "GET", path: "/alpha/openapi.json", origin: listed,
			want: answer{status: 200, allowOrigin: listed, credentials: "true", vary: "Origin"}},
		{name: "listed: openapi.json for another origin", allowed: []string{listed}, method: "GET", path: "/alpha/openapi.json", origin: other,
			want: answer{status: 200, vary: "Origin"}},
		{name: "listed: asyncapi.json", allowed: []string{listed}, method: "GET", path: "/alpha/asyncapi.json", origin: listed,
			want: answer{status: 200, allowOrigin: listed, credentials: "true", vary: "Origin"}},
		{name: "listed: unknown hub", allowed: []string{listed}, method: "GET", path: "/nohub/openapi.json", origin: listed,
			want: answer{status: 404, allowOrigin: listed, credentials: "true", vary: "Origin"}},
		{name: "wildcard: credentials as configured", allowed: []string{"*"}, method: "GET", path: "/socket.io/?EIO=4&transport=polling", origin: other,
			want: answer{status: 200, allowOrigin: other, credentials: "true", vary: "Origin"}},
		{name: "wildcard: REST", allowed: []string{"*"}, method: "GET", path: restPath, origin: other,
			want: answer{status: 401, allowOrigin: other, credentials: "true", vary: "Origin"}},
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
			if tc.method == http.MethodOptions {
				req.Header.Set("Access-Control-Request-Method", "GET")
				req.Header.Set("Access-Control-Request-Headers", "authorization")
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = res.Body.Close()
			got := answer{
				status:      res.StatusCode,
				allowOrigin: res.Header.Get("Access-Control-Allow-Origin"),
				credentials: res.Header.Get("Access-Control-Allow-Credentials"),
				methods:     res.Header.Get("Access-Control-Allow-Methods"),
				vary:        strings.Join(res.Header.Values("Vary"), ", "),
			}
			if strings.HasPrefix(tc.path, "/alpha/") || strings.HasPrefix(tc.path, "/nohub/") {
				got.headers = res.Header.Get("Access-Control-Allow-Headers")
			}
			require.Equal(t, tc.want, got)
		})
	}
}
