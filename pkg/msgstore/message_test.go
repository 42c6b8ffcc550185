package msgstore_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
)

func TestMessageJSON(t *testing.T) {
	yes := true
	edited := time.Date(2026, 11, 28, 1, 2, 3, 4_000_000, time.FixedZone("EET", 2*3600))
	tests := []struct {
		name string
		msg  msgstore.Message
		want string
	}{
		{
			name: "minimal",
			msg: msgstore.Message{
				ID: "m1", HubName: "chat", RoomID: "r1", Seq: 7, SenderID: "u1", MessageType: "text",
				Content: json.RawMessage(`{"text":"hi"}`), Status: msgstore.StatusPublished,
				Timestamp: time.Date(2026, 11, 27, 23, 59, 1, 123_456_789, time.UTC),
			},
			want: `{"id":"m1","roomId":"r1","seq":7,"senderId":"u1","messageType":"text","content":{"text":"hi"},` +
				`"timestamp":"2026-11-27T23:59:01.123Z","status":"published"}`,
		},
		{
			name: "every field, times converted to UTC",
			msg: msgstore.Message{
				ID: "m2", RoomID: "r1", Seq: 1, SenderID: "u1", MessageType: "text",
				Content:   json.RawMessage(`{"text":"hi"}`),
				Timestamp: time.Date(2026, 11, 28, 1, 0, 0, 0, time.FixedZone("EET", 2*3600)),
				Status:    msgstore.StatusDeleted, ReplyTo: json.RawMessage(`{"id":"m1"}`),
				Reaction:  json.RawMessage(`[{"emoji":"x","userId":"u2","timestamp":"2026-11-27T23:00:00.000Z"}]`),
				Forwarded: &yes, ClientMessageID: "c1", EditedAt: &edited,
			},
			want: `{"id":"m2","roomId":"r1","seq":1,"senderId":"u1","messageType":"text","content":{"text":"hi"},` +
				`"timestamp":"2026-11-27T23:00:00.000Z","status":"deleted","replyTo":{"id":"m1"},` +
				`"reaction":[{"emoji":"x","userId":"u2","timestamp":"2026-11-27T23:00:00.000Z"}],` +
				`"forwarded":true,"clientMessageId":"c1","editedAt":"2026-11-27T23:02:03.004Z"}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := json.Marshal(tc.msg)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(got))
			ptr, err := json.Marshal(&tc.msg)
			require.NoError(t, err)
			require.Equal(t, tc.want, string(ptr), "pointer and value encode alike")
			require.Equal(t, "prefix"+tc.want, string(tc.msg.AppendJSON([]byte("prefix"))), "AppendJSON appends the same form")

			var back msgstore.Message
			require.NoError(t, json.Unmarshal(got, &back))
			want := tc.msg.Clone()
			want.HubName = ""
			want.Timestamp = want.Timestamp.UTC().Truncate(time.Millisecond)
			if want.EditedAt != nil {
				at := want.EditedAt.UTC().Truncate(time.Millisecond)
				want.EditedAt = &at
			}
			require.Equal(t, want, &back)
		})
	}
}

func TestAppendJSONString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{name: "plain", in: "room-1", want: `"room-1"`},
		{name: "empty", in: "", want: `""`},
		{name: "quote and backslash", in: `a"b\c`, want: `"a\"b\\c"`},
		{name: "control characters", in: "a\nb\tc\x01", want: `"a\nb\tc\u0001"`},
		{name: "html is kept", in: "<b>&</b>", want: `"<b>&</b>"`},
		{name: "line separators", in: "a\u2028b\u2029", want: `"a\u2028b\u2029"`},
		{name: "invalid utf-8", in: "a\xffb", want: `"a\ufffdb"`},
		{name: "multi-byte", in: "héllo ✓", want: `"héllo ✓"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := msgstore.AppendJSONString([]byte("x"), tc.in)
			require.Equal(t, "x"+tc.want, string(got))
			var back string
			require.NoError(t, json.Unmarshal(got[1:], &back))
			require.Equal(t, strings.ToValidUTF8(tc.in, "\ufffd"), back)
		})
	}
}

func TestMessageUnmarshal(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    time.Time
		wantErr bool
	}{
		{"milliseconds", `{"timestamp":"2026-11-27T23:59:01.123Z"}`, time.Date(2026, 11, 27, 23, 59, 1, 123_000_000, time.UTC), false},
		{"offset kept as instant in UTC", `{"timestamp":"2026-11-28T01:59:01+02:00"}`, time.Date(2026, 11, 27, 23, 59, 1, 0, time.UTC), false},
		{"nanoseconds", `{"timestamp":"2026-11-27T23:59:01.000000001Z"}`, time.Date(2026, 11, 27, 23, 59, 1, 1, time.UTC), false},
		{"missing", `{"id":"x"}`, time.Time{}, false},
		{"not a time", `{"timestamp":"yesterday"}`, time.Time{}, true},
		{"bad editedAt", `{"timestamp":"2026-11-27T23:59:01Z","editedAt":"soon"}`, time.Time{}, true},
		{"not an object", `[1]`, time.Time{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m msgstore.Message
			err := json.Unmarshal([]byte(tc.in), &m)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, m.Timestamp)
		})
	}
}

func TestNormalize(t *testing.T) {
	base := func() *msgstore.Message {
		return &msgstore.Message{HubName: "chat", RoomID: "r1", Content: json.RawMessage(`{"a": 1}`)}
	}
	tests := []struct {
		name  string
		edit  func(m *msgstore.Message)
		check func(t *testing.T, m *msgstore.Message)
		field string
	}{
		{"defaults", func(*msgstore.Message) {}, func(t *testing.T, m *msgstore.Message) {
			require.Equal(t, msgstore.StatusPublished, m.Status)
			require.Equal(t, `{"a":1}`, string(m.Content))
		}, ""},
		{"empty content is null", func(m *msgstore.Message) { m.Content = nil }, func(t *testing.T, m *msgstore.Message) {
			require.Equal(t, "null", string(m.Content))
		}, ""},
		{"null replyTo dropped", func(m *msgstore.Message) { m.ReplyTo = json.RawMessage(" null ") }, func(t *testing.T, m *msgstore.Message) {
			require.Nil(t, m.ReplyTo)
		}, ""},
		{"times to UTC milliseconds", func(m *msgstore.Message) {
			m.Timestamp = time.Date(2026, 1, 2, 3, 4, 5, 678_900_000, time.FixedZone("X", 3600))
		}, func(t *testing.T, m *msgstore.Message) {
			require.Equal(t, time.Date(2026, 1, 2, 2, 4, 5, 678_000_000, time.UTC), m.Timestamp)
		}, ""},
		{"missing hub", func(m *msgstore.Message) { m.HubName = "" }, nil, "hubName"},
		{"bad status", func(m *msgstore.Message) { m.Status = "PUBLISHED" }, nil, "status"},
		{"bad replyTo", func(m *msgstore.Message) { m.ReplyTo = json.RawMessage(`{`) }, nil, "replyTo"},
		{"long sender", func(m *msgstore.Message) { m.SenderID = string(make([]byte, 1025)) }, nil, "senderId"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.edit(m)
			err := msgstore.Normalize(m)
			if tc.field != "" {
				var inv *msgstore.InvalidError
				require.ErrorAs(t, err, &inv)
				require.Equal(t, tc.field, inv.Field)
				require.ErrorIs(t, err, msgstore.ErrInvalid)
				return
			}
			require.NoError(t, err)
			tc.check(t, m)
		})
	}
}

func TestCloneIsDeep(t *testing.T) {
	yes := true
	at := time.Now()
	m := &msgstore.Message{Content: json.RawMessage(`{"a":1}`), Reaction: json.RawMessage(`[]`), Forwarded: &yes, EditedAt: &at}
	c := m.Clone()
	require.Equal(t, m, c)
	c.Content[2] = 'b'
	*c.Forwarded = false
	*c.EditedAt = at.Add(time.Hour)
	require.Equal(t, `{"a":1}`, string(m.Content))
	require.True(t, *m.Forwarded)
	require.Equal(t, at, *m.EditedAt)
	require.Nil(t, (*msgstore.Message)(nil).Clone())
}

func FuzzMessageStringFields(f *testing.F) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tnewline\nnul\x00", "<html>&", "bad \xff utf8", "line\u2028sep\u2029", "emoji 👍", "\x7f\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m := msgstore.Message{ID: s, RoomID: s, SenderID: s, MessageType: s, Status: s, ClientMessageID: s}
		raw, err := m.MarshalJSON()
		require.NoError(t, err)
		require.True(t, json.Valid(raw), "%q encodes to invalid JSON %s", s, raw)
		var back msgstore.Message
		require.NoError(t, json.Unmarshal(raw, &back))
		std, err := json.Marshal(s)
		require.NoError(t, err)
		var want string
		require.NoError(t, json.Unmarshal(std, &want))
		for _, got := range []string{back.ID, back.RoomID, back.SenderID, back.MessageType, back.Status, back.ClientMessageID} {
			require.Equal(t, want, got, "decodes as encoding/json's own encoding does")
		}
	})
}

// TestAppendTime: the hand-written encoder of message times gives what
// AppendFormat gives with TimeFormat, for every zone, at the edges of each
// field and of the years it writes itself, and for random instants.
func TestAppendTime(t *testing.T) {
	plus14 := time.FixedZone("", 14*3600)
	times := []time.Time{
		{},
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999_999_999, time.FixedZone("", -3600)), // year 10000 in UTC
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 7, 13, 5, 9, 1_999_999, plus14),
		time.Date(2026, 2, 28, 23, 59, 59, 999_000_000, time.UTC),
		time.Date(2024, 2, 29, 9, 9, 9, 90_000_000, time.Local),
		time.Unix(1_800_000_000, 123_456_789),
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		times = append(times, time.Unix(rng.Int64N(400_000_000_000)-60_000_000_000, rng.Int64N(1e9)).In(plus14))
	}
	for _, tm := range times {
		want := tm.UTC().AppendFormat([]byte("x"), msgstore.TimeFormat)
		require.Equal(t, string(want), string(msgstore.AppendTime([]byte("x"), tm)), "%v", tm)
		require.Equal(t, string(want[1:]), msgstore.FormatTime(tm))
	}
}

// BenchmarkAppendTime: a message time written by AppendTime and by
// time.AppendFormat with TimeFormat.
//
//	go test ./pkg/msgstore -run '^$' -bench AppendTime -cpu 1
func BenchmarkAppendTime(b *testing.B) {
	tm := time.Unix(1_800_000_000, 123_456_789)
	buf := make([]byte, 0, 64)
	b.Run("AppendTime", func(b *testing.B) {
		for b.Loop() {
			buf = msgstore.AppendTime(buf[:0], tm)
		}
	})
	b.Run("AppendFormat", func(b *testing.B) {
		for b.Loop() {
			buf = tm.UTC().AppendFormat(buf[:0], msgstore.TimeFormat)
		}
	})
}
