package rest

import (
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/rest/apitest"
	"github.com/hubd/hubd/pkg/spec"
)

// FuzzRealHub sends arbitrary bodies to the body-taking routes of the
// real chat hub (embedded store, example records), as its owner u1, so
// that what the hub itself accepts is checked, not a fake's: every
// response must match the hub's document, and a request answered 2xx must
// match its documented request schema. "$ID" in a route or body is a
// message of the room sent at the start, so edits, reactions and replies
// reach a real message.
func FuzzRealHub(f *testing.F) {
	const room = "/chatHub/rooms/chat1"
	seeds := []struct{ route, body string }{
		{"POST " + room + "/messages", `{"messageType":"text","content":{"body":"x"},"replyTo":{"id":"$ID","preview":"p"}}`},
		{"POST " + room + "/messages", `{"messageType":"text","content":{"body":"x"},"replyTo":{"Id":"$ID"}}`},
		{"POST " + room + "/messages", `{"messageType":"poll","content":{"question":"q","options":["a","b"]},"forwarded":true,"clientMessageId":"c1"}`},
		{"POST " + room + "/messages", `{"messageType":"location","content":{"lat":1,"lng":2,"Lat":3}}`},
		{"POST " + room + "/messages", `{"messageType":"text","content":{"body":"x","body":"y"},"clientMessageId":null}`},
		{"PATCH /chatHub/messages/$ID", `{"content":{"body":"edited"}}`},
		{"PATCH /chatHub/messages/$ID", `{"content":{"body":"e"},"Content":1}`},
		{"POST /chatHub/messages/$ID/reactions", `{"emoji":"👍"}`},
		{"POST " + room + "/blocks", `{"userId":"u2","durationSeconds":60}`},
		{"POST " + room + "/kicks", `{"userId":"u4","reason":"r"}`},
		{"PATCH " + room, `{"settings":{"topic":"t"}}`},
	}
	for _, s := range seeds {
		f.Add(s.route, s.body)
	}
	e := newRealEnv(f, "../../configs/hubs/chat.yaml", func(hs *spec.Hub) {
		hs.Guardrails.MessageRateLimit = math.MaxInt32
	}, zap.NewNop())
	code, body := e.call("u1", http.MethodPost, room+"/messages", `{"messageType":"text","content":{"body":"first"}}`)
	require.Equal(f, http.StatusCreated, code, body)
	id := messageID(f, body)
	f.Fuzz(func(t *testing.T, route, body string) {
		method, path, ok := strings.Cut(strings.ReplaceAll(route, "$ID", id), " ")
		body = strings.ReplaceAll(body, "$ID", id)
		if !ok || !strings.HasPrefix(path, "/chatHub/") || strings.ContainsAny(path, " \r\n\t#") {
			t.Skip()
		}
		switch method {
		case http.MethodPost, http.MethodPatch:
		default:
			t.Skip() // deletions would only empty the room the inputs share
		}
		if _, err := http.NewRequest(method, path, nil); err != nil {
			t.Skip()
		}
		r := httptest.NewRequest(method, path, strings.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+e.tokens["u1"])
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		e.handler.ServeHTTP(w, r)
		if !e.v.Has(method, r.URL.Path) {
			require.Contains(t, []int{http.StatusNotFound, http.StatusMethodNotAllowed}, w.Code, w.Body.String())
			return
		}
		require.NoError(t, e.v.Response(method, r.URL.Path, w.Code, w.Body.Bytes()), "response %s", w.Body.String())
		if err := e.v.Request(method, r.URL.Path, []byte(body)); w.Code < 300 && !errors.Is(err, apitest.ErrNoRequestBody) {
			require.NoError(t, err, "answered %d: %s", w.Code, w.Body.String())
		}
	})
}
