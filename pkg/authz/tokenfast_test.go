package authz

import (
	"crypto/elliptic"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

// rawToken signs a header and a claims set given as raw JSON.
func rawToken(t testing.TB, m jwt.SigningMethod, key any, header, claims string) string {
	t.Helper()
	signing := b64([]byte(header)) + "." + b64([]byte(claims))
	sig, err := m.Sign(signing, key)
	require.NoError(t, err)
	return signing + "." + b64(sig)
}

// requireSameVerdict checks that Verify (fast path first) answers tok
// exactly as the JWT library alone does (verifySlow): the same session, or
// the same error. It reports whether the fast path took the token.
func requireSameVerdict(t testing.TB, v *Verifier, tok, name string) bool {
	t.Helper()
	want, wantErr := v.verifySlow(tok)
	got, gotErr := v.Verify(tok)
	if wantErr != nil {
		require.Error(t, gotErr, name)
		require.Equal(t, wantErr.Error(), gotErr.Error(), name)
		require.Nil(t, got, name)
	} else {
		require.NoError(t, gotErr, name)
		require.Equal(t, want, got, name)
	}
	claims, fast := v.verifyFast(tok)
	if fast {
		// The library accepted it too: any refusal is the session's own
		// (no user id), the same for both.
		sess, err := sessionFromClaims(claims)
		if wantErr != nil {
			require.ErrorIs(t, wantErr, ErrNoUserID, "%s: the fast path accepted a token the library refuses", name)
			require.Equal(t, wantErr.Error(), err.Error(), name)
		} else {
			require.NoError(t, err, name)
			require.Equal(t, want, sess, name)
		}
	}
	return fast
}

// The fast path accepts only tokens the library accepts, with the same
// claims, and every other token gets the library's own error: a table of
// headers, claims sets, keys and algorithms, each combination checked.
func TestVerifyFastMatchesLibrary(t *testing.T) {
	rk, ek := rsaKey(t), ecKey(t, elliptic.P256())
	rsaPath, rsaPEM := writePEM(t, &rk.PublicKey)
	ecPath, _ := writePEM(t, &ek.PublicKey)
	jwks := writeJWKS(t, rsaJWK("ra", &rk.PublicKey),
		map[string]any{"kty": "oct", "kid": "h", "k": b64([]byte("jwks-secret"))})
	verifiers := map[string]VerifierConfig{
		"secrets":       {HS256Secrets: []string{testSecret, "older-secret"}},
		"mixed":         {HS256Secrets: []string{testSecret}, PublicKeyFiles: []string{rsaPath, ecPath}},
		"jwks":          {JWKSFile: jwks, HS256Secrets: []string{testSecret}},
		"iss-aud":       {HS256Secrets: []string{testSecret}, Issuer: "https://idp", Audience: "hubd"},
		"hs512-allowed": {HS256Secrets: []string{testSecret}, Algorithms: []string{"HS256", "HS512"}},
		"short-leeway":  {HS256Secrets: []string{testSecret}, Leeway: time.Second},
	}
	now := time.Now().Unix()
	headers := []struct {
		name, json string
		plain      bool // a header the fast path reads
	}{
		{"HS256", `{"alg":"HS256","typ":"JWT"}`, true},
		{"HS256 reordered, spaced", " {\n\t\"typ\" : \"JWT\" ,\r\n \"alg\":\"HS256\" } ", true},
		{"no typ", `{"alg":"HS256"}`, true},
		{"none then HS256", `{"alg":"none","alg":"HS256"}`, true},
		{"HS256 then none", `{"alg":"HS256","alg":"none"}`, true},
		{"escaped alg", `{"alg":"HS\u0032\u0035\u0036"}`, false},
		{"numeric member", `{"alg":"HS256","v":1}`, false},
		{"nested member", `{"alg":"HS256","x":{"a":[1]}}`, false},
		{"non-ASCII member", `{"alg":"HS256","n":"é"}`, false},
		{"numeric kid", `{"alg":"HS256","kid":7}`, false},
		{"kid h", `{"alg":"HS256","kid":"h"}`, true},
		{"kid ra", `{"alg":"HS256","kid":"ra"}`, true},
		{"kid unknown", `{"alg":"HS256","kid":"zz"}`, true},
		{"empty kid", `{"alg":"HS256","kid":""}`, true},
		{"upper-case ALG", `{"ALG":"HS256"}`, true},
		{"alg none", `{"alg":"none"}`, true},
		{"alg empty", `{"alg":""}`, true},
		{"alg unknown", `{"alg":"XS256"}`, true},
		{"HS512", `{"alg":"HS512"}`, true},
		{"HS384", `{"alg":"HS384"}`, true},
		{"RS256", `{"alg":"RS256"}`, true},
		{"RS256 kid ra", `{"alg":"RS256","kid":"ra"}`, true},
		{"ES256", `{"alg":"ES256"}`, true},
		{"empty object", `{}`, true},
		{"null", `null`, false},
		{"array", `["alg","HS256"]`, false},
		{"trailing garbage", `{"alg":"HS256"}x`, false},
		{"trailing comma", `{"alg":"HS256",}`, false},
		{"unterminated", `{"alg":"HS256"`, false},
		{"header of 256 bytes", `{"alg":"HS256","pad":"` + strings.Repeat("p", 256-len(`{"alg":"HS256","pad":""}`)) + `"}`, true},
		{"header over 258 bytes", `{"alg":"HS256","pad":"` + strings.Repeat("p", 259-len(`{"alg":"HS256","pad":""}`)) + `"}`, false},
	}
	claims := []string{
		fmt.Sprintf(`{"userId":"u1","roleId":"user","exp":%d,"iat":%d}`, now+3600, now),
		fmt.Sprintf(`{"sub":"s1","exp":%d}`, now+60),
		`{"userId":42,"roleId":7}`,
		`{"userId":"u1","roleId":"user"}`,
		`{"userId":"u1","tenant":"t9","roles":["a","b"],"custom":{"plan":"pro","seats":3,"on":true,"x":null},"n":-0,"f":1.5e3,"big":123456789012345678901234567890}`,
		`{"userId":"\u00fcnicode \ud83d\ude00","roleId":"r\n\t\"q\"","k\u0065y":"v"}`,
		`{"userId":"first","userId":"second"}`,
		"{\"userId\":\"bad utf8 \xff\"}",
		fmt.Sprintf(`{"userId":"u1","exp":%d}`, now-30),
		fmt.Sprintf(`{"userId":"u1","exp":%d}`, now-3600),
		fmt.Sprintf(`{"userId":"u1","nbf":%d}`, now+3600),
		fmt.Sprintf(`{"userId":"u1","nbf":%d}`, now+30),
		fmt.Sprintf(`{"userId":"u1","iat":%d}`, now+3600),
		`{"userId":"u1","exp":"soon"}`,
		`{"userId":"u1","exp":0}`,
		`{"userId":"u1","exp":1e999}`,
		`{"userId":"u1","iss":"https://idp","aud":"hubd"}`,
		`{"userId":"u1","iss":"https://idp","aud":["other","hubd"]}`,
		`{"userId":"u1","iss":"https://other","aud":"hubd"}`,
		`{"userId":"u1","iss":"https://idp"}`,
		`{"userId":"u1","aud":42}`,
		`{"roleId":"admin"}`,
		`{}`,
		`null`,
		`[1,2]`,
		`"u1"`,
		`{"userId":"u1"`,
		`{"userId":"u1"} {}`,
	}
	keys := []struct {
		name string
		m    jwt.SigningMethod
		key  any
	}{
		{"HS256 secret", jwt.SigningMethodHS256, []byte(testSecret)},
		{"HS256 older secret", jwt.SigningMethodHS256, []byte("older-secret")},
		{"HS256 jwks secret", jwt.SigningMethodHS256, []byte("jwks-secret")},
		{"HS256 wrong secret", jwt.SigningMethodHS256, []byte("wrong")},
		{"HS256 with the RSA public key", jwt.SigningMethodHS256, rsaPEM},
		{"HS512 secret", jwt.SigningMethodHS512, []byte(testSecret)},
		{"HS384 secret", jwt.SigningMethodHS384, []byte(testSecret)},
		{"RS256", jwt.SigningMethodRS256, rk},
		{"ES256", jwt.SigningMethodES256, ek},
	}
	type signed struct {
		name, tok     string
		plain, tamper bool
	}
	var toks []signed
	for _, h := range headers {
		for ci, c := range claims {
			for _, k := range keys {
				if _, hmac := k.key.([]byte); !hmac && ci >= 4 {
					continue // public-key signatures are slow to check: fewer claims sets
				}
				// The fast path reads plain headers of HMAC tokens only.
				fast := h.plain && strings.HasPrefix(k.m.Alg(), "HS")
				toks = append(toks, signed{fmt.Sprintf("%s / %s / %s", h.name, c, k.name), rawToken(t, k.m, k.key, h.json, c), fast, ci < 4})
			}
		}
	}
	for vname, cfg := range verifiers {
		v, err := NewVerifier(cfg)
		require.NoError(t, err)
		fast, accepted := 0, 0
		for _, tk := range toks {
			name := vname + " / " + tk.name
			if requireSameVerdict(t, v, tk.tok, name) {
				fast++
				require.True(t, tk.plain, "%s: the fast path read an unusual header", name)
			}
			if _, err := v.verifySlow(tk.tok); err == nil {
				accepted++
				if tk.plain {
					_, ok := v.verifyFast(tk.tok)
					require.True(t, ok, "%s: a plain header, and the fast path left it to the library", name)
				}
			}
			if !tk.tamper {
				continue // HMAC verifications add up: the first claims sets only
			}
			for _, tampered := range tamper(tk.tok) {
				requireSameVerdict(t, v, tampered, name+" (tampered)")
			}
		}
		require.NotZero(t, fast, vname)
		require.NotZero(t, accepted, vname)
		t.Logf("%s: %d of %d tokens accepted by the library, %d taken by the fast path", vname, accepted, len(toks), fast)
	}
}

// tamper returns variants of a token: a changed signature, claims and
// header; padding and line breaks in the segments (the base64 decoders skip
// line breaks); an extra segment; the signature dropped.
func tamper(tok string) []string {
	parts := strings.Split(tok, ".")
	flip := func(s string) string {
		if s == "" {
			return "A"
		}
		b := []byte(s)
		if b[len(b)/2] == 'A' {
			b[len(b)/2] = 'B'
		} else {
			b[len(b)/2] = 'A'
		}
		return string(b)
	}
	h, c, s := parts[0], parts[1], parts[2]
	return []string{
		h + "." + c + "." + flip(s),
		h + "." + flip(c) + "." + s,
		flip(h) + "." + c + "." + s,
		h + "=." + c + "." + s,
		h + "." + c + "." + s + "==",
		h[:len(h)/2] + "\n" + h[len(h)/2:] + "." + c + "." + s,
		h + "." + c + "." + s[:len(s)/2] + "\r\n" + s[len(s)/2:],
		h + "." + c + "." + s + ".x",
		h + "." + c + ".",
		h + "." + c,
	}
}

// Random headers and claims, signed with the configured secret or another
// one: the fast path and the library agree on all of them.
func FuzzVerifyFastMatchesLibrary(f *testing.F) {
	f.Add(`{"alg":"HS256","typ":"JWT"}`, `{"userId":"u1","roleId":"user","exp":4102444800}`, false)
	f.Add(`{"alg":"none"}`, `{"userId":"u1"}`, false)
	f.Add(`{"alg":"HS256","alg":"none"}`, `{"userId":"u1","exp":1}`, false)
	f.Add(`{"alg":"HS256","kid":"h"}`, `{"sub":"s","nbf":4102444800}`, true)
	f.Add(` {"alg" :"HS256"} `, `{"userId":"\u00fc","custom":{"a":[1,2.5,null,true]}}`, false)
	f.Add(`{"alg":"HS\u0032\u0035\u0036"}`, `{"userId":"u","iss":"https://idp","aud":["hubd"]}`, false)
	f.Add(`{"alg":"HS256"}`, `[1]`, false)
	v, err := NewVerifier(VerifierConfig{HS256Secrets: []string{testSecret}, Issuer: "https://idp", Audience: "hubd"})
	require.NoError(f, err)
	plain, err := NewVerifier(VerifierConfig{HS256Secrets: []string{testSecret}})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, header, claims string, wrongKey bool) {
		key := []byte(testSecret)
		if wrongKey {
			key = []byte("wrong")
		}
		signing := b64([]byte(header)) + "." + b64([]byte(claims))
		sig, err := jwt.SigningMethodHS256.Sign(signing, key)
		require.NoError(t, err)
		tok := signing + "." + b64(sig)
		if len(tok) > DefaultMaxTokenBytes {
			return
		}
		requireSameVerdict(t, v, tok, "iss-aud")
		requireSameVerdict(t, plain, tok, "plain")
		requireSameVerdict(t, plain, header+"."+claims+"."+b64(sig), "raw segments")
	})
}
