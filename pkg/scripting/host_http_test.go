package scripting

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAllowList(t *testing.T) {
	cases := []struct {
		allow []string
		url   string
		want  bool
	}{
		{[]string{"api.example.com"}, "https://api.example.com/x", true},
		{[]string{"api.example.com"}, "http://api.example.com:8080/x", true},
		{[]string{"API.example.com"}, "https://api.EXAMPLE.com/x", true},
		{[]string{"api.example.com"}, "https://evil.com/api.example.com", false},
		{[]string{"api.example.com"}, "https://api.example.com.evil.com/", false},
		{[]string{"api.example.com:443"}, "https://api.example.com/x", true},
		{[]string{"api.example.com:443"}, "http://api.example.com/x", false},
		{[]string{"127.0.0.1:8080"}, "http://127.0.0.1:8080/", true},
		{[]string{"127.0.0.1:8080"}, "http://127.0.0.1:8081/", false},
		{[]string{"*.example.com"}, "https://a.b.example.com/", true},
		{[]string{"*.example.com"}, "https://example.com/", false},
		{[]string{"*.example.com"}, "https://badexample.com/", false},
		{nil, "https://api.example.com/", false},
	}
	for _, tc := range cases {
		u, err := url.Parse(tc.url)
		require.NoError(t, err)
		require.Equal(t, tc.want, allowList(tc.allow).allows(u), "%v %s", tc.allow, tc.url)
	}
}

func TestHTTPHostFunctions(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.Header().Set("X-Method", r.Method)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"method":"`+r.Method+`","type":"`+r.Header.Get("Content-Type")+`","auth":"`+r.Header.Get("Authorization")+`","body":`+strconvQuote(string(b))+`}`)
		case "/missing":
			http.NotFound(w, r)
		case "/slow":
			<-r.Context().Done()
		case "/big":
			_, _ = io.WriteString(w, strings.Repeat("x", 2048))
		case "/away":
			http.Redirect(w, r, "http://other.invalid/", http.StatusFound)
		}
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	e := newEngine(t, Options{Runtimes: 1, HTTPAllow: []string{host}, HTTPMaxBody: 1024, CallTimeout: 2 * time.Second})
	ctx := context.Background()
	vars := map[string]any{"base": srv.URL}

	got, err := e.Eval(ctx, MustCompile(`
const r = http.get(base + "/echo", {headers: {Authorization: "Bearer t"}});
return {status: r.status, ok: r.ok, method: r.headers["x-method"], data: JSON.parse(r.body)}`), "", vars)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"status": int64(200), "ok": true, "method": "GET",
		"data": map[string]any{"method": "GET", "type": "", "auth": "Bearer t", "body": ""}}, got)

	got, err = e.Eval(ctx, MustCompile(`JSON.parse(http.post(base + "/echo", {body: {move: 4}}).body)`), "", vars)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"method": "POST", "type": "application/json", "auth": "", "body": `{"move":4}`}, got)

	got, err = e.Eval(ctx, MustCompile(`JSON.parse(http.post(base + "/echo", {body: "raw", headers: {"Content-Type": "text/plain"}}).body).body`), "", vars)
	require.NoError(t, err)
	require.Equal(t, "raw", got)

	got, err = e.Eval(ctx, MustCompile(`const r = http.get(base + "/missing"); return [r.status, r.ok]`), "", vars)
	require.NoError(t, err)
	require.Equal(t, []any{int64(404), false}, got, "an error status does not throw")

	failures := []struct {
		name, src, want string
	}{
		{"host not allowed", `http.get("http://127.0.0.2:1/")`, "host not allowed"},
		{"not http", `http.get("file:///etc/passwd")`, "absolute http or https URL"},
		{"redirect to another host", `http.get(base + "/away")`, "host not allowed"},
		{"response too large", `http.get(base + "/big")`, "larger than 1024 bytes"},
		{"script timeout", `http.get(base + "/slow", {timeout: 50})`, "deadline exceeded"},
		{"get with body", `http.get(base + "/echo", {body: "x"})`, "GET request has no body"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			_, err := e.Eval(ctx, MustCompile(tc.src), "", vars)
			se := requireKind(t, err, KindRuntime)
			require.Contains(t, se.Msg, tc.want)
			require.Less(t, time.Since(start), time.Second)
		})
	}

	// Scripts may catch the error.
	got, err = e.Eval(ctx, MustCompile(`try { http.get("http://127.0.0.2:1/"); return "no" } catch (e) { return "caught" }`), "", nil)
	require.NoError(t, err)
	require.Equal(t, "caught", got)
}

func TestHTTPDisabledWithoutAllowList(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1})
	_, err := e.Eval(context.Background(), MustCompile(`http.get("http://127.0.0.1/")`), "", nil)
	se := requireKind(t, err, KindRuntime)
	require.Contains(t, se.Msg, "no hosts are allowed")
}

func TestHTTPCallBoundedByCallTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	e := newEngine(t, Options{Runtimes: 1, HTTPAllow: []string{host}, CallTimeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := e.Eval(context.Background(), MustCompile(`http.get(url)`), "", map[string]any{"url": srv.URL})
	require.Error(t, err)
	require.Less(t, time.Since(start), time.Second)
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
