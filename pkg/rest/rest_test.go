package rest

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/rest/apitest"
	"github.com/hubd/hubd/pkg/spec"
)

const testSecret = "rest-test-secret"

var (
	specCacheMu sync.Mutex
	specCache   = map[string]cachedHub{}
)

type cachedHub struct {
	spec      *spec.Hub
	validator *apitest.Validator
}

// cachedSpec loads a spec and the validator of its document once per test
// binary; specs are immutable and documents deterministic.
func cachedSpec(t testing.TB, file string) (*spec.Hub, *apitest.Validator) {
	t.Helper()
	specCacheMu.Lock()
	defer specCacheMu.Unlock()
	if c, ok := specCache[file]; ok {
		return c.spec, c.validator
	}
	h := loadSpec(t, file)
	doc, err := OpenAPI(h)
	require.NoError(t, err)
	v, err := apitest.NewValidator(doc)
	require.NoError(t, err)
	specCache[file] = cachedHub{spec: h, validator: v}
	return h, v
}

// fixture is a handler over fake hubs with their validators.
type fixture struct {
	t          testing.TB
	handler    http.Handler
	hubs       map[string]*fakeHub
	validators map[string]*apitest.Validator
	tokens     map[string]string
}

func newFixture(t testing.TB, opts Options) *fixture {
	t.Helper()
	fx := &fixture{t: t, hubs: map[string]*fakeHub{}, validators: map[string]*apitest.Validator{}, tokens: map[string]string{}}
	for _, file := range []string{"../../configs/hubs/chat.yaml", "testdata/hubs/full.yaml", "testdata/hubs/minimal.yaml", "testdata/hubs/systemonly.yaml"} {
		h, v := cachedSpec(t, file)
		fx.hubs[h.Name()] = newFakeHub(h)
		fx.validators[h.Name()] = v
	}
	ver, err := authz.NewVerifier(authz.VerifierConfig{HS256Secrets: []string{testSecret}})
	require.NoError(t, err)
	for _, u := range []struct{ name, userID, roleID string }{
		{"u1", "u1", "user"}, {"mod", "mod", "user"}, {"u8", "u8", "user"}, {"u9", "u9", "user"},
		{"svc", "backend-1", "service"}, {"backend", "backend-2", "backend"},
	} {
		tok, err := authz.IssueHS256(testSecret, map[string]any{"userId": u.userID, "roleId": u.roleID}, time.Hour)
		require.NoError(t, err)
		fx.tokens[u.name] = tok
	}
	expired, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"userId": "u1", "exp": time.Now().Add(-time.Hour).Unix(),
	}).SignedString([]byte(testSecret))
	require.NoError(t, err)
	fx.tokens["expired"] = expired
	fx.tokens["bad"] = "not.a.token"

	opts.Hubs = func(name string) (Hub, bool) {
		h, ok := fx.hubs[name]
		return h, ok
	}
	opts.Verifier = ver
	if opts.Logger == nil {
		opts.Logger = zaptest.NewLogger(t)
	}
	fx.handler = NewHandler(opts)
	return fx
}

// do sends a request and checks the response against the hub's OpenAPI
// document: documented routes must answer with their documented schema,
// and a 2xx request body must match the documented request schema.
func (fx *fixture) do(method, path, token string, body string) *httptest.ResponseRecorder {
	t := fx.t
	t.Helper()
	var r *http.Request
	if body != "" {
		r = httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
	} else {
		r = httptest.NewRequest(method, path, nil)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+fx.tokens[token])
	}
	w := httptest.NewRecorder()
	fx.handler.ServeHTTP(w, r)

	require.Equal(t, "application/json", w.Header().Get("Content-Type"))
	hubName := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]
	v, known := fx.validators[hubName]
	switch {
	case known && v.Has(method, r.URL.Path):
		require.NoError(t, v.Response(method, r.URL.Path, w.Code, w.Body.Bytes()), "response %s", w.Body.String())
		// Routes without a request body ignore one.
		if err := v.Request(method, r.URL.Path, []byte(body)); w.Code < 300 && !errors.Is(err, apitest.ErrNoRequestBody) {
			require.NoError(t, err)
		}
	default:
		// Not in any document: must be a 404/405 in the error shape.
		require.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, w.Code, w.Body.String())
		require.NoError(t, fx.validators["minimalHub"].Schema("ErrorResponse", w.Body.Bytes()))
	}
	return w
}

type errBody struct {
	OK    bool `json:"ok"`
	Error struct {
		Code         string          `json:"code"`
		Message      string          `json:"message"`
		Details      json.RawMessage `json:"details"`
		RetryAfterMs int64           `json:"retryAfterMs"`
	} `json:"error"`
}

func decodeErr(t *testing.T, w *httptest.ResponseRecorder) errBody {
	t.Helper()
	var e errBody
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &e), w.Body.String())
	require.False(t, e.OK)
	return e
}

func TestRoutes(t *testing.T) {
	tests := []struct {
		name       string
		method     string
		path       string
		token      string
		body       string
		errs       map[string]error // fake hub errors by method
		wantStatus int
		wantCode   string // error code, for error statuses
		wantCall   string // a call the hub must have received
		wantBody   string // a substring of the response body
	}{
		// auth
		{name: "no token", method: "GET", path: "/chatHub/rooms/r1/messages", wantStatus: 401, wantCode: "AUTH_REQUIRED"},
		{name: "bad token", method: "GET", path: "/chatHub/rooms/r1/messages", token: "bad", wantStatus: 401, wantCode: "INVALID_TOKEN"},
		{name: "expired token", method: "GET", path: "/chatHub/rooms/r1/messages", token: "expired", wantStatus: 401, wantCode: "INVALID_TOKEN"},
		{name: "not authorized", method: "GET", path: "/chatHub/rooms/r1/messages", token: "u9", wantStatus: 403, wantCode: "FORBIDDEN", wantBody: `"layer":"authSources"`},
		{name: "blocked", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u8", body: `{"messageType":"text","content":{"body":"x"}}`, wantStatus: 403, wantCode: "BLOCKED"},
		{name: "room not found", method: "GET", path: "/chatHub/rooms/gone/messages", token: "u1", wantStatus: 404, wantCode: "ROOM_NOT_FOUND"},
		{name: "not eligible", method: "GET", path: "/chatHub/rooms/r1/presence", token: "u1",
			errs: map[string]error{"ActorFor": &hub.Error{Code: hub.CodeRoomNotEligible, Message: "room does not support realtime features"}}, wantStatus: 403, wantCode: "ROOM_NOT_ELIGIBLE"},

		// routing
		{name: "openapi without token", method: "GET", path: "/chatHub/openapi.json", wantStatus: 200, wantBody: `"openapi": "3.1.0"`},
		{name: "unknown hub", method: "GET", path: "/nope/rooms/r1/messages", token: "u1", wantStatus: 404, wantCode: "NOT_FOUND", wantBody: "unknown hub"},
		{name: "unknown route", method: "GET", path: "/chatHub/rooms/r1/nothing", token: "u1", wantStatus: 404, wantCode: "NOT_FOUND"},
		{name: "root", method: "GET", path: "/", wantStatus: 404, wantCode: "NOT_FOUND"},
		{name: "wrong method", method: "PUT", path: "/chatHub/rooms/r1/messages", token: "u1", wantStatus: 405, wantCode: "BAD_REQUEST"},
		{name: "wrong method unknown hub", method: "PUT", path: "/nope/rooms/r1/messages", token: "u1", wantStatus: 404, wantCode: "NOT_FOUND"},
		{name: "disabled route", method: "POST", path: "/minimalHub/messages/m1/reactions", token: "u1", body: `{"emoji":"👍"}`, wantStatus: 404, wantCode: "UNKNOWN_EVENT", wantBody: "hub:react is not enabled in this hub (messageSettings.enableReaction)"},
		{name: "disabled receipts", method: "GET", path: "/minimalHub/rooms/r1/receipts", token: "u1", wantStatus: 404, wantCode: "NOT_FOUND"},

		// messages
		{name: "list", method: "GET", path: "/chatHub/rooms/r1/messages", token: "u1", wantStatus: 200, wantCall: "ListMessages r1", wantBody: `"id":"m1"`},
		{name: "list empty", method: "GET", path: "/chatHub/rooms/r7/messages", token: "u1", wantStatus: 200, wantBody: `"messages":[]`},
		{name: "list bad limit", method: "GET", path: "/chatHub/rooms/r1/messages?limit=abc", token: "u1", wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "list zero limit", method: "GET", path: "/chatHub/rooms/r1/messages?limit=0", token: "u1", wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "list unknown before", method: "GET", path: "/chatHub/rooms/r1/messages?before=zz", token: "u1",
			errs: map[string]error{"ListMessages": &hub.Error{Code: hub.CodeNotFound, Message: `no message "zz" in this room`}}, wantStatus: 404, wantCode: "NOT_FOUND"},
		{name: "send", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1",
			body:       `{"messageType":"poll","content":{"question":"Lunch?","options":["a","b"]},"clientMessageId":"c1","forwarded":false}`,
			wantStatus: 201, wantCall: "Send r1 poll", wantBody: `"visibility":"public"`},
		{name: "send pending", method: "POST", path: "/fullHub/rooms/r1/messages", token: "u1",
			body: `{"messageType":"text","content":{"body":"x"}}`, wantStatus: 201, wantBody: `"status":"pending"}`},
		{name: "send invalid content", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1",
			body: `{"messageType":"location","content":{"lat":100}}`, wantStatus: 400, wantCode: "INVALID_MESSAGE", wantBody: `{"field":"lng","message":"required"}`},
		{name: "send unknown field", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1",
			body: `{"messageType":"text","content":{"body":"x"},"roomId":"r1"}`, wantStatus: 400, wantCode: "BAD_REQUEST", wantBody: "unknown field"},
		{name: "send key in another case", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1",
			body: `{"messAgeType":"text","content":{"body":"x"}}`, wantStatus: 400, wantCode: "BAD_REQUEST", wantBody: `unknown field \"messAgeType\"`},
		{name: "send repeated key", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1",
			body: `{"messageType":"text","content":{"body":"x"},"messageType":"poll"}`, wantStatus: 400, wantCode: "BAD_REQUEST", wantBody: "duplicate field"},
		{name: "react key in another case", method: "POST", path: "/chatHub/messages/m1/reactions", token: "u1", body: `{"Emoji":"x"}`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "send replyTo key in another case", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1",
			body: `{"messageType":"text","content":{"body":"x"},"replyTo":{"ID":"m1"}}`, wantStatus: 400, wantCode: "BAD_REQUEST", wantBody: `replyTo: json: unknown field \"ID\"`},
		{name: "send replyTo unknown key", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1",
			body: `{"messageType":"text","content":{"body":"x"},"replyTo":{"id":"m1","x":1}}`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "send replyTo not an object", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1",
			body: `{"messageType":"text","content":{"body":"x"},"replyTo":"m1"}`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "send replyTo null", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1",
			body: `{"messageType":"text","content":{"body":"x"},"replyTo":null}`, wantStatus: 400, wantCode: "BAD_REQUEST", wantBody: `json: field \"replyTo\" must not be null`},
		{name: "send forwarded null", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1",
			body: `{"messageType":"text","content":{"body":"x"},"forwarded":null}`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "send with replyTo and preview", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1",
			body: `{"messageType":"text","content":{"body":"x"},"replyTo":{"id":"m1","preview":"p"}}`, wantStatus: 201, wantCall: "Send r1 text"},
		{name: "send not an object", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1", body: `[1]`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "send null", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1", body: `null`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "send trailing data", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1", body: `{"messageType":"text"} {}`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "send broken json", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1", body: `{"messageType":`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "send no body", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1", wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "send too large", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1",
			body: `{"messageType":"text","content":{"body":"` + strings.Repeat("x", 2048) + `"}}`, wantStatus: 413, wantCode: "MESSAGE_TOO_LARGE"},
		{name: "send rate limited", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1", body: `{"messageType":"text","content":{"body":"x"}}`,
			errs: map[string]error{"Send": &hub.Error{Code: hub.CodeRateLimited, Message: "slow down", RetryAfterMs: 1500}}, wantStatus: 429, wantCode: "RATE_LIMITED", wantBody: `"retryAfterMs":1500`},
		{name: "send rejected by handler", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1", body: `{"messageType":"text","content":{"body":"x"}}`,
			errs: map[string]error{"Send": &hub.Error{Code: hub.CodeRejected, Message: "not your turn"}}, wantStatus: 422, wantCode: "REJECTED"},
		{name: "send type not allowed", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1", body: `{"messageType":"text","content":{"body":"x"}}`,
			errs: map[string]error{"Send": &hub.Error{Code: hub.CodeTypeNotAllowed, Message: "no"}}, wantStatus: 403, wantCode: "TYPE_NOT_ALLOWED"},
		{name: "send silenced", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1", body: `{"messageType":"text","content":{"body":"x"}}`,
			errs: map[string]error{"Send": &hub.Error{Code: hub.CodeSilenced, Message: "silenced"}}, wantStatus: 403, wantCode: "SILENCED"},
		{name: "send room full", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1", body: `{"messageType":"text","content":{"body":"x"}}`,
			errs: map[string]error{"Send": &hub.Error{Code: hub.CodeRoomFull, Message: "full"}}, wantStatus: 409, wantCode: "ROOM_FULL"},
		{name: "store down", method: "POST", path: "/chatHub/rooms/r1/messages", token: "u1", body: `{"messageType":"text","content":{"body":"x"}}`,
			errs: map[string]error{"Send": &hub.Error{Code: hub.CodeUnavailable, Message: "message store unavailable"}}, wantStatus: 503, wantCode: "UNAVAILABLE"},
		{name: "internal error hidden", method: "GET", path: "/chatHub/rooms/r1/messages", token: "u1",
			errs: map[string]error{"ListMessages": errors.New("disk on fire at /var/lib/secret")}, wantStatus: 500, wantCode: "INTERNAL", wantBody: `"message":"internal error"`},
		{name: "unknown code is internal", method: "GET", path: "/chatHub/rooms/r1/messages", token: "u1",
			errs: map[string]error{"ListMessages": &hub.Error{Code: "WEIRD", Message: "x"}}, wantStatus: 500, wantCode: "INTERNAL"},

		{name: "get", method: "GET", path: "/chatHub/messages/m1", token: "u1", wantStatus: 200, wantCall: "ActorFor u1 r1", wantBody: `"id":"m1"`},
		{name: "get unknown", method: "GET", path: "/chatHub/messages/zz", token: "u1", wantStatus: 404, wantCode: "NOT_FOUND"},
		{name: "get not authorized", method: "GET", path: "/chatHub/messages/m1", token: "u9", wantStatus: 403, wantCode: "FORBIDDEN"},
		{name: "edit", method: "PATCH", path: "/chatHub/messages/m1", token: "u1", body: `{"content":{"body":"changed"}}`, wantStatus: 200, wantBody: `"editedAt"`},
		{name: "edit invalid", method: "PATCH", path: "/chatHub/messages/m1", token: "u1", body: `{"content":{"text":"changed"}}`, wantStatus: 400, wantCode: "INVALID_MESSAGE"},
		{name: "edit without content", method: "PATCH", path: "/chatHub/messages/m1", token: "u1", body: `{}`, wantStatus: 400, wantCode: "INVALID_MESSAGE"},
		{name: "edit forbidden", method: "PATCH", path: "/chatHub/messages/m1", token: "u1", body: `{"content":{"body":"x"}}`,
			errs: map[string]error{"EditMessage": &hub.Error{Code: hub.CodeForbidden, Message: "you can edit only your own messages"}}, wantStatus: 403, wantCode: "FORBIDDEN"},
		{name: "delete", method: "DELETE", path: "/chatHub/messages/m1", token: "u1", wantStatus: 200, wantBody: `"status":"deleted"`},
		{name: "react", method: "POST", path: "/chatHub/messages/m1/reactions", token: "u1", body: `{"emoji":"👍"}`, wantStatus: 200, wantBody: `"reaction":[{"emoji":"👍"`},
		{name: "react without emoji", method: "POST", path: "/chatHub/messages/m1/reactions", token: "u1", body: `{}`, wantStatus: 400, wantCode: "INVALID_MESSAGE"},

		// room state
		{name: "presence", method: "GET", path: "/chatHub/rooms/r1/presence", token: "u1", wantStatus: 200, wantBody: `{"userId":"u2","status":"away","sockets":1}`},
		{name: "receipts", method: "GET", path: "/chatHub/rooms/r1/receipts", token: "u1", wantStatus: 200, wantBody: `"lastReadTimestamp":"2026-11-28T00:00:00Z"`},
		{name: "deliveries", method: "GET", path: "/chatHub/messages/m1/deliveries", token: "u1", wantStatus: 200, wantCall: "Deliveries m1",
			wantBody: `{"ok":true,"messageId":"m1","deliveries":[{"userId":"u2","deliveredAt":"2026-11-28T00:00:00Z"}]}`},
		{name: "deliveries unknown message", method: "GET", path: "/chatHub/messages/zz/deliveries", token: "u1", wantStatus: 404, wantCode: "NOT_FOUND"},
		{name: "deliveries not authorized", method: "GET", path: "/chatHub/messages/m1/deliveries", token: "u9", wantStatus: 403, wantCode: "FORBIDDEN"},
		{name: "deliveries no read", method: "GET", path: "/chatHub/messages/m1/deliveries", token: "u1",
			errs: map[string]error{"Deliveries": &hub.Error{Code: hub.CodeForbidden, Message: "no read permission in this room"}}, wantStatus: 403, wantCode: "FORBIDDEN"},
		{name: "deliveries disabled", method: "GET", path: "/minimalHub/messages/m1/deliveries", token: "u1", wantStatus: 404, wantCode: "NOT_FOUND", wantBody: "delivery receipts are not enabled"},
		{name: "unread", method: "GET", path: "/chatHub/rooms/r1/unread", token: "u1", wantStatus: 200, wantBody: `"unread":7`},

		// server events
		{name: "event as user", method: "POST", path: "/fullHub/rooms/r1/events", token: "u1", body: `{"event":"announce"}`, wantStatus: 403, wantCode: "FORBIDDEN"},
		{name: "event without token", method: "POST", path: "/fullHub/rooms/r1/events", body: `{"event":"announce"}`, wantStatus: 401, wantCode: "AUTH_REQUIRED"},
		{name: "event to room", method: "POST", path: "/fullHub/rooms/r1/events", token: "svc", body: `{"event":"announce","data":{"x":1}}`,
			wantStatus: 200, wantCall: `EmitServerEvent r1 announce {"x":1} to=""`},
		{name: "event with null data", method: "POST", path: "/fullHub/rooms/r1/events", token: "svc", body: `{"event":"announce","data":null}`,
			wantStatus: 200, wantCall: `EmitServerEvent r1 announce null to=""`},
		{name: "event with null user", method: "POST", path: "/fullHub/rooms/r1/events", token: "svc", body: `{"event":"announce","userId":null}`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "event to client", method: "POST", path: "/fullHub/rooms/r1/events", token: "svc", body: `{"event":"notice","userId":"u2"}`,
			wantStatus: 200, wantCall: `EmitServerEvent r1 notice  to="u2"`, wantBody: `"userId":"u2"`},
		{name: "event to client without user", method: "POST", path: "/fullHub/rooms/r1/events", token: "svc", body: `{"event":"notice"}`, wantStatus: 400, wantCode: "INVALID_MESSAGE"},
		{name: "room event to one user", method: "POST", path: "/fullHub/rooms/r1/events", token: "svc", body: `{"event":"announce","userId":"u2"}`,
			wantStatus: 200, wantCall: `EmitServerEvent r1 announce  to="u2"`},
		{name: "relayed client event", method: "POST", path: "/fullHub/rooms/r1/events", token: "svc", body: `{"event":"poke","data":[1]}`,
			wantStatus: 200, wantCall: `EmitServerEvent r1 poke [1] to=""`},
		{name: "event without name", method: "POST", path: "/fullHub/rooms/r1/events", token: "svc", body: `{"data":1}`, wantStatus: 400, wantCode: "INVALID_MESSAGE"},
		{name: "unknown event", method: "POST", path: "/fullHub/rooms/r1/events", token: "svc", body: `{"event":"nope"}`, wantStatus: 404, wantCode: "UNKNOWN_EVENT"},
		{name: "event other service role", method: "POST", path: "/fullHub/rooms/r1/events", token: "backend", body: `{"event":"announce"}`, wantStatus: 403, wantCode: "FORBIDDEN"},
		{name: "events disabled", method: "POST", path: "/minimalHub/rooms/r1/events", token: "svc", body: `{"event":"announce"}`, wantStatus: 404, wantCode: "NOT_FOUND"},

		// moderation
		{name: "pending", method: "GET", path: "/fullHub/rooms/r1/pending", token: "mod", wantStatus: 200, wantBody: `"status":"pending"`},
		{name: "pending disabled", method: "GET", path: "/chatHub/rooms/r1/pending", token: "mod", wantStatus: 404, wantCode: "NOT_FOUND"},
		{name: "pending forbidden", method: "GET", path: "/fullHub/rooms/r1/pending", token: "u1",
			errs: map[string]error{"PendingMessages": &hub.Error{Code: hub.CodeForbidden, Message: "canModerate required"}}, wantStatus: 403, wantCode: "FORBIDDEN"},
		{name: "approve", method: "POST", path: "/fullHub/messages/m2/approve", token: "mod", wantStatus: 200, wantCall: "Approve m2", wantBody: `"status":"published"`},
		{name: "reject with reason", method: "POST", path: "/fullHub/messages/m2/reject", token: "mod", body: `{"reason":"spam"}`, wantStatus: 200, wantCall: `Reject m2 "spam"`},
		{name: "reject with null reason", method: "POST", path: "/fullHub/messages/m2/reject", token: "mod", body: `{"reason":null}`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "reject without body", method: "POST", path: "/fullHub/messages/m2/reject", token: "mod", wantStatus: 200, wantCall: `Reject m2 ""`},
		{name: "block", method: "POST", path: "/chatHub/rooms/r1/blocks", token: "mod", body: `{"userId":"u2","reason":"spam","durationSeconds":90}`,
			wantStatus: 200, wantCall: `Block r1 u2 "spam" 1m30s`, wantBody: `"userId":"u2"`},
		{name: "block forever", method: "POST", path: "/chatHub/rooms/r1/blocks", token: "mod", body: `{"userId":"u2"}`, wantStatus: 200, wantCall: `Block r1 u2 "" 0s`},
		{name: "block negative", method: "POST", path: "/chatHub/rooms/r1/blocks", token: "mod", body: `{"userId":"u2","durationSeconds":-1}`, wantStatus: 400, wantCode: "INVALID_MESSAGE"},
		{name: "block fractional", method: "POST", path: "/chatHub/rooms/r1/blocks", token: "mod", body: `{"userId":"u2","durationSeconds":1.5}`, wantStatus: 400, wantCode: "BAD_REQUEST"},
		{name: "block without user", method: "POST", path: "/chatHub/rooms/r1/blocks", token: "mod", body: `{"reason":"x"}`, wantStatus: 400, wantCode: "INVALID_MESSAGE"},
		{name: "block forbidden", method: "POST", path: "/chatHub/rooms/r1/blocks", token: "u1", body: `{"userId":"u2"}`,
			errs: map[string]error{"Block": &hub.Error{Code: hub.CodeForbidden, Message: "canModerate required"}}, wantStatus: 403, wantCode: "FORBIDDEN"},
		{name: "unblock", method: "DELETE", path: "/chatHub/rooms/r1/blocks/u2", token: "mod", wantStatus: 200, wantCall: "Unblock r1 u2"},
		{name: "silence", method: "POST", path: "/chatHub/rooms/r1/silences", token: "mod", body: `{"userId":"u2"}`, wantStatus: 200, wantCall: "Silence r1 u2"},
		{name: "unsilence", method: "DELETE", path: "/chatHub/rooms/r1/silences/u2", token: "mod", wantStatus: 200, wantCall: "Unsilence r1 u2"},
		{name: "kick", method: "POST", path: "/chatHub/rooms/r1/kicks", token: "mod", body: `{"userId":"u2","reason":"bye"}`, wantStatus: 200, wantCall: `Kick r1 u2 "bye"`},
		{name: "update room", method: "PATCH", path: "/chatHub/rooms/r1", token: "mod", body: `{"settings":{"topic":"x"}}`, wantStatus: 200, wantBody: `"settings":{"topic":"x"}`},
		{name: "update room not object", method: "PATCH", path: "/chatHub/rooms/r1", token: "mod", body: `{"settings":[1]}`, wantStatus: 400, wantCode: "INVALID_MESSAGE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fx := newFixture(t, Options{MaxBodyBytes: 1024})
			for _, h := range fx.hubs {
				for k, v := range tc.errs {
					h.errs[k] = v
				}
			}
			w := fx.do(tc.method, tc.path, tc.token, tc.body)
			require.Equal(t, tc.wantStatus, w.Code, w.Body.String())
			if tc.wantCode != "" {
				require.Equal(t, tc.wantCode, decodeErr(t, w).Error.Code)
			} else {
				var okBody struct {
					OK bool `json:"ok"`
				}
				require.NoError(t, json.Unmarshal(w.Body.Bytes(), &okBody))
				require.True(t, okBody.OK || strings.HasSuffix(tc.path, "/openapi.json"))
			}
			if tc.wantBody != "" {
				require.Contains(t, w.Body.String(), tc.wantBody)
			}
			if tc.wantCall != "" {
				var calls []string
				for _, h := range fx.hubs {
					calls = append(calls, h.calls...)
				}
				require.Contains(t, calls, tc.wantCall)
			}
		})
	}
}

func TestTokenFromQuery(t *testing.T) {
	fx := newFixture(t, Options{})
	w := fx.do("GET", "/chatHub/rooms/r1/unread?token="+fx.tokens["u1"], "", "")
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	require.Contains(t, fx.hubs["chatHub"].calls, "ActorFor u1 r1")
}

func TestUnauthorizedHeaders(t *testing.T) {
	fx := newFixture(t, Options{})
	w := fx.do("GET", "/chatHub/rooms/r1/unread", "", "")
	require.Equal(t, http.StatusUnauthorized, w.Code)
	require.Contains(t, w.Header().Get("WWW-Authenticate"), "Bearer")
	// The room authorization never ran.
	require.Empty(t, fx.hubs["chatHub"].calls)
}

func TestRetryAfterHeader(t *testing.T) {
	tests := []struct {
		retryMs int64
		want    string
	}{{1500, "2"}, {1000, "1"}, {1, "1"}, {0, ""}}
	for _, tc := range tests {
		fx := newFixture(t, Options{})
		fx.hubs["chatHub"].errs["Send"] = &hub.Error{Code: hub.CodeRateLimited, Message: "slow down", RetryAfterMs: tc.retryMs}
		w := fx.do("POST", "/chatHub/rooms/r1/messages", "u1", `{"messageType":"text","content":{"body":"x"}}`)
		require.Equal(t, http.StatusTooManyRequests, w.Code)
		require.Equal(t, tc.want, w.Header().Get("Retry-After"), "retryAfterMs %d", tc.retryMs)
	}
}

func TestMethodNotAllowedListsMethods(t *testing.T) {
	fx := newFixture(t, Options{})
	w := fx.do("PUT", "/chatHub/messages/m1", "u1", "")
	require.Equal(t, http.StatusMethodNotAllowed, w.Code)
	require.Equal(t, "GET, PATCH, DELETE", w.Header().Get("Allow"))
}

func TestListQuery(t *testing.T) {
	tests := []struct {
		query string
		want  hub.ListInput
	}{
		{"", hub.ListInput{}},
		{"?limit=5", hub.ListInput{Limit: 5}},
		{"?before=m9&limit=20", hub.ListInput{Before: "m9", Limit: 20}},
		{"?after=m1", hub.ListInput{After: "m1"}},
		{"?before=m9&after=m1&token=ignored-when-header-set", hub.ListInput{Before: "m9", After: "m1"}},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			fx := newFixture(t, Options{})
			w := fx.do("GET", "/chatHub/rooms/r1/messages"+tc.query, "u1", "")
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			require.Equal(t, tc.want, fx.hubs["chatHub"].list)
		})
	}
}

func TestServiceRolesOption(t *testing.T) {
	fx := newFixture(t, Options{ServiceRoles: []string{"backend"}})
	w := fx.do("POST", "/fullHub/rooms/r1/events", "backend", `{"event":"announce"}`)
	require.Equal(t, http.StatusOK, w.Code, w.Body.String())
	w = fx.do("POST", "/fullHub/rooms/r1/events", "svc", `{"event":"announce"}`)
	require.Equal(t, http.StatusForbidden, w.Code, w.Body.String())
}

func TestDefaultBodyLimit(t *testing.T) {
	fx := newFixture(t, Options{})
	big := `{"messageType":"text","content":{"body":"` + strings.Repeat("x", DefaultMaxBodyBytes) + `"}}`
	w := fx.do("POST", "/chatHub/rooms/r1/messages", "u1", big)
	require.Equal(t, http.StatusRequestEntityTooLarge, w.Code)
	require.Empty(t, fx.hubs["chatHub"].calls, "an oversized body reaches no hub operation")
}

func TestOpenAPIRouteServesGeneratedDocument(t *testing.T) {
	fx := newFixture(t, Options{})
	w := fx.do("GET", "/fullHub/openapi.json", "", "")
	require.Equal(t, http.StatusOK, w.Code)
	want, err := OpenAPI(fx.hubs["fullHub"].spec)
	require.NoError(t, err)
	require.JSONEq(t, string(want), w.Body.String())
}

func TestHubRegistryChanges(t *testing.T) {
	fx := newFixture(t, Options{})
	live := map[string]bool{"chatHub": true}
	h := NewHandler(Options{
		Hubs: func(name string) (Hub, bool) {
			if !live[name] {
				return nil, false
			}
			return fx.hubs[name], true
		},
		Verifier: nil,
	})
	get := func(path string) int {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code
	}
	require.Equal(t, http.StatusOK, get("/chatHub/openapi.json"))
	require.Equal(t, http.StatusNotFound, get("/fullHub/openapi.json"))
	live["fullHub"], live["chatHub"] = true, false
	require.Equal(t, http.StatusOK, get("/fullHub/openapi.json"))
	require.Equal(t, http.StatusNotFound, get("/chatHub/openapi.json"))
}

func TestOpenAPIDocumentFollowsReload(t *testing.T) {
	fx := newFixture(t, Options{})
	w := fx.do("GET", "/chatHub/openapi.json", "", "")
	require.Contains(t, w.Body.String(), "reactToMessage")

	// A reload installs a new spec value; the next document follows it.
	reloaded := *fx.hubs["chatHub"].spec
	reloaded.MessageSettings.EnableReaction = false
	fx.hubs["chatHub"].spec = &reloaded
	r := httptest.NewRequest("GET", "/chatHub/openapi.json", nil)
	w = httptest.NewRecorder()
	fx.handler.ServeHTTP(w, r)
	require.Equal(t, http.StatusOK, w.Code)
	require.NotContains(t, w.Body.String(), "reactToMessage")
	want, err := OpenAPI(&reloaded)
	require.NoError(t, err)
	require.JSONEq(t, string(want), w.Body.String())
}

// TestConcurrentRequests runs requests of several hubs at once; with -race
// it checks the document cache and the handler share nothing unsafely.
func TestConcurrentRequests(t *testing.T) {
	fx := newFixture(t, Options{})
	paths := []string{"/chatHub/openapi.json", "/fullHub/openapi.json", "/chatHub/rooms/r1/messages", "/fullHub/rooms/r1/presence"}
	var wg sync.WaitGroup
	codes := make(chan int, 8*len(paths))
	for i := 0; i < 8; i++ {
		for _, p := range paths {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := httptest.NewRequest("GET", p, nil)
				r.Header.Set("Authorization", "Bearer "+fx.tokens["u1"])
				w := httptest.NewRecorder()
				fx.handler.ServeHTTP(w, r)
				codes <- w.Code
			}()
		}
	}
	wg.Wait()
	close(codes)
	for c := range codes {
		require.Equal(t, http.StatusOK, c)
	}
}
