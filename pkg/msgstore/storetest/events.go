package storetest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
)

// testPersistedEvents stores non-ephemeral custom events the way the hub
// does (a message whose type is the event's name, content {"data": ...},
// sender the emitting user or "system") between ordinary messages, and
// reads them back in the room's order.
func testPersistedEvents(t *testing.T, s msgstore.Store) {
	ctx := context.Background()
	in := []struct {
		sender, messageType, content string
	}{
		{"alice", "text", `{"text":"hi"}`},
		{"bob", PersistedEvent, `{"data":{"level":2,"note":"wake up"}}`},
		{"system", PersistedEvent, `{"data":null}`},
		{"alice", "text", `{"text":"awake"}`},
	}
	var want []*msgstore.Message
	for _, m := range in {
		stored, created, err := s.Append(ctx, &msgstore.Message{
			HubName: "chat", RoomID: "ev", SenderID: m.sender, MessageType: m.messageType, Content: json.RawMessage(m.content),
		})
		require.NoError(t, err, "append %s", m.messageType)
		require.True(t, created)
		want = append(want, stored)
	}
	got, err := s.List(ctx, "chat", "ev", msgstore.Query{})
	require.NoError(t, err)
	require.Len(t, got, len(in))
	for i, m := range got {
		require.Equal(t, want[i].ID, m.ID, "message %d in order", i)
		require.Equal(t, int64(i+1), m.Seq)
		require.Equal(t, in[i].messageType, m.MessageType)
		require.Equal(t, in[i].sender, m.SenderID)
		require.JSONEq(t, in[i].content, string(m.Content))
	}
	one, err := s.Get(ctx, "chat", want[2].ID)
	require.NoError(t, err)
	require.Equal(t, want[2], one)
}
