package authz

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
)

func tokenSession(claims map[string]any) *Session {
	s := &Session{UserID: claimString(claims["userId"]), RoleID: claimString(claims["roleId"]), Claims: claims}
	s.Claims["userId"], s.Claims["roleId"] = s.UserID, s.RoleID
	return s
}

func TestClaimsResolver(t *testing.T) {
	s := tokenSession(map[string]any{"userId": "u1", "roleId": "admin"})
	got, err := ClaimsResolver{}.Resolve(context.Background(), "tok", s)
	require.NoError(t, err)
	require.Same(t, s, got)
}

func TestKeyTemplate(t *testing.T) {
	claims := map[string]any{"sessionId": "s1", "tenant": "t9", "num": float64(42), "obj": map[string]any{}}
	tests := []struct {
		name, tmpl, want string
		parseErr         bool
		expandErr        error
	}{
		{name: "one claim", tmpl: "session:{sessionId}", want: "session:s1"},
		{name: "two claims", tmpl: "{tenant}:sess:{sessionId}:data", want: "t9:sess:s1:data"},
		{name: "numeric claim", tmpl: "s:{num}", want: "s:42"},
		{name: "missing claim", tmpl: "s:{nosuch}", expandErr: ErrInvalidToken},
		{name: "object claim", tmpl: "s:{obj}", expandErr: ErrInvalidToken},
		{name: "empty", tmpl: "", parseErr: true},
		{name: "no placeholder", tmpl: "session", parseErr: true},
		{name: "empty placeholder", tmpl: "session:{}", parseErr: true},
		{name: "unbalanced", tmpl: "session:{sessionId", parseErr: true},
		{name: "stray close", tmpl: "session:}{sessionId}", parseErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tmpl, err := parseKeyTemplate(tc.tmpl)
			if tc.parseErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			got, err := tmpl.expand(claims)
			if tc.expandErr != nil {
				require.ErrorIs(t, err, tc.expandErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

func TestRedisSessionResolver(t *testing.T) {
	client := redisClient(t)
	ctx := context.Background()
	prefix := testPrefix(t)
	put := func(key, val string) {
		require.NoError(t, client.Do(ctx, client.B().Set().Key(prefix+key).Value(val).Build()).Error())
	}
	del := func(key string) {
		require.NoError(t, client.Do(ctx, client.B().Del().Key(prefix+key).Build()).Error())
	}
	put("session:s1", `{"userId":"u9","roleId":"admin","tenant":"t1","profile":{"city":"Paris"}}`)
	put("session:s2", `{"tenant":"t2","roleId":""}`)
	put("session:bad", `{not json`)
	put("session:42", `{"roleId":"numeric"}`)

	r, err := NewRedisSessionResolver(client, prefix+"session:{sessionId}", 0)
	require.NoError(t, err)

	tests := []struct {
		name       string
		claims     map[string]any
		wantUser   string
		wantRole   string
		wantClaims map[string]any
		wantErr    []error
	}{
		{name: "stored session wins", claims: map[string]any{"sessionId": "s1", "userId": "u1", "roleId": "user", "keyId": "k1"},
			wantUser: "u9", wantRole: "admin",
			wantClaims: map[string]any{"sessionId": "s1", "userId": "u9", "roleId": "admin", "keyId": "k1", "tenant": "t1", "profile": map[string]any{"city": "Paris"}}},
		{name: "empty stored ids keep the token's", claims: map[string]any{"sessionId": "s2", "userId": "u2", "roleId": "user"},
			wantUser: "u2", wantRole: "user",
			wantClaims: map[string]any{"sessionId": "s2", "userId": "u2", "roleId": "user", "tenant": "t2"}},
		{name: "numeric session id", claims: map[string]any{"sessionId": float64(42), "userId": "u3"}, wantUser: "u3", wantRole: "numeric"},
		{name: "session ended", claims: map[string]any{"sessionId": "gone", "userId": "u1"}, wantErr: []error{ErrInvalidToken, ErrSessionNotFound}},
		{name: "no sessionId claim", claims: map[string]any{"userId": "u1"}, wantErr: []error{ErrInvalidToken}},
		{name: "stored value is not JSON", claims: map[string]any{"sessionId": "bad", "userId": "u1"}, wantErr: []error{ErrSessionUnavailable}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := r.Resolve(ctx, "tok", tokenSession(tc.claims))
			if tc.wantErr != nil {
				for _, want := range tc.wantErr {
					require.ErrorIs(t, err, want)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantUser, s.UserID)
			require.Equal(t, tc.wantRole, s.RoleID)
			if tc.wantClaims != nil {
				require.Equal(t, tc.wantClaims, s.Claims)
			}
		})
	}

	t.Run("without TTL every call reads Redis", func(t *testing.T) {
		put("session:s3", `{"roleId":"r3"}`)
		claims := map[string]any{"sessionId": "s3", "userId": "u1"}
		_, err := r.Resolve(ctx, "tok", tokenSession(claims))
		require.NoError(t, err)
		del("session:s3")
		_, err = r.Resolve(ctx, "tok", tokenSession(claims))
		require.ErrorIs(t, err, ErrInvalidToken)
	})

	t.Run("TTL caches found sessions", func(t *testing.T) {
		cached := &RedisSessionResolver{Client: client, KeyTemplate: prefix + "session:{sessionId}", TTL: 100 * time.Millisecond}
		put("session:s4", `{"roleId":"r4","profile":{"city":"Rome"}}`)
		claims := map[string]any{"sessionId": "s4", "userId": "u1"}
		s, err := cached.Resolve(ctx, "tok", tokenSession(claims))
		require.NoError(t, err)
		s.Claims["profile"].(map[string]any)["city"] = "changed"
		del("session:s4")
		s, err = cached.Resolve(ctx, "tok", tokenSession(claims))
		require.NoError(t, err, "served from memory")
		require.Equal(t, "r4", s.RoleID)
		require.Equal(t, "Rome", s.Claims["profile"].(map[string]any)["city"], "sessions do not share nested values")
		require.Eventually(t, func() bool {
			_, err := cached.Resolve(ctx, "tok", tokenSession(claims))
			return err != nil
		}, 5*time.Second, 10*time.Millisecond)
		_, err = cached.Resolve(ctx, "tok", tokenSession(claims))
		require.ErrorIs(t, err, ErrSessionNotFound)
	})

	t.Run("Redis down", func(t *testing.T) {
		down, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{os.Getenv("HUBD_TEST_REDIS_ADDR")}})
		require.NoError(t, err)
		down.Close()
		dr := &RedisSessionResolver{Client: down, KeyTemplate: prefix + "session:{sessionId}"}
		_, err = dr.Resolve(ctx, "tok", tokenSession(map[string]any{"sessionId": "s1", "userId": "u1"}))
		require.ErrorIs(t, err, ErrSessionUnavailable)
		require.NotErrorIs(t, err, ErrInvalidToken)
	})

	t.Run("config errors", func(t *testing.T) {
		_, err := NewRedisSessionResolver(client, "session", time.Minute)
		require.Error(t, err)
		_, err = NewRedisSessionResolver(nil, "session:{sessionId}", time.Minute)
		require.Error(t, err)
		bad := &RedisSessionResolver{Client: client, KeyTemplate: "{"}
		_, err = bad.Resolve(ctx, "tok", tokenSession(map[string]any{"userId": "u1"}))
		require.Error(t, err)
		require.NotErrorIs(t, err, ErrInvalidToken)
	})
}

// introspectionServer answers per token, like an application's session
// endpoint, and counts requests.
type introspectionServer struct {
	srv      *httptest.Server
	requests atomic.Int64
	closing  chan struct{}
}

func newIntrospectionServer(t *testing.T, method string) *introspectionServer {
	s := &introspectionServer{closing: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		if r.Method != method {
			http.Error(w, "method", http.StatusMethodNotAllowed)
			return
		}
		switch r.Header.Get("Authorization") {
		case "Bearer good", "Bearer good2":
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"userId":"u7","roleId":"mod","sessionId":"s7"}`)
		case "Bearer anon":
			_, _ = io.WriteString(w, `{"plan":"free"}`)
		case "Bearer revoked":
			http.Error(w, "revoked", http.StatusUnauthorized)
		case "Bearer forbidden":
			http.Error(w, "no", http.StatusForbidden)
		case "Bearer notjson":
			_, _ = io.WriteString(w, "<html>login</html>")
		case "Bearer array":
			_, _ = io.WriteString(w, "[1,2]")
		case "Bearer slow":
			select {
			case <-r.Context().Done():
			case <-s.closing:
			}
		default:
			http.Error(w, "boom", http.StatusInternalServerError)
		}
	}))
	t.Cleanup(s.srv.Close)
	t.Cleanup(func() { close(s.closing) })
	return s
}

func TestIntrospectionResolver(t *testing.T) {
	ctx := context.Background()
	srv := newIntrospectionServer(t, http.MethodGet)
	r := &IntrospectionResolver{URL: srv.srv.URL, Timeout: 200 * time.Millisecond}
	claims := func() *Session { return tokenSession(map[string]any{"userId": "u1", "roleId": "user", "keyId": "k"}) }

	tests := []struct {
		token    string
		wantUser string
		wantRole string
		wantErr  error
		notErr   error
	}{
		{token: "good", wantUser: "u7", wantRole: "mod"},
		{token: "anon", wantUser: "u1", wantRole: "user"},
		{token: "revoked", wantErr: ErrInvalidToken, notErr: ErrSessionUnavailable},
		{token: "forbidden", wantErr: ErrInvalidToken, notErr: ErrSessionUnavailable},
		{token: "error", wantErr: ErrSessionUnavailable, notErr: ErrInvalidToken},
		{token: "notjson", wantErr: ErrSessionUnavailable, notErr: ErrInvalidToken},
		{token: "array", wantErr: ErrSessionUnavailable, notErr: ErrInvalidToken},
		{token: "slow", wantErr: ErrSessionUnavailable, notErr: ErrInvalidToken},
	}
	for _, tc := range tests {
		t.Run(tc.token, func(t *testing.T) {
			s, err := r.Resolve(ctx, tc.token, claims())
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.NotErrorIs(t, err, tc.notErr)
				require.NotContains(t, err.Error(), "Bearer")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantUser, s.UserID)
			require.Equal(t, tc.wantRole, s.RoleID)
			require.Equal(t, "k", s.Claims["keyId"])
			require.Equal(t, tc.wantUser, s.Claims["userId"])
		})
	}

	t.Run("POST", func(t *testing.T) {
		post := newIntrospectionServer(t, http.MethodPost)
		pr := &IntrospectionResolver{URL: post.srv.URL, Method: http.MethodPost}
		s, err := pr.Resolve(ctx, "good", claims())
		require.NoError(t, err)
		require.Equal(t, "u7", s.UserID)
	})

	t.Run("unreachable", func(t *testing.T) {
		gone := httptest.NewServer(http.NotFoundHandler())
		gone.Close()
		ur := &IntrospectionResolver{URL: gone.URL}
		_, err := ur.Resolve(ctx, "good", claims())
		require.ErrorIs(t, err, ErrSessionUnavailable)
	})

	t.Run("cache", func(t *testing.T) {
		cs := newIntrospectionServer(t, http.MethodGet)
		cr := &IntrospectionResolver{URL: cs.srv.URL, TTL: time.Hour}
		for range 3 {
			_, err := cr.Resolve(ctx, "good", claims())
			require.NoError(t, err)
		}
		require.EqualValues(t, 1, cs.requests.Load(), "one request per token within the TTL")
		_, err := cr.Resolve(ctx, "good2", claims())
		require.NoError(t, err)
		require.EqualValues(t, 2, cs.requests.Load(), "tokens are cached separately")
		for range 2 {
			_, err := cr.Resolve(ctx, "revoked", claims())
			require.ErrorIs(t, err, ErrInvalidToken)
		}
		require.EqualValues(t, 4, cs.requests.Load(), "refusals are not cached")
	})

	t.Run("cache never outlives the token", func(t *testing.T) {
		cs := newIntrospectionServer(t, http.MethodGet)
		cr := &IntrospectionResolver{URL: cs.srv.URL, TTL: time.Hour}
		short := claims()
		short.ExpiresAt = time.Now().Add(80 * time.Millisecond)
		_, err := cr.Resolve(ctx, "good", short)
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			_, err := cr.Resolve(ctx, "good", short)
			return err == nil && cs.requests.Load() > 1
		}, 5*time.Second, 10*time.Millisecond)
	})

	t.Run("without TTL every call asks", func(t *testing.T) {
		cs := newIntrospectionServer(t, http.MethodGet)
		cr := &IntrospectionResolver{URL: cs.srv.URL}
		for range 2 {
			_, err := cr.Resolve(ctx, "good", claims())
			require.NoError(t, err)
		}
		require.EqualValues(t, 2, cs.requests.Load())
	})
}
