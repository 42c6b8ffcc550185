package rest

import (
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/hub"
)

var errTest = errors.New("disk failure")

// observation is one Options.Observer call.
type observation struct {
	hub, route, code string
	status           int
	d                time.Duration
}

type observations struct {
	mu  sync.Mutex
	got []observation
}

func (o *observations) observe(hubName, route, code string, status int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.got = append(o.got, observation{hub: hubName, route: route, code: code, status: status, d: d})
}

func (o *observations) take() []observation {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := o.got
	o.got = nil
	return out
}

func TestObserver(t *testing.T) {
	tests := []struct {
		name                string
		method, path, token string
		body                string
		errs                map[string]error
		wantHub, wantRoute  string
		wantCode            string
		wantStatus          int
	}{
		{name: "success", method: "GET", path: "/chatHub/rooms/r1/messages", token: "u1",
			wantHub: "chatHub", wantRoute: "GET /{hub}/rooms/{roomId}/messages", wantStatus: 200},
		{name: "created", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1", body: `{"messageType":"text","content":{"body":"x"}}`,
			wantHub: "chatHub", wantRoute: "POST /{hub}/rooms/{roomId}/messages", wantStatus: 201},
		{name: "path values are not labels", method: "GET", path: "/chatHub/messages/m1", token: "u1",
			wantHub: "chatHub", wantRoute: "GET /{hub}/messages/{messageId}", wantStatus: 200},
		{name: "openapi", method: "GET", path: "/chatHub/openapi.json",
			wantHub: "chatHub", wantRoute: "GET /{hub}/openapi.json", wantStatus: 200},
		{name: "no token", method: "GET", path: "/chatHub/rooms/r1/unread",
			wantHub: "chatHub", wantRoute: "GET /{hub}/rooms/{roomId}/unread", wantCode: "AUTH_REQUIRED", wantStatus: 401},
		{name: "authorization", method: "GET", path: "/chatHub/rooms/r1/unread", token: "u8",
			wantHub: "chatHub", wantRoute: "GET /{hub}/rooms/{roomId}/unread", wantCode: "BLOCKED", wantStatus: 403},
		{name: "rate limited", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1", body: `{"messageType":"text","content":{"body":"x"}}`,
			errs:    map[string]error{"Send": &hub.Error{Code: hub.CodeRateLimited, Message: "slow down", RetryAfterMs: 10}},
			wantHub: "chatHub", wantRoute: "POST /{hub}/rooms/{roomId}/messages", wantCode: "RATE_LIMITED", wantStatus: 429},
		{name: "too large", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1", body: `{"messageType":"text","content":{"body":"` + string(make([]byte, 200)) + `"}}`,
			wantHub: "chatHub", wantRoute: "POST /{hub}/rooms/{roomId}/messages", wantCode: "MESSAGE_TOO_LARGE", wantStatus: 413},
		{name: "internal", method: "GET", path: "/chatHub/rooms/r1/messages", token: "u1",
			errs:    map[string]error{"ListMessages": errTest},
			wantHub: "chatHub", wantRoute: "GET /{hub}/rooms/{roomId}/messages", wantCode: "INTERNAL", wantStatus: 500},
		{name: "disabled route", method: "GET", path: "/minimalHub/rooms/r1/receipts", token: "u1",
			wantHub: "minimalHub", wantRoute: "GET /{hub}/rooms/{roomId}/receipts", wantCode: "NOT_FOUND", wantStatus: 404},
		{name: "unknown hub on a route", method: "GET", path: "/nope/rooms/r1/messages", token: "u1",
			wantHub: "", wantRoute: "GET /{hub}/rooms/{roomId}/messages", wantCode: "NOT_FOUND", wantStatus: 404},
		{name: "unknown path", method: "GET", path: "/some/random/path", wantHub: "", wantRoute: RouteUnmatched, wantCode: "NOT_FOUND", wantStatus: 404},
		{name: "unknown path of a hub", method: "GET", path: "/chatHub/nothing", wantHub: "chatHub", wantRoute: RouteUnmatched, wantCode: "NOT_FOUND", wantStatus: 404},
		{name: "wrong method", method: "PUT", path: "/chatHub/rooms/r1/messages", token: "u1",
			wantHub: "chatHub", wantRoute: RouteUnmatched, wantCode: "BAD_REQUEST", wantStatus: 405},
		{name: "unclean path", method: "GET", path: "/chatHub/../x", wantHub: "", wantRoute: RouteUnmatched, wantCode: "NOT_FOUND", wantStatus: 404},
	}
	var obs observations
	fx := newFixture(t, Options{MaxBodyBytes: 128, Observer: obs.observe})
	patterns := RoutePatterns()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, h := range fx.hubs {
				h.errs = map[string]error{}
				for k, v := range tc.errs {
					h.errs[k] = v
				}
			}
			r := httptest.NewRequest(tc.method, "/", strings.NewReader(tc.body))
			r.URL.Path = tc.path // set after parsing, so the unclean case stays unclean
			if tc.token != "" {
				r.Header.Set("Authorization", "Bearer "+fx.tokens[tc.token])
			}
			w := httptest.NewRecorder()
			fx.handler.ServeHTTP(w, r)
			require.Equal(t, tc.wantStatus, w.Code, w.Body.String())

			got := obs.take()
			require.Len(t, got, 1, "one observation per request")
			o := got[0]
			require.Equal(t, tc.wantHub, o.hub)
			require.Equal(t, tc.wantRoute, o.route)
			require.Equal(t, tc.wantCode, o.code)
			require.Equal(t, w.Code, o.status)
			require.Positive(t, o.d)
			require.True(t, o.route == RouteUnmatched || slices.Contains(patterns, o.route), "route %q is a known pattern", o.route)
		})
	}
}

func TestRoutePatternsAreBounded(t *testing.T) {
	patterns := RoutePatterns()
	require.Len(t, patterns, len(routes))
	require.Contains(t, patterns, "GET /{hub}/messages/{messageId}/deliveries")
	require.NotContains(t, patterns, RouteUnmatched)
	seen := map[string]bool{}
	for _, p := range patterns {
		require.False(t, seen[p], "duplicate pattern %q", p)
		seen[p] = true
	}
}
