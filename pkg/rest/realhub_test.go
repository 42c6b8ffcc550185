package rest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/rest/apitest"
	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/spec"
)

// realEnv is the REST handler over a real hub running one of the example
// configs with the example records, lib and an embedded message store.
type realEnv struct {
	t        testing.TB
	handler  http.Handler
	hubs     func(name string) (Hub, bool)
	verifier *authz.Verifier
	store    msgstore.Store
	v        *apitest.Validator
	tokens   map[string]string
}

// newRealEnv starts the hub of file; edit, when set, changes the loaded
// spec first.
func newRealEnv(t testing.TB, file string, edit func(*spec.Hub), log *zap.Logger) *realEnv {
	t.Helper()
	const secret = "rest-real-hub-secret-0123456789"
	hs, err := spec.LoadFile(file, spec.LoadOptions{CompileScript: func(src string) error {
		_, err := scripting.Compile(src)
		return err
	}})
	require.NoError(t, err)
	if edit != nil {
		edit(hs)
	}
	eng, err := scripting.NewEngine(scripting.Options{LibDir: "../../configs/lib", Runtimes: 1})
	require.NoError(t, err)
	t.Cleanup(eng.Close)
	def, err := hub.NewDefinition(hs, eng)
	require.NoError(t, err)
	store, err := msgstore.OpenEmbedded(filepath.Join(t.TempDir(), "messages.db"), msgstore.EmbeddedOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	recs, err := records.NewEmbedded("../../configs/records")
	require.NoError(t, err)
	ver, err := authz.NewVerifier(authz.VerifierConfig{HS256Secrets: []string{secret}})
	require.NoError(t, err)
	h := hub.New(def, hub.Deps{Store: store, Records: recs, Verifier: ver, OpTimeout: 5 * time.Second, Logger: log})
	t.Cleanup(func() { h.Close("test done") })

	doc, err := OpenAPI(hs)
	require.NoError(t, err)
	v, err := apitest.NewValidator(doc)
	require.NoError(t, err)
	env := &realEnv{t: t, v: v, tokens: map[string]string{}, verifier: ver, store: store}
	for _, u := range []struct{ name, role string }{{"u1", "user"}, {"u2", "user"}, {"u3", "user"}, {"u4", "user"}, {"svc", "service"}} {
		tok, err := authz.IssueHS256(secret, map[string]any{"userId": u.name, "roleId": u.role}, time.Hour)
		require.NoError(t, err)
		env.tokens[u.name] = tok
	}
	env.hubs = func(name string) (Hub, bool) {
		if name == h.Name() {
			return h, true
		}
		return nil, false
	}
	env.handler = NewHandler(Options{Hubs: env.hubs, Verifier: ver, Logger: log})
	return env
}

// call sends a request as user and checks the response against the
// document; it returns the status and the decoded body.
func (e *realEnv) call(user, method, path, body string) (int, map[string]any) {
	t := e.t
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if user != "" {
		r.Header.Set("Authorization", "Bearer "+e.tokens[user])
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, r)
	if e.v.Has(method, r.URL.Path) {
		require.NoError(t, e.v.Response(method, r.URL.Path, w.Code, w.Body.Bytes()), "%s %s: %s", method, path, w.Body.String())
	} else {
		require.Equal(t, http.StatusNotFound, w.Code)
		require.NoError(t, e.v.Schema("ErrorResponse", w.Body.Bytes()))
	}
	var out map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &out))
	return w.Code, out
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func messageID(t testing.TB, body map[string]any) string {
	t.Helper()
	m, ok := body["message"].(map[string]any)
	require.True(t, ok, "no message in %v", body)
	id, _ := m["id"].(string)
	require.NotEmpty(t, id)
	return id
}

// TestRealHubChat drives the REST API over the real hub; every response is
// checked against the hub's generated document.
func TestRealHubChat(t *testing.T) {
	e := newRealEnv(t, "../../configs/hubs/chat.yaml", nil, zaptest.NewLogger(t))
	const room = "/chatHub/rooms/chat1"

	// Authorization layers.
	code, body := e.call("u4", "GET", room+"/messages", "")
	require.Equal(t, http.StatusForbidden, code, body)
	require.Equal(t, "FORBIDDEN", errCode(body))
	code, body = e.call("u1", "GET", "/chatHub/rooms/chat3/messages", "")
	require.Equal(t, http.StatusForbidden, code, body)
	require.Equal(t, "ROOM_NOT_ELIGIBLE", errCode(body))
	code, body = e.call("u1", "GET", "/chatHub/rooms/nope/messages", "")
	require.Equal(t, http.StatusNotFound, code, body)
	require.Equal(t, "ROOM_NOT_FOUND", errCode(body))

	// Sending: validation, idempotency, viewer without canSend.
	code, body = e.call("u2", "POST", room+"/messages", `{"messageType":"text","content":{"body":"hello"},"clientMessageId":"c1"}`)
	require.Equal(t, http.StatusCreated, code, body)
	first := messageID(t, body)
	code, body = e.call("u2", "POST", room+"/messages", `{"messageType":"text","content":{"body":"hello"},"clientMessageId":"c1"}`)
	require.Equal(t, http.StatusCreated, code, body)
	require.Equal(t, first, messageID(t, body), "a repeated clientMessageId returns the first message")
	code, body = e.call("u1", "POST", room+"/messages", `{"messageType":"poll","content":{"question":"Lunch?","options":["pizza","salad"]},"replyTo":{"id":"`+first+`"}}`)
	require.Equal(t, http.StatusCreated, code, body)
	poll := messageID(t, body)
	require.Equal(t, "public", body["message"].(map[string]any)["content"].(map[string]any)["visibility"])
	code, body = e.call("u2", "POST", room+"/messages", `{"messageType":"location","content":{"lat":100}}`)
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Equal(t, "INVALID_MESSAGE", errCode(body))
	code, body = e.call("u3", "POST", room+"/messages", `{"messageType":"text","content":{"body":"viewer"}}`)
	require.Equal(t, http.StatusForbidden, code, body)
	code, body = e.call("u2", "POST", room+"/messages", `{"messageType":"system","content":{"systemAction":"x"}}`)
	require.Equal(t, http.StatusForbidden, code, body)
	require.Equal(t, "TYPE_NOT_ALLOWED", errCode(body))

	// Listing, oldest first; limit keeps the newest.
	code, body = e.call("u3", "GET", room+"/messages", "")
	require.Equal(t, http.StatusOK, code, body)
	msgs := body["messages"].([]any)
	require.Len(t, msgs, 2)
	require.Equal(t, first, msgs[0].(map[string]any)["id"])
	code, body = e.call("u3", "GET", room+"/messages?limit=1", "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, poll, body["messages"].([]any)[0].(map[string]any)["id"])
	code, body = e.call("u3", "GET", room+"/messages?before="+poll, "")
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, body["messages"].([]any), 1)

	// One message: get, edit (own only), react, delete (canDeleteAny).
	code, body = e.call("u3", "GET", "/chatHub/messages/"+first, "")
	require.Equal(t, http.StatusOK, code, body)
	code, body = e.call("u4", "GET", "/chatHub/messages/"+first, "")
	require.Equal(t, http.StatusForbidden, code, body)
	code, body = e.call("u1", "PATCH", "/chatHub/messages/"+first, `{"content":{"body":"not mine"}}`)
	require.Equal(t, http.StatusForbidden, code, body)
	code, body = e.call("u2", "PATCH", "/chatHub/messages/"+first, `{"content":{"body":"edited"}}`)
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "edited", body["message"].(map[string]any)["content"].(map[string]any)["body"])
	code, body = e.call("u3", "POST", "/chatHub/messages/"+first+"/reactions", `{"emoji":"👍"}`)
	require.Equal(t, http.StatusOK, code, body)
	require.Len(t, body["message"].(map[string]any)["reaction"], 1)
	code, body = e.call("u1", "DELETE", "/chatHub/messages/"+first, "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, "deleted", body["message"].(map[string]any)["status"])
	code, body = e.call("u1", "GET", "/chatHub/messages/nope", "")
	require.Equal(t, http.StatusNotFound, code, body)

	// Room state.
	code, body = e.call("u2", "GET", room+"/presence", "")
	require.Equal(t, http.StatusOK, code, body)
	code, body = e.call("u2", "GET", room+"/receipts", "")
	require.Equal(t, http.StatusOK, code, body)
	code, body = e.call("u2", "GET", room+"/unread", "")
	require.Equal(t, http.StatusOK, code, body)

	// Moderation: only the owner; a block keeps the user out until lifted.
	code, body = e.call("u2", "POST", room+"/blocks", `{"userId":"u3"}`)
	require.Equal(t, http.StatusForbidden, code, body)
	code, body = e.call("u1", "POST", room+"/blocks", `{"userId":"u3","reason":"spam","durationSeconds":600}`)
	require.Equal(t, http.StatusOK, code, body)
	code, body = e.call("u3", "GET", room+"/messages", "")
	require.Equal(t, http.StatusForbidden, code, body)
	require.Equal(t, "BLOCKED", errCode(body))
	code, body = e.call("u1", "DELETE", room+"/blocks/u3", "")
	require.Equal(t, http.StatusOK, code, body)
	code, body = e.call("u3", "GET", room+"/messages", "")
	require.Equal(t, http.StatusOK, code, body)

	code, body = e.call("u1", "POST", room+"/silences", `{"userId":"u2"}`)
	require.Equal(t, http.StatusOK, code, body)
	code, body = e.call("u1", "DELETE", room+"/silences/u2", "")
	require.Equal(t, http.StatusOK, code, body)
	code, body = e.call("u1", "POST", room+"/kicks", `{"userId":"u2","reason":"cool down"}`)
	require.Equal(t, http.StatusOK, code, body)
	code, body = e.call("u2", "PATCH", room, `{"settings":{"slowMode":true}}`)
	require.Equal(t, http.StatusForbidden, code, body)
	code, body = e.call("u1", "PATCH", room, `{"settings":{"slowMode":true}}`)
	require.Equal(t, http.StatusOK, code, body)

	// The chat hub has no custom events and no moderated role.
	code, body = e.call("svc", "POST", room+"/events", `{"event":"x"}`)
	require.Equal(t, http.StatusNotFound, code, body)
	code, body = e.call("u1", "GET", room+"/pending", "")
	require.Equal(t, http.StatusNotFound, code, body)
}

// TestRealHubGame plays tic-tac-toe over REST: handler rejections are 422
// REJECTED, and the server's gameOver message validates as a system
// message of the document.
func TestRealHubGame(t *testing.T) {
	e := newRealEnv(t, "../../configs/hubs/game.yaml", nil, zaptest.NewLogger(t))
	const room = "/ticTacToe/rooms/game1"
	move := func(user string, cell int) (int, map[string]any) {
		return e.call(user, "POST", room+"/messages", `{"messageType":"move","content":{"cell":`+strconv.Itoa(cell)+`}}`)
	}

	code, body := move("u1", 4)
	require.Equal(t, http.StatusCreated, code, body)
	code, body = move("u1", 0)
	require.Equal(t, http.StatusUnprocessableEntity, code, body)
	require.Equal(t, "REJECTED", errCode(body))
	code, body = move("u2", 4)
	require.Equal(t, http.StatusUnprocessableEntity, code, body)
	code, body = e.call("u3", "POST", room+"/messages", `{"messageType":"text","content":{"body":"go X"}}`)
	require.Equal(t, http.StatusForbidden, code, body, "spectators cannot send")
	code, body = e.call("u2", "POST", room+"/messages", `{"messageType":"move","content":{"cell":"4"}}`)
	require.Equal(t, http.StatusBadRequest, code, body)
	require.Equal(t, "INVALID_MESSAGE", errCode(body))

	for _, m := range []struct {
		user string
		cell int
	}{{"u2", 0}, {"u1", 2}, {"u2", 1}, {"u1", 6}} {
		code, body = move(m.user, m.cell)
		require.Equal(t, http.StatusCreated, code, body)
	}
	// The spectator reads the game, ending with the server's gameOver.
	var last map[string]any
	require.Eventually(t, func() bool {
		code, body = e.call("u3", "GET", room+"/messages", "")
		require.Equal(t, http.StatusOK, code, body)
		msgs := body["messages"].([]any)
		last = msgs[len(msgs)-1].(map[string]any)
		return last["messageType"] == "system"
	}, 5*time.Second, 10*time.Millisecond)
	require.Equal(t, "gameOver", last["content"].(map[string]any)["systemAction"])
	code, body = move("u2", 8)
	require.Equal(t, http.StatusUnprocessableEntity, code, body, "the game is over")
}

// TestRealHubDeliveries reads the stored delivery receipts of a message
// through the real hub: only readers of the message's room, only messages
// of the hub, and only while the toggle is on.
func TestRealHubDeliveries(t *testing.T) {
	e := newRealEnv(t, "../../configs/hubs/chat.yaml", nil, zaptest.NewLogger(t))
	code, body := e.call("u2", "POST", "/chatHub/rooms/chat1/messages", `{"messageType":"text","content":{"body":"hi"}}`)
	require.Equal(t, http.StatusCreated, code, body)
	id := messageID(t, body)
	path := "/chatHub/messages/" + id + "/deliveries"

	code, body = e.call("u2", "GET", path, "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, []any{}, body["deliveries"])

	at := time.Date(2026, 11, 28, 1, 2, 3, 0, time.UTC)
	require.NoError(t, e.store.SetDelivered(t.Context(), "chatHub", "chat1", "u3", id, at))
	code, body = e.call("u2", "GET", path, "")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, id, body["messageId"])
	require.Equal(t, []any{map[string]any{"userId": "u3", "deliveredAt": "2026-11-28T01:02:03Z"}}, body["deliveries"])

	code, body = e.call("u4", "GET", path, "")
	require.Equal(t, http.StatusForbidden, code, body)
	code, body = e.call("u2", "GET", "/chatHub/messages/nope/deliveries", "")
	require.Equal(t, http.StatusNotFound, code, body)
	require.Equal(t, "NOT_FOUND", errCode(body))

	off := newRealEnv(t, "../../configs/hubs/chat.yaml", func(h *spec.Hub) { h.EventSettings.EnableDeliveryReceipts = false }, zaptest.NewLogger(t))
	code, body = off.call("u2", "GET", path, "")
	require.Equal(t, http.StatusNotFound, code, body)
	require.False(t, off.v.Has("GET", path), "the route is left out of the document")
}
