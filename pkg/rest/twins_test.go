package rest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/hub"
)

// twinBodies are valid request bodies by component schema, so that a
// request reaches the pre-check.
var twinBodies = map[string]string{
	"SendMessageRequest": `{"messageType":"text","content":{"body":"x"}}`,
	"EditMessageRequest": `{"content":{"body":"y"}}`,
	"ReactionRequest":    `{"emoji":"👍"}`,
	"BlockRequest":       `{"userId":"u2"}`,
	"UserRequest":        `{"userId":"u2"}`,
	"KickRequest":        `{"userId":"u2"}`,
	"UpdateRoomRequest":  `{"settings":{"topic":"x"}}`,
}

func twinPath(rt *route) string {
	p := strings.NewReplacer("{roomId}", "r1", "{messageId}", "m1", "{userId}", "u2").Replace(rt.path)
	return "/fullHub" + p
}

// Every REST route with a socket twin names a protocol entry and runs its
// pre-check before the Hub method: a refusal of the pre-check is the
// route's answer and the method is never called.
func TestTwinRoutesRunTheSocketPreCheck(t *testing.T) {
	twins := 0
	for _, rt := range routes {
		if rt.event == "" {
			continue
		}
		twins++
		t.Run(rt.opID, func(t *testing.T) {
			require.NotNil(t, rt.inbound)
			require.Equal(t, rt.event, rt.inbound.Name)
			require.True(t, rt.inbound.Room, "a twin acts in a room")
			fx := newFixture(t, Options{})
			fh := fx.hubs["fullHub"]
			fh.errs["Admit"] = &hub.Error{Code: hub.CodeRateLimited, Message: "message rate limit exceeded", RetryAfterMs: 1000}
			w := fx.do(rt.method, twinPath(rt), "mod", twinBodies[rt.request])
			require.Equal(t, http.StatusTooManyRequests, w.Code, w.Body.String())
			require.Equal(t, hub.CodeRateLimited, decodeErr(t, w).Error.Code)
			admit := "Admit " + rt.event + " mod"
			require.Contains(t, fh.calls, admit)
			last := fh.calls[len(fh.calls)-1]
			require.Equal(t, admit, last, "nothing runs after a refused pre-check")

			delete(fh.errs, "Admit")
			fh.calls = nil
			w = fx.do(rt.method, twinPath(rt), "mod", twinBodies[rt.request])
			require.Less(t, w.Code, 300, w.Body.String())
			require.Contains(t, fh.calls, admit)
			require.NotEqual(t, admit, fh.calls[len(fh.calls)-1], "the method runs after the pre-check")
		})
	}
	require.Equal(t, 13, twins, "every REST route with a socket event twin")
}

// A twin route whose socket event is toggled off is refused as the event
// is: UNKNOWN_EVENT naming the toggle (404), before authentication.
func TestTwinRouteToggleOffAnswersAsTheSocket(t *testing.T) {
	fx := newFixture(t, Options{})
	w := fx.do(http.MethodPost, "/minimalHub/messages/m1/reactions", "", `{"emoji":"👍"}`)
	require.Equal(t, http.StatusNotFound, w.Code)
	e := decodeErr(t, w)
	require.Equal(t, hub.CodeUnknownEvent, e.Error.Code)
	want := hub.InboundEvent("hub:react").Allowed(fx.hubs["minimalHub"].spec).Error()
	require.Contains(t, want, e.Error.Message)
}
