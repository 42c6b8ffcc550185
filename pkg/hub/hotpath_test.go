package hub

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
)

func hotPathMessage() *msgstore.Message {
	yes := true
	return &msgstore.Message{
		ID: "0193-a", HubName: "chat", RoomID: `room "1"`, Seq: 42, SenderID: "u<1>",
		MessageType: "text", Content: json.RawMessage(`{"body":"a\u2028<b>&\n"}`),
		Timestamp: time.Date(2026, 11, 28, 1, 2, 3, 4_000_000, time.UTC),
		Status:    msgstore.StatusPublished, ReplyTo: json.RawMessage(`{"id":"m0"}`),
		Forwarded: &yes, ClientMessageID: "c-1",
	}
}

// decodeJSON decodes b into a generic value, failing on invalid JSON.
func decodeJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	require.NoError(t, json.Unmarshal(b, &v), "%s", b)
	return v
}

func TestAppendArrived(t *testing.T) {
	tests := []struct {
		name string
		msg  *msgstore.Message
	}{
		{name: "every field, characters to escape", msg: hotPathMessage()},
		{name: "minimal", msg: &msgstore.Message{ID: "m", RoomID: "r", SenderID: "u", MessageType: "text", Content: json.RawMessage(`{}`), Status: "published"}},
		{name: "empty content is null", msg: &msgstore.Message{ID: "m", RoomID: "r", SenderID: "", MessageType: "text"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(map[string]any{
				"roomId": tc.msg.RoomID, "message": tc.msg, "sender": map[string]string{"id": tc.msg.SenderID},
			})
			require.NoError(t, err)
			got := appendArrived([]byte("prefix"), tc.msg)
			require.Equal(t, "prefix", string(got[:6]))
			require.Equal(t, decodeJSON(t, want), decodeJSON(t, got[6:]))
			require.LessOrEqual(t, len(got)-6, arrivedSize(tc.msg), "the size estimate covers the payload")
		})
	}
}

func TestAppendAck(t *testing.T) {
	msg := hotPathMessage()
	var nilMsg *msgstore.Message
	tests := []struct {
		name    string
		res     map[string]any
		wantErr bool
	}{
		{name: "nil result", res: nil},
		{name: "message", res: map[string]any{"message": msg}},
		{name: "message and status", res: map[string]any{"message": msg, "status": msgstore.StatusPending}},
		{name: "nil message", res: map[string]any{"message": nilMsg}},
		{name: "ok given by the handler is overridden", res: map[string]any{"ok": false, "roomId": "r1"}},
		{name: "other values", res: map[string]any{
			"roomId": "r<1>", "silenced": true, "count": 3, "nothing": nil,
			"messages":    []*msgstore.Message{msg, msg},
			"permissions": map[string]bool{"canRead": true, "canSend": false},
		}},
		{name: "more keys than the sort array", res: map[string]any{
			"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8, "i": 9, "j": "ten",
		}},
		{name: "unencodable value", res: map[string]any{"ch": make(chan int)}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := appendAck(nil, tc.res)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			want := map[string]any{}
			for k, v := range tc.res {
				want[k] = v
			}
			want["ok"] = true
			wantJSON, err := json.Marshal(want)
			require.NoError(t, err)
			require.Equal(t, decodeJSON(t, wantJSON), decodeJSON(t, got))
			require.Equal(t, `{"ok":true`, string(got[:10]))
		})
	}
}

func TestAppendAckKeyOrder(t *testing.T) {
	got, err := appendAck(nil, map[string]any{"status": "pending", "message": (*msgstore.Message)(nil), "b": true})
	require.NoError(t, err)
	require.Equal(t, `{"ok":true,"b":true,"message":null,"status":"pending"}`, string(got))
}

func TestOpContexts(t *testing.T) {
	t.Run("events in one window share a context with a deadline of at least the timeout", func(t *testing.T) {
		var o opContexts
		base := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
		a := o.get(base.Add(time.Millisecond), time.Second)
		b := o.get(base.Add(opContextWindow-time.Nanosecond), time.Second)
		require.Same(t, a, b)
		dl, ok := a.Deadline()
		require.True(t, ok)
		require.Equal(t, base.Add(opContextWindow).Add(time.Second), dl)
		require.False(t, dl.Before(base.Add(opContextWindow-time.Nanosecond).Add(time.Second)), "the last event of the window still gets the full timeout")
	})
	t.Run("a later event opens a new window", func(t *testing.T) {
		var o opContexts
		base := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
		a := o.get(base, time.Second)
		b := o.get(base.Add(opContextWindow), time.Second)
		require.NotSame(t, a, b)
		da, _ := a.Deadline()
		db, _ := b.Deadline()
		require.Equal(t, opContextWindow, db.Sub(da))
	})
	t.Run("the context expires at its deadline", func(t *testing.T) {
		var o opContexts
		ctx := o.get(time.Now(), time.Millisecond)
		require.Eventually(t, func() bool {
			select {
			case <-ctx.Done():
				return true
			default:
				return false
			}
		}, 5*time.Second, time.Millisecond)
		require.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
		fresh := o.get(time.Now(), time.Minute)
		require.NoError(t, fresh.Err(), "a new window is not expired")
	})
	t.Run("derived contexts are cancelled with it", func(t *testing.T) {
		var o opContexts
		child, cancel := context.WithCancel(o.get(time.Now(), time.Millisecond))
		defer cancel()
		require.Eventually(t, func() bool { return child.Err() != nil }, 5*time.Second, time.Millisecond)
	})
}

func BenchmarkAppendArrived(b *testing.B) {
	m := hotPathMessage()
	buf := make([]byte, 0, arrivedSize(m))
	b.ReportAllocs()
	for b.Loop() {
		buf = appendArrived(buf[:0], m)
	}
}

func BenchmarkArrivedMapMarshal(b *testing.B) {
	m := hotPathMessage()
	b.ReportAllocs()
	for b.Loop() {
		_, _ = json.Marshal(map[string]any{"roomId": m.RoomID, "message": m, "sender": map[string]string{"id": m.SenderID}})
	}
}

func BenchmarkOpContext(b *testing.B) {
	var o opContexts
	b.ReportAllocs()
	for b.Loop() {
		_ = o.get(time.Now(), time.Second)
	}
}

func BenchmarkContextWithTimeout(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_, cancel := context.WithTimeout(context.Background(), time.Second)
		cancel()
	}
}

// BenchmarkOutboundEvent is the cost of building one outbound payload,
// once per broadcast: the map each emit site built before, and the typed
// declaration that replaced it.
func BenchmarkOutboundEvent(b *testing.B) {
	m := hotPathMessage()
	b.Run("messageEdited/map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(map[string]any{"roomId": m.RoomID, "message": m})
		}
	})
	b.Run("messageEdited/typed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = outMessageEdited.Of(MessageEdited{Message: m, RoomID: m.RoomID})
		}
	})
	b.Run("typing/map", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = json.Marshal(map[string]any{"roomId": m.RoomID, "userId": m.SenderID})
		}
	})
	b.Run("typing/typed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = outTyping.Of(RoomUser{RoomID: m.RoomID, UserID: m.SenderID})
		}
	})
	b.Run("messageArrived/broadcast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = arrivedEvent(m)
		}
	})
}

// The ack of a hub:send is written from its message without the result
// map it was built from before: the same bytes as appendAck of that map,
// published or pending, whatever the message holds.
func TestAppendSendAckIsTheMapsAck(t *testing.T) {
	pending := hotPathMessage()
	pending.Status = msgstore.StatusPending
	pending.Audience = &msgstore.Audience{Users: []string{"u1", "u\"2"}}
	tests := []struct {
		name string
		msg  *msgstore.Message
	}{
		{name: "published, every field", msg: hotPathMessage()},
		{name: "pending, with an audience", msg: pending},
		{name: "minimal", msg: &msgstore.Message{ID: "m", RoomID: "r", SenderID: "u", MessageType: "text", Status: msgstore.StatusPublished}},
		{name: "another status", msg: &msgstore.Message{ID: "m", RoomID: "r", SenderID: "u", MessageType: "text", Status: "rejected"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := map[string]any{"message": tc.msg}
			if tc.msg.Status == msgstore.StatusPending {
				res["status"] = msgstore.StatusPending
			}
			want, err := appendAck(nil, res)
			require.NoError(t, err)
			require.Equal(t, string(want), string(appendSendAck([]byte{}, tc.msg)))
		})
	}
}

// offsetOf writes a message's recovery offset in one allocation: the
// string the concatenation of its parts gave, for any sequence number,
// time and room id.
func TestOffsetOfIsItsParts(t *testing.T) {
	for _, m := range []*msgstore.Message{
		{Seq: 1, Timestamp: time.UnixMilli(0), RoomID: "r"},
		{Seq: 42, Timestamp: time.Date(2026, 12, 7, 21, 0, 0, 123_000_000, time.UTC), RoomID: "room-with-a-long-name/ü"},
		{Seq: 1<<63 - 1, Timestamp: time.UnixMilli(-1 << 62), RoomID: ""},
		{Seq: 9, Timestamp: time.UnixMilli(1 << 62), RoomID: `q"\`},
	} {
		want := strconv.FormatInt(m.Seq, 10) + "." + strconv.FormatInt(m.Timestamp.UnixMilli(), 10) + "." + m.RoomID
		require.Equal(t, want, offsetOf(m))
	}
	require.Empty(t, offsetOf(&msgstore.Message{Seq: 0, RoomID: "r"}))
	m := hotPathMessage()
	require.LessOrEqual(t, testing.AllocsPerRun(20, func() { _ = offsetOf(m) }), 1.0)
}
