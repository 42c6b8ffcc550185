package msgstore

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAppendOutboxRecord: the hand-built outbox record decodes to what
// encoding/json made of the same record, for hostile strings too, except
// that the message's raw JSON keeps its stored bytes (encoding/json
// HTML-escaped them: the same JSON value).
func TestAppendOutboxRecord(t *testing.T) {
	at := time.Date(2026, 12, 7, 18, 40, 1, 123456789, time.UTC)
	m := &Message{
		ID: "0193a0b0-0000-7000-8000-000000000001", HubName: "h\"ub<\u2028>\\", RoomID: "r\n1", Seq: 3, SenderID: "u\x01",
		MessageType: "text", Content: json.RawMessage(`{"text":"hé \u2028 <b>"}`), Timestamp: at.Truncate(time.Millisecond), Status: StatusPublished,
	}
	msg := m.appendJSON(nil)
	want, err := json.Marshal(outboxRecord{ID: "ev\"1", Hub: m.HubName, Op: OutboxCreated, At: at, Message: msg})
	require.NoError(t, err)
	got := appendOutboxRecord(nil, "ev\"1", m.HubName, OutboxCreated, at, msg)
	require.True(t, json.Valid(got), "%s", got)
	wantEv, err := decodeOutbox(7, want)
	require.NoError(t, err)
	gotEv, err := decodeOutbox(7, got)
	require.NoError(t, err)
	require.JSONEq(t, string(wantEv.Message.Content), string(gotEv.Message.Content))
	wantEv.Message.Content = gotEv.Message.Content
	require.Equal(t, wantEv, gotEv)
	require.Equal(t, m, gotEv.Message, "the event's message is the stored one, byte for byte")
}
