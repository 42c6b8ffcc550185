package authz

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// authPayloads are auth payloads a handshake may carry, hostile ones
// included; every test below checks them against encoding/json.
var authPayloads = []string{
	``, ` `, `null`, `{}`, `[]`, `"token"`, `42`, `true`, `{`, `{"token":}`, `{"token":"a"`,
	`{"token":"abc"}`, ` { "token" : "abc" } `, "{\n\t\"token\":\r\n\"abc\"\n}",
	`{"token":"Bearer abc"}`, `{"token":"bearer   abc  "}`, `{"token":"  abc "}`,
	`{"Token":"abc"}`, `{"TOKEN":"abc"}`, `{"toKen":"abc"}`, `{"tokens":"abc"}`, `{"toke":"abc"}`,
	`{"token":"a","token":"b"}`, `{"token":"a","TOKEN":"b"}`, `{"token":"a","token":null}`,
	`{"token":"a","token":5}`, `{"token":null}`, `{"token":5}`, `{"token":true}`, `{"token":{"a":"b"}}`,
	`{"token":["x"]}`, `{"token":""}`, `{"token":"a\"b"}`, `{"token":"a\\b"}`, `{"token":"\u0041bc"}`,
	`{"token":"\ud800"}`, "{\"token\":\"caf\xc3\xa9\"}", "{\"token\":\"bad\xff\"}",
	`{"to\u006ben":"abc"}`, "{\"to\u212aen\":\"abc\"}", "{\"\xff\":1,\"token\":\"abc\"}",
	`{"a":{"token":"inner"},"b":[{"token":"x"}],"c":"}","token":"outer"}`,
	`{"a":"\"token\":\"fake\"","token":"real"}`, `{"a":[1,2,{"b":[]}],"token":"t","z":-1.5e3}`,
	`{"pid":"p1","offset":"o1","token":"t"}`, `{"pid":5}`, `{"pid":null}`, `{"PID":"p"}`,
	`{"token":"abc"} x`, `{"token":"abc"}{}`, `{"token":"a	b"}`,
}

// referenceMember is the member json.Unmarshal gives a struct with one
// json.RawMessage field tagged "token" or "pid": its value, or nil when
// there is none or decoding fails.
func referenceMember(auth, name string) json.RawMessage {
	var tok struct {
		V json.RawMessage `json:"token"`
	}
	var pid struct {
		V json.RawMessage `json:"pid"`
	}
	dst, v := any(&tok), &tok.V
	if name == "pid" {
		dst, v = &pid, &pid.V
	}
	if json.Unmarshal([]byte(auth), dst) != nil {
		return nil
	}
	return *v
}

// TestAuthMemberMatchesEncodingJSON: where AuthMember is sure, it gives
// the member encoding/json decodes; it is unsure only of names with
// escapes or non-ASCII bytes.
func TestAuthMemberMatchesEncodingJSON(t *testing.T) {
	for _, auth := range authPayloads {
		for _, name := range []string{"token", "pid"} {
			raw, sure := AuthMember(json.RawMessage(auth), name)
			if !sure {
				continue
			}
			require.Equal(t, string(referenceMember(auth, name)), string(raw), "%s in %q", name, auth)
		}
	}
	for _, auth := range []string{`{"to\u006ben":"abc"}`, "{\"to\u212aen\":\"abc\"}", "{\"\xff\":1}"} {
		_, sure := AuthMember(json.RawMessage(auth), "token")
		require.False(t, sure, auth)
	}
	raw, sure := AuthMember(json.RawMessage(`{"a":{"token":"inner"},"TOKEN":"outer"}`), "token")
	require.True(t, sure)
	require.Equal(t, `"outer"`, string(raw))
}

// TestTokenFromAuthMatchesEncodingJSON: the scan gives the token the
// encoding/json decoding gave, for every payload.
func TestTokenFromAuthMatchesEncodingJSON(t *testing.T) {
	for _, auth := range authPayloads {
		require.Equal(t, tokenFromAuthDecoded(json.RawMessage(auth)), TokenFromAuth(json.RawMessage(auth)), "%q", auth)
	}
	require.Equal(t, "abc", TokenFromAuth(json.RawMessage(`{"x":[{"token":"no"}],"Token":"Bearer abc"}`)))
}

// FuzzTokenFromAuth checks the scan against encoding/json on any input.
func FuzzTokenFromAuth(f *testing.F) {
	for _, auth := range authPayloads {
		f.Add(auth)
	}
	f.Fuzz(func(t *testing.T, auth string) {
		require.Equal(t, tokenFromAuthDecoded(json.RawMessage(auth)), TokenFromAuth(json.RawMessage(auth)), "%q", auth)
		if raw, sure := AuthMember(json.RawMessage(auth), "pid"); sure {
			require.Equal(t, string(referenceMember(auth, "pid")), string(raw), "%q", auth)
		}
	})
}

// BenchmarkTokenFromAuth: the payload socket.io-client sends.
func BenchmarkTokenFromAuth(b *testing.B) {
	auth := json.RawMessage(`{"token":"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3NjUxMjM0NTYsInJvbGVJZCI6InVzZXIiLCJ1c2VySWQiOiJ1MSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmU"}`)
	b.ReportAllocs()
	for b.Loop() {
		if TokenFromAuth(auth) == "" {
			b.Fatal("no token")
		}
	}
}
