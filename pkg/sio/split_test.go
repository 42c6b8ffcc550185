package sio

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSplitArrayMatchesEncodingJSON checks splitArray against a decode
// into []json.RawMessage: the same elements, the same refusals; and that
// the elements are copies, each capped at its own length.
func TestSplitArrayMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`["hub:send",{"roomId":"r","content":{"body":"]\"["}}]`, ` [ 1 , "a" , null , [ ] , { } ] `, `[]`, `null`, ` null `,
		`{"a":1}`, `"s"`, `1`, `[1,]`, `[`, ``, `["\u005d",[["x"]],{"k":"\\"}]`,
	} {
		var want []json.RawMessage
		wantErr := json.Unmarshal([]byte(in), &want)
		d := []byte(in)
		got, err := splitArray(d)
		if wantErr != nil {
			require.Error(t, err, "input %q", in)
			continue
		}
		require.NoError(t, err, "input %q", in)
		require.Len(t, got, len(want), "input %q", in)
		for i := range d {
			d[i] = 'X'
		}
		for i := range want {
			require.Equal(t, string(want[i]), string(got[i]), "input %q element %d", in, i)
			require.Equal(t, len(got[i]), cap(got[i]), "input %q element %d", in, i)
		}
	}
}

// BenchmarkSplitArray splits a hub:send event's array: splitValidArray (the
// client path, after validate) against the decode into []json.RawMessage
// it replaced.
func BenchmarkSplitArray(b *testing.B) {
	d := []byte(`["hub:send",{"roomId":"room-42","messageType":"text","content":{"body":"hello there, how are you doing today?"},"clientMessageId":"c-123456"}]`)
	b.Run("scan", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := splitValidArray(d); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var out []json.RawMessage
			if err := json.Unmarshal(d, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
