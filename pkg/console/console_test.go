package console

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/metrics"
	"github.com/hubd/hubd/pkg/spec"
)

const testSecret = "console-test-secret-0123456789abcdef"

func loadChat(t *testing.T) *spec.Hub {
	t.Helper()
	h, err := spec.LoadFile("../../configs/hubs/chat.yaml", spec.LoadOptions{})
	require.NoError(t, err)
	return h
}

// do runs one request against the console and decodes a JSON answer.
func do(t *testing.T, c *Console, method, path string, body string, hdr map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, req)
	res := rec.Result()
	var out map[string]any
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
	}
	return res, out
}

func TestStaticFilesEmbedded(t *testing.T) {
	c := New(Options{})
	for _, tc := range []struct{ path, want string }{
		{"/-/console/", "<title>hubd console</title>"},
		{"/-/console/js/app.js", "import"},
		{"/-/console/console.css", ":root"},
		{"/-/console/vendor/socket.io.esm.min.js", "Socket.IO v4"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			rec := httptest.NewRecorder()
			c.ServeHTTP(rec, req)
			require.Equal(t, http.StatusOK, rec.Code)
			require.Contains(t, rec.Body.String(), tc.want)
			require.Contains(t, rec.Header().Get("Content-Security-Policy"), "script-src 'self'")
		})
	}
	res, _ := do(t, c, http.MethodGet, "/-/console", "", nil)
	require.Equal(t, http.StatusMovedPermanently, res.StatusCode)
	require.Equal(t, "/-/console/", res.Header.Get("Location"))
}

func TestConfig(t *testing.T) {
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 41234}
	c := New(Options{PublicAddr: func() net.Addr { return addr }, DevTokens: true})
	_, out := do(t, c, http.MethodGet, "/-/console/api/config", "", nil)
	require.Equal(t, "41234", out["publicPort"])
	require.Equal(t, "/socket.io/", out["socketPath"])
	require.Equal(t, false, out["devTokens"], "devTokens needs a secret too")

	c = New(Options{PublicURL: "https://chat.example.com/", DevTokens: true, DevTokenSecret: testSecret})
	_, out = do(t, c, http.MethodGet, "/-/console/api/config", "", nil)
	require.Equal(t, "https://chat.example.com", out["publicURL"])
	require.Equal(t, true, out["devTokens"])
}

func TestHubsSummaryAndReloadStatus(t *testing.T) {
	h := loadChat(t)
	last := ReloadResult{At: time.Unix(1700000000, 0), Initial: true}
	c := New(Options{Hubs: func() []*spec.Hub { return []*spec.Hub{h} }, LastReload: func() ReloadResult { return last }})
	_, out := do(t, c, http.MethodGet, "/-/console/api/hubs", "", nil)
	hubs := out["hubs"].([]any)
	require.Len(t, hubs, 1)
	hub := hubs[0].(map[string]any)
	require.Equal(t, "chatHub", hub["name"])
	require.Equal(t, "/chatHub/openapi.json", hub["openapi"])
	require.Equal(t, "/hub/chatHub", hub["namespace"])
	roles := hub["spec"].(map[string]any)["hubRoles"].([]any)
	require.Equal(t, "owner", roles[0].(map[string]any)["name"])
	reload := out["reload"].(map[string]any)
	require.Equal(t, true, reload["ok"])
	require.Equal(t, true, reload["initial"])
	require.Equal(t, []any{}, reload["errors"])
}

func TestReloadGuardedAndReported(t *testing.T) {
	var last ReloadResult
	fail := errors.New("hubs/bad.yaml: hubRoles[0].name: required\nhubs/bad.yaml: messageSettings.messageTypes[0]: unknown type \"gif\"")
	reloads := 0
	c := New(Options{
		Reload: func() error {
			reloads++
			last = ReloadResult{At: time.Now(), Errors: SplitErrors(fail)}
			return fail
		},
		LastReload: func() ReloadResult { return last },
	})
	own := map[string]string{"X-Hubd-Console": "1", "Origin": "http://example.com"}
	for name, hdr := range map[string]map[string]string{
		"no header":    {"Content-Type": "text/plain"},
		"cross-origin": {"X-Hubd-Console": "1", "Origin": "http://evil.example"},
	} {
		t.Run(name, func(t *testing.T) {
			res, out := do(t, c, http.MethodPost, "/-/console/api/reload", "", hdr)
			require.Equal(t, http.StatusForbidden, res.StatusCode)
			require.Equal(t, "FORBIDDEN", out["error"].(map[string]any)["code"])
		})
	}
	require.Zero(t, reloads)
	res, out := do(t, c, http.MethodPost, "/-/console/api/reload", "{}", own)
	require.Equal(t, http.StatusUnprocessableEntity, res.StatusCode)
	require.Equal(t, 1, reloads)
	require.Equal(t, false, out["ok"])
	require.Equal(t, []any{"hubs/bad.yaml: hubRoles[0].name: required",
		"hubs/bad.yaml: messageSettings.messageTypes[0]: unknown type \"gif\""}, out["errors"])
}

func TestDevTokens(t *testing.T) {
	own := map[string]string{"X-Hubd-Console": "1"}
	off := New(Options{DevTokenSecret: testSecret}) // devTokens not turned on
	res, _ := do(t, off, http.MethodPost, "/-/console/api/token", `{"userId":"u1"}`, own)
	require.Equal(t, http.StatusNotFound, res.StatusCode)

	c := New(Options{DevTokenSecret: testSecret, DevTokens: true})
	for name, body := range map[string]string{
		"no user":             `{"roleId":"admin"}`,
		"unknown field":       `{"userId":"u1","admin":true}`,
		"ttl too long":        `{"userId":"u1","ttlSeconds":90000}`,
		"not json":            `userId=u1`,
		"key in another case": `{"userid":"u1"}`,
		"repeated key":        `{"userId":"u1","userId":"admin"}`,
		"trailing data":       `{"userId":"u1"}{"roleId":"admin"}`,
		"over the limit":      `{"userId":"u1","roleId":"` + strings.Repeat("a", maxTokenRequest) + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			res, out := do(t, c, http.MethodPost, "/-/console/api/token", body, own)
			require.Equal(t, http.StatusBadRequest, res.StatusCode)
			require.Equal(t, "BAD_REQUEST", out["error"].(map[string]any)["code"])
		})
	}
	res, out := do(t, c, http.MethodPost, "/-/console/api/token", `{"userId":"u1","roleId":"member","ttlSeconds":60}`, own)
	require.Equal(t, http.StatusOK, res.StatusCode)
	v, err := authz.NewVerifier(authz.VerifierConfig{HS256Secrets: []string{testSecret}})
	require.NoError(t, err)
	sess, err := v.Verify(out["token"].(string))
	require.NoError(t, err)
	require.Equal(t, "u1", sess.UserID)
	require.Equal(t, "member", sess.RoleID)
}

func TestRESTForwardedToPublicHandler(t *testing.T) {
	var seen []string
	public := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		_, _ = io.WriteString(w, "public")
	})
	c := New(Options{Public: public})
	req := httptest.NewRequest(http.MethodGet, "/-/console/rest/chat/rooms/r1/pending", nil)
	req.Header.Set("Authorization", "Bearer abc")
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, req)
	require.Equal(t, "public", rec.Body.String())
	require.Equal(t, []string{"GET /chat/rooms/r1/pending Bearer abc"}, seen)

	for _, p := range []string{"/-/console/rest/-/reload", "/-/console/rest/socket.io/"} {
		res, _ := do(t, c, http.MethodPost, p, "", nil)
		require.Equal(t, http.StatusNotFound, res.StatusCode, p)
	}
	require.Len(t, seen, 1)
}

func TestOpsGlance(t *testing.T) {
	m := metrics.NewUnregistered()
	now := time.Unix(1700000000, 0)
	c := New(Options{Metrics: m.Registry, Now: func() time.Time { return now }})
	m.SocketConnections.WithLabelValues("chat").Set(3)
	m.RoomMembers.WithLabelValues("chat").Set(2)
	m.MessagesTotal.WithLabelValues("chat", "published").Add(10)
	m.EventErrorsTotal.WithLabelValues("chat", "hub:send", "INVALID_MESSAGE").Add(1)
	m.RESTRequestsTotal.WithLabelValues("chat", "GET /rooms/{roomId}/messages", "").Add(5)

	_, out := do(t, c, http.MethodGet, "/-/console/api/ops", "", nil)
	row := out["hubs"].([]any)[0].(map[string]any)
	require.Equal(t, "chat", row["hub"])
	require.EqualValues(t, 3, row["sockets"])
	require.EqualValues(t, 2, row["members"])
	require.EqualValues(t, 10, row["messages"])
	require.Equal(t, map[string]any{"INVALID_MESSAGE": 1.0}, row["errors"], "REST successes are not errors")
	require.Nil(t, row["messagesPerMinute"], "no rate from one sample")

	now = now.Add(30 * time.Second)
	m.MessagesTotal.WithLabelValues("chat", "pending").Add(5)
	m.RESTRequestsTotal.WithLabelValues("chat", "POST /rooms/{roomId}/messages", "INVALID_MESSAGE").Add(2)
	_, out = do(t, c, http.MethodGet, "/-/console/api/ops", "", nil)
	require.EqualValues(t, 30, out["windowSeconds"])
	row = out["hubs"].([]any)[0].(map[string]any)
	require.EqualValues(t, 10, row["messagesPerMinute"]) // 5 in 30 s
	require.Equal(t, map[string]any{"INVALID_MESSAGE": 4.0}, row["errorsPerMinute"])
	require.Equal(t, map[string]any{"INVALID_MESSAGE": 3.0}, row["errors"])
}

func TestSamplerBounded(t *testing.T) {
	now := time.Unix(0, 0)
	s := newSampler(func() time.Time { return now })
	for i := 0; i < 1000; i++ {
		now = now.Add(time.Second)
		s.glance(nil)
	}
	require.LessOrEqual(t, len(s.samples), maxSamples)
	// A rate is measured over at least a minute once the buffer holds one.
	base, ok := s.record(sample{at: now.Add(time.Second)})
	require.True(t, ok)
	require.GreaterOrEqual(t, now.Add(time.Second).Sub(base.at), rateWindow)
}

func TestSameHost(t *testing.T) {
	for _, tc := range []struct {
		origin, host string
		want         bool
	}{
		{"http://127.0.0.1:9090", "127.0.0.1:9090", true},
		{"http://ADMIN.example:9090", "admin.example:9090", true},
		{"http://127.0.0.1:8080", "127.0.0.1:9090", false},
		{"http://evil.example", "127.0.0.1:9090", false},
		{"null", "127.0.0.1:9090", false},
	} {
		require.Equal(t, tc.want, sameHost(tc.origin, tc.host), "%s vs %s", tc.origin, tc.host)
	}
}

func TestOpsCounterReset(t *testing.T) {
	now := time.Unix(1700000000, 0)
	s := newSampler(func() time.Time { return now })
	count := func(v float64) []*dto.MetricFamily {
		name, hub, value := metricMessages, "chat", v
		return []*dto.MetricFamily{{Name: &name, Metric: []*dto.Metric{{
			Label:   []*dto.LabelPair{{Name: ptr("hub"), Value: &hub}},
			Counter: &dto.Counter{Value: &value},
		}}}}
	}
	s.glance(count(100))
	now = now.Add(time.Minute)
	out := s.glance(count(7)) // the counter started again from zero
	require.EqualValues(t, 7, *out.Hubs[0].MessagesPerMinute)
}

func ptr(s string) *string { return &s }
