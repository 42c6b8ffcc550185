package hub

import (
	"encoding/json"
	"testing"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/scripting"
	"github.com/stretchr/testify/require"
)

// TestHandlerVarsMatchSeparateLists: the variables built in one allocation
// equal the lists a handler call was given before, a fresh slice for the
// message and one for the call, with and without the optional members.
func TestHandlerVarsMatchSeparateLists(t *testing.T) {
	claims := map[string]any{"sub": "u1"}
	room := &scripting.Frozen{}
	for _, msg := range []*msgstore.Message{
		{MessageType: "chat", Content: json.RawMessage(`{"text":"hi"}`)},
		{MessageType: "chat", Content: json.RawMessage(`{}`), ClientMessageID: "c1"},
		{MessageType: "chat", Content: json.RawMessage(`{}`), ClientMessageID: "c1", ReplyTo: json.RawMessage(`"m0"`)},
		{MessageType: "chat", Content: json.RawMessage(`{}`), ReplyTo: json.RawMessage(`"m0"`)},
	} {
		m := make(scripting.Fields, 0, 5)
		if msg.ClientMessageID != "" {
			m = append(m, scripting.Field{Name: "clientMessageId", Value: msg.ClientMessageID})
		}
		m = append(m, scripting.Field{Name: "content", Value: msg.Content})
		if len(msg.ReplyTo) > 0 {
			m = append(m, scripting.Field{Name: "replyTo", Value: msg.ReplyTo})
		}
		m = append(m, scripting.Field{Name: "senderId", Value: "u1"}, scripting.Field{Name: "type", Value: msg.MessageType})
		want := scripting.Fields{
			{Name: "message", Value: m}, {Name: "room", Value: room},
			{Name: "roomId", Value: "r1"}, {Name: "session", Value: claims}, {Name: "user", Value: claims},
		}
		require.Equal(t, want, newHandlerVars(msg, "u1", room, "r1", claims))
	}
}
