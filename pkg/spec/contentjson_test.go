package spec

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// contentJSONCases are inputs decodeContentJSON must decode exactly as
// decodeJSON (encoding/json with UseNumber) does, or refuse as it does.
var contentJSONCases = []string{
	`{}`, `[]`, `""`, `0`, `-1.5e+10`, `true`, `false`, `null`, ` {"a" : 1 } `,
	`{"a":1,"a":2}`, `{"a":{"b":[1,"x",null,true,{"c":[]}]}}`,
	`{"s":"\u00e9\n\"\\\/ \ud83d\ude00 \ud800 x"}`, "{\"s\":\"\xff\xfe bad utf8\"}",
	"{\"k\xff\":1}", `{"<>&":"<>&\u2028"}`, `[1,2,3,]`, `{"a":1,}`, `{"a" 1}`,
	`{"a":1} x`, `1 2`, `{"a":01}`, `"\x"`, `[`, `{"a":tru}`, ``, `  `,
}

func FuzzDecodeContentJSON(f *testing.F) {
	for _, in := range contentJSONCases {
		f.Add([]byte(in))
	}
	f.Fuzz(checkContentJSON)
}

// checkContentJSON checks decodeContentJSON against decodeJSON on in: both
// refuse it or both decode it to the same value. Blank input, which
// decodeJSON reads as no value at all, is refused.
func checkContentJSON(t *testing.T, in []byte) {
	got, err := decodeContentJSON(in)
	if len(bytes.TrimSpace(in)) == 0 {
		require.Error(t, err, "blank input %q", in)
		return
	}
	want, wantErr := decodeJSON(in)
	if wantErr != nil {
		require.Error(t, err, "input %q: encoding/json refuses it (%v)", in, wantErr)
		return
	}
	require.NoError(t, err, "input %q", in)
	require.Equal(t, want, got, "input %q", in)
}
