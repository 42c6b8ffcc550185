package authz

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

var claimsCases = []struct {
	claims  string
	scanned bool // decoded by scanClaims, not encoding/json
}{
	{`{"userId":"u1","roleId":"user","exp":4102444800}`, true},
	{` { "sub" : "s" , "n" : -0 , "f" : 1.5e-3 , "b" : true , "c" : false , "z" : null } `, true},
	{"{\n\t\"a\":\"\",\r\"b\":0}", true},
	{`{}`, true},
	{`{"a":1,"a":"again"}`, true},
	{`{"big":12345678901234567890,"e":1E+2,"neg":-12.25}`, true},
	{`{"userId":"\u00fc"}`, false},
	{`{"userId":"ü"}`, false},
	{`{"a\"b":1}`, false},
	{`{"custom":{"a":[1,2.5,null,true]}}`, false},
	{`{"aud":["hubd"]}`, false},
	{`{"a":01}`, false},
	{`{"a":+1}`, false},
	{`{"a":.5}`, false},
	{`{"a":1.}`, false},
	{`{"a":1e}`, false},
	{`{"a":1e400}`, false},
	{`{"a":0x10}`, false},
	{`{"a":tru}`, false},
	{`{"a":nul}`, false},
	{`{"a":1,}`, false},
	{`{"a":1}x`, false},
	{`{"a":1`, false},
	{`{"a" 1}`, false},
	{`{a:1}`, false},
	{`[1]`, false},
	{`"s"`, false},
	{``, false},
}

// decodeClaims gives what json.Unmarshal into an interface value gives,
// and scans (without encoding/json) the flat claims it is meant for.
func TestDecodeClaimsMatchesEncodingJSON(t *testing.T) {
	for _, tc := range claimsCases {
		t.Run(tc.claims, func(t *testing.T) {
			requireSameClaims(t, []byte(tc.claims))
			_, scanned := scanClaims([]byte(tc.claims))
			require.Equal(t, tc.scanned, scanned, "scanned")
		})
	}
}

func FuzzDecodeClaims(f *testing.F) {
	for _, tc := range claimsCases {
		f.Add(tc.claims)
	}
	f.Fuzz(func(t *testing.T, claims string) { requireSameClaims(t, []byte(claims)) })
}

func requireSameClaims(t *testing.T, raw []byte) {
	t.Helper()
	var decoded any
	err := json.Unmarshal(raw, &decoded)
	want, isObject := decoded.(map[string]any)
	got, ok := decodeClaims(raw)
	require.Equal(t, err == nil && isObject, ok, "decoded")
	if ok {
		require.Equal(t, want, got)
	}
}
