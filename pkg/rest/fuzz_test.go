package rest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// FuzzHandler sends arbitrary bodies and paths to the routes that take a
// body. Whatever arrives, the handler must not panic, must answer JSON and
// the answer must match the hub's document (fixture.do checks both).
func FuzzHandler(f *testing.F) {
	seeds := []struct{ route, body string }{
		{"POST /chatHub/rooms/r1/messages", `{"messageType":"text","content":{"body":"x"}}`},
		{"POST /chatHub/rooms/r1/messages", `{"messageType":"poll","content":{"question":"q","options":[1],"maxVotes":1e400}}`},
		{"POST /chatHub/rooms/r1/messages", `{"messageType":"location","content":{"lat":"NaN"},"replyTo":{"id":"m1"}}`},
		{"POST /chatHub/rooms/r1/messages", `{"messageType":"text","content":{"body":"\ud800"}}`},
		{"POST /chatHub/rooms/r1/messages", `{"messageType":"text","content":{"body":"x"},"messageType":"poll"}`},
		{"POST /chatHub/rooms/r1/messages", `{"messageType":"text","content":{"body":"x"},"replyTo":{"ID":"m1","x":null}}`},
		{"POST /fullHub/messages/m2/reject", `{"reason":null}`},
		{"POST /chatHub/rooms/r1/messages", `[`},
		{"POST /chatHub/rooms/r1/messages", `{"messageType":"text"}{"x":1}`},
		{"PATCH /chatHub/messages/m1", `{"content":null}`},
		{"POST /chatHub/messages/m1/reactions", `{"emoji":""}`},
		{"POST /fullHub/rooms/r1/events", `{"event":"notice","data":[1,{"a":null}],"userId":"u2"}`},
		{"POST /fullHub/messages/m2/reject", `{"reason":7}`},
		{"POST /chatHub/rooms/r1/blocks", `{"userId":"u2","durationSeconds":9223372036854775807}`},
		{"PATCH /chatHub/rooms/r1", `{"settings":{"a":{"b":{"c":[]}}}}`},
		{"GET /chatHub/rooms/r1/messages?limit=99999999999999999999", ``},
		{"GET /chatHub/rooms/%2F/messages", ``},
		{"PATCH /.", `0`},
		{"PATCH //", `0`},
		{"GET /chatHub/rooms/0/messages", `0`},
	}
	for _, s := range seeds {
		f.Add(s.route, s.body)
	}
	f.Fuzz(func(t *testing.T, route, body string) {
		method, path, ok := strings.Cut(route, " ")
		if !ok || !strings.HasPrefix(path, "/") || strings.ContainsAny(path, " \r\n\t#") {
			t.Skip()
		}
		switch method {
		case http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete:
		default:
			t.Skip()
		}
		if _, err := http.NewRequest(method, path, nil); err != nil {
			t.Skip()
		}
		fx := newFixture(t, Options{MaxBodyBytes: 4096, Logger: zap.NewNop()})
		w := fx.do(method, path, "mod", body)
		require.GreaterOrEqual(t, w.Code, 200)
	})
}
