package authz

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

const testSecret = "s3cret-for-tests"

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func writePEM(t *testing.T, pub any) (path string, der []byte) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	path = filepath.Join(t.TempDir(), "key.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path, data
}

func rsaKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return k
}

func ecKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	require.NoError(t, err)
	return k
}

func future() int64 { return time.Now().Add(time.Hour).Unix() }

func TestVerifyHS256(t *testing.T) {
	v, err := NewVerifier(VerifierConfig{HS256Secrets: []string{testSecret}})
	require.NoError(t, err)
	require.Equal(t, []string{"HS256"}, v.Algorithms())
	now := time.Now()

	tests := []struct {
		name    string
		token   string
		wantErr []error // all must match with errors.Is
		user    string
		role    string
	}{
		{
			name:  "userId claim",
			token: sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"userId": "u1", "roleId": "admin", "sub": "other", "exp": future()}, nil),
			user:  "u1", role: "admin",
		},
		{
			name:  "sub when no userId",
			token: sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "u2", "exp": future()}, nil),
			user:  "u2",
		},
		{
			name:  "numeric userId",
			token: sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"userId": 42}, nil),
			user:  "42",
		},
		{
			name:  "expired within leeway",
			token: sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"userId": "u3", "exp": now.Add(-30 * time.Second).Unix()}, nil),
			user:  "u3",
		},
		{
			name:    "expired beyond leeway",
			token:   sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"userId": "u3", "exp": now.Add(-2 * time.Minute).Unix()}, nil),
			wantErr: []error{ErrInvalidToken, jwt.ErrTokenExpired},
		},
		{
			name:    "not valid yet",
			token:   sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"userId": "u3", "nbf": now.Add(10 * time.Minute).Unix()}, nil),
			wantErr: []error{ErrInvalidToken, jwt.ErrTokenNotValidYet},
		},
		{
			name:    "wrong secret",
			token:   sign(t, jwt.SigningMethodHS256, []byte("other"), jwt.MapClaims{"userId": "u1"}, nil),
			wantErr: []error{ErrInvalidToken, jwt.ErrTokenSignatureInvalid},
		},
		{
			name:    "HS512 not in default allow-list",
			token:   sign(t, jwt.SigningMethodHS512, []byte(testSecret), jwt.MapClaims{"userId": "u1"}, nil),
			wantErr: []error{ErrInvalidToken, jwt.ErrTokenSignatureInvalid},
		},
		{
			name:    "alg none",
			token:   sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"userId": "u1"}, nil),
			wantErr: []error{ErrInvalidToken},
		},
		{
			name:    "no user id",
			token:   sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"roleId": "admin"}, nil),
			wantErr: []error{ErrInvalidToken, ErrNoUserID},
		},
		{
			name:    "garbage",
			token:   "not-a-token",
			wantErr: []error{ErrInvalidToken, jwt.ErrTokenMalformed},
		},
		{
			name:    "garbage with dots",
			token:   "a.b.c",
			wantErr: []error{ErrInvalidToken, jwt.ErrTokenMalformed},
		},
		{
			name:    "too long",
			token:   sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"userId": "u1", "pad": strings.Repeat("x", DefaultMaxTokenBytes)}, nil),
			wantErr: []error{ErrInvalidToken, ErrTokenTooLong},
		},
		{
			name:    "empty",
			token:   "",
			wantErr: []error{ErrTokenMissing},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := v.Verify(tc.token)
			if len(tc.wantErr) > 0 {
				require.Error(t, err)
				require.Nil(t, s)
				for _, want := range tc.wantErr {
					require.ErrorIs(t, err, want)
				}
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.user, s.UserID)
			require.Equal(t, tc.role, s.RoleID)
			require.Equal(t, tc.user, s.Claims["userId"])
			require.Equal(t, tc.role, s.Claims["roleId"])
		})
	}
}

func TestVerifySessionClaims(t *testing.T) {
	v, err := NewVerifier(VerifierConfig{HS256Secrets: []string{testSecret}})
	require.NoError(t, err)
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	tok := sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{
		"sub": "u9", "city": "Paris", "level": 3, "exp": exp.Unix(),
	}, nil)
	s, err := v.Verify(tok)
	require.NoError(t, err)
	require.True(t, exp.Equal(s.ExpiresAt), "expires %v, want %v", s.ExpiresAt, exp)
	require.Equal(t, "Paris", s.Claims["city"])
	require.Equal(t, float64(3), s.Claims["level"])
	require.Equal(t, "u9", s.Claims["userId"])
	require.Equal(t, "u9", s.Claims["sub"])
	require.Contains(t, s.Claims, "roleId")

	noExp := sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"sub": "u9"}, nil)
	s, err = v.Verify(noExp)
	require.NoError(t, err)
	require.True(t, s.ExpiresAt.IsZero())
}

func TestVerifyLeewayAndLimits(t *testing.T) {
	old := sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"userId": "u", "exp": time.Now().Add(-90 * time.Second).Unix()}, nil)

	v, err := NewVerifier(VerifierConfig{HS256Secrets: []string{testSecret}, Leeway: 2 * time.Minute})
	require.NoError(t, err)
	_, err = v.Verify(old)
	require.NoError(t, err)

	v, err = NewVerifier(VerifierConfig{HS256Secrets: []string{testSecret}})
	require.NoError(t, err)
	_, err = v.Verify(old)
	require.ErrorIs(t, err, jwt.ErrTokenExpired)

	small := sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"userId": "u"}, nil)
	v, err = NewVerifier(VerifierConfig{HS256Secrets: []string{testSecret}, MaxTokenBytes: len(small) - 1})
	require.NoError(t, err)
	_, err = v.Verify(small)
	require.ErrorIs(t, err, ErrTokenTooLong)
	v, err = NewVerifier(VerifierConfig{HS256Secrets: []string{testSecret}, MaxTokenBytes: len(small)})
	require.NoError(t, err)
	_, err = v.Verify(small)
	require.NoError(t, err)
}

func TestVerifyIssuerAudience(t *testing.T) {
	v, err := NewVerifier(VerifierConfig{HS256Secrets: []string{testSecret}, Issuer: "auth.example", Audience: "hubd"})
	require.NoError(t, err)
	tests := []struct {
		name    string
		claims  jwt.MapClaims
		wantErr error
	}{
		{"match", jwt.MapClaims{"userId": "u", "iss": "auth.example", "aud": []string{"x", "hubd"}}, nil},
		{"wrong issuer", jwt.MapClaims{"userId": "u", "iss": "evil", "aud": "hubd"}, jwt.ErrTokenInvalidIssuer},
		{"wrong audience", jwt.MapClaims{"userId": "u", "iss": "auth.example", "aud": "other"}, jwt.ErrTokenInvalidAudience},
		{"missing audience", jwt.MapClaims{"userId": "u", "iss": "auth.example"}, jwt.ErrTokenRequiredClaimMissing},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(sign(t, jwt.SigningMethodHS256, []byte(testSecret), tc.claims, nil))
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidToken)
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
}

func TestVerifySecretRotation(t *testing.T) {
	v, err := NewVerifier(VerifierConfig{HS256Secrets: []string{"new-secret", "old-secret"}})
	require.NoError(t, err)
	for _, secret := range []string{"new-secret", "old-secret"} {
		s, err := v.Verify(sign(t, jwt.SigningMethodHS256, []byte(secret), jwt.MapClaims{"userId": secret}, nil))
		require.NoError(t, err, secret)
		require.Equal(t, secret, s.UserID)
	}
	_, err = v.Verify(sign(t, jwt.SigningMethodHS256, []byte("retired"), jwt.MapClaims{"userId": "u"}, nil))
	require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
}

func TestVerifyPublicKeys(t *testing.T) {
	rk := rsaKey(t)
	ek := ecKey(t, elliptic.P256())
	ek384 := ecKey(t, elliptic.P384())
	rsaPath, rsaPEM := writePEM(t, &rk.PublicKey)
	ecPath, _ := writePEM(t, &ek.PublicKey)
	ec384Path, _ := writePEM(t, &ek384.PublicKey)

	v, err := NewVerifier(VerifierConfig{PublicKeyFiles: []string{rsaPath, ecPath, ec384Path}})
	require.NoError(t, err)
	require.Equal(t, []string{"ES256", "ES384", "RS256", "RS384", "RS512"}, v.Algorithms())

	claims := jwt.MapClaims{"userId": "pk", "exp": future()}
	other := rsaKey(t)
	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{"RS256", sign(t, jwt.SigningMethodRS256, rk, claims, nil), nil},
		{"RS512", sign(t, jwt.SigningMethodRS512, rk, claims, nil), nil},
		{"ES256", sign(t, jwt.SigningMethodES256, ek, claims, nil), nil},
		{"ES384", sign(t, jwt.SigningMethodES384, ek384, claims, nil), nil},
		{"RS256 other key", sign(t, jwt.SigningMethodRS256, other, claims, nil), jwt.ErrTokenSignatureInvalid},
		// Key confusion: the RSA public key used as an HMAC secret.
		{"HS256 with public key as secret", sign(t, jwt.SigningMethodHS256, rsaPEM, claims, nil), jwt.ErrTokenSignatureInvalid},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims, nil), jwt.ErrTokenSignatureInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := v.Verify(tc.token)
			if tc.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, "pk", s.UserID)
				return
			}
			require.ErrorIs(t, err, ErrInvalidToken)
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
}

// An HS256 token forged with the RSA public key as secret is refused even when
// HS256 is allowed because an HMAC secret is configured too.
func TestVerifyKeyConfusionMixedConfig(t *testing.T) {
	rk := rsaKey(t)
	rsaPath, rsaPEM := writePEM(t, &rk.PublicKey)
	v, err := NewVerifier(VerifierConfig{HS256Secrets: []string{testSecret}, PublicKeyFiles: []string{rsaPath}})
	require.NoError(t, err)
	require.Contains(t, v.Algorithms(), "HS256")
	require.Contains(t, v.Algorithms(), "RS256")

	for name, secret := range map[string][]byte{"pem": rsaPEM, "der": mustDER(t, &rk.PublicKey)} {
		_, err = v.Verify(sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"userId": "attacker"}, nil))
		require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid, name)
	}
	_, err = v.Verify(sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.MapClaims{"userId": "u"}, nil))
	require.NoError(t, err)
	_, err = v.Verify(sign(t, jwt.SigningMethodRS256, rk, jwt.MapClaims{"userId": "u"}, nil))
	require.NoError(t, err)
}

func mustDER(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	return der
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, k *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
}

func ecJWK(kid string, k *ecdsa.PrivateKey) map[string]any {
	x := make([]byte, 32)
	y := make([]byte, 32)
	k.X.FillBytes(x)
	k.Y.FillBytes(y)
	return map[string]any{"kty": "EC", "kid": kid, "crv": "P-256", "x": b64(x), "y": b64(y)}
}

func writeJWKS(t *testing.T, keys ...map[string]any) string {
	t.Helper()
	data, err := json.Marshal(map[string]any{"keys": keys})
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "jwks.json")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	return path
}

// A PEM file may hold several keys, as PKIX, PKCS#1 or certificates.
func TestVerifyPEMBundle(t *testing.T) {
	a, b, c := rsaKey(t), rsaKey(t), ecKey(t, elliptic.P256())
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	cert, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &c.PublicKey, c)
	require.NoError(t, err)
	var bundle []byte
	bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: mustDER(t, &a.PublicKey)})...)
	bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&b.PublicKey)})...)
	bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert})...)
	path := filepath.Join(t.TempDir(), "bundle.pem")
	require.NoError(t, os.WriteFile(path, bundle, 0o600))

	v, err := NewVerifier(VerifierConfig{PublicKeyFiles: []string{path}, Algorithms: []string{"RS256", "ES256"}})
	require.NoError(t, err)
	claims := jwt.MapClaims{"userId": "b"}
	for name, tok := range map[string]string{
		"pkix":        sign(t, jwt.SigningMethodRS256, a, claims, nil),
		"pkcs1":       sign(t, jwt.SigningMethodRS256, b, claims, nil),
		"certificate": sign(t, jwt.SigningMethodES256, c, claims, nil),
	} {
		_, err := v.Verify(tok)
		require.NoError(t, err, name)
	}
	_, err = v.Verify(sign(t, jwt.SigningMethodRS512, a, claims, nil))
	require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid, "RS512 is outside the configured allow-list")
}

func TestVerifyJWKS(t *testing.T) {
	a, b := rsaKey(t), rsaKey(t)
	e := ecKey(t, elliptic.P256())
	path := writeJWKS(t,
		rsaJWK("a", &a.PublicKey),
		rsaJWK("b", &b.PublicKey),
		ecJWK("e", e),
		map[string]any{"kty": "oct", "kid": "h", "k": b64([]byte(testSecret))},
		map[string]any{"kty": "RSA", "use": "enc", "n": "AQAB", "e": "AQAB"},
	)
	v, err := NewVerifier(VerifierConfig{JWKSFile: path})
	require.NoError(t, err)
	require.Equal(t, []string{"ES256", "HS256", "RS256", "RS384", "RS512"}, v.Algorithms())

	claims := jwt.MapClaims{"userId": "jw"}
	tests := []struct {
		name    string
		token   string
		wantErr error
	}{
		{"kid a", sign(t, jwt.SigningMethodRS256, a, claims, map[string]any{"kid": "a"}), nil},
		{"kid b", sign(t, jwt.SigningMethodRS256, b, claims, map[string]any{"kid": "b"}), nil},
		{"kid e", sign(t, jwt.SigningMethodES256, e, claims, map[string]any{"kid": "e"}), nil},
		{"kid h", sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims, map[string]any{"kid": "h"}), nil},
		{"signed by b, kid a", sign(t, jwt.SigningMethodRS256, b, claims, map[string]any{"kid": "a"}), jwt.ErrTokenSignatureInvalid},
		{"unknown kid", sign(t, jwt.SigningMethodRS256, a, claims, map[string]any{"kid": "zz"}), ErrNoKey},
		{"no kid", sign(t, jwt.SigningMethodRS256, a, claims, nil), ErrNoKey},
		{"kid of another key type", sign(t, jwt.SigningMethodHS256, []byte(testSecret), claims, map[string]any{"kid": "a"}), ErrNoKey},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := v.Verify(tc.token)
			if tc.wantErr == nil {
				require.NoError(t, err)
				require.Equal(t, "jw", s.UserID)
				return
			}
			require.ErrorIs(t, err, ErrInvalidToken)
			require.ErrorIs(t, err, tc.wantErr)
		})
	}
}

func TestNewVerifierErrors(t *testing.T) {
	rk := rsaKey(t)
	rsaPath, _ := writePEM(t, &rk.PublicKey)
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "bad.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))
	privPEM := filepath.Join(dir, "priv.pem")
	require.NoError(t, os.WriteFile(privPEM, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}), 0o600))
	badJWKS := filepath.Join(dir, "bad.json")
	require.NoError(t, os.WriteFile(badJWKS, []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`), 0o600))

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	require.NoError(t, err)
	smallPath, _ := writePEM(t, &small.PublicKey)
	p521Path, _ := writePEM(t, &ecKey(t, elliptic.P521()).PublicKey)

	tests := []struct {
		name    string
		cfg     VerifierConfig
		wantMsg string
	}{
		{"no key", VerifierConfig{}, "no token verification key"},
		{"empty secret", VerifierConfig{HS256Secrets: []string{""}}, "secret 0 is empty"},
		{"alg none", VerifierConfig{HS256Secrets: []string{"x"}, Algorithms: []string{"none"}}, `"none" is not supported`},
		{"HS256 without secret", VerifierConfig{PublicKeyFiles: []string{rsaPath}, Algorithms: []string{"RS256", "HS256"}}, "HS256 is allowed but no matching key"},
		{"missing file", VerifierConfig{PublicKeyFiles: []string{filepath.Join(dir, "nope.pem")}}, "nope.pem"},
		{"not PEM", VerifierConfig{PublicKeyFiles: []string{notPEM}}, "no PEM public key"},
		{"private key", VerifierConfig{PublicKeyFiles: []string{privPEM}}, "unsupported PEM type"},
		{"bad jwks", VerifierConfig{JWKSFile: badJWKS}, "keys[0]: x:"},
		{"small RSA key", VerifierConfig{PublicKeyFiles: []string{smallPath}}, "RSA key of 1024 bits"},
		{"small RSA key in JWKS", VerifierConfig{JWKSFile: writeJWKS(t, rsaJWK("s", &small.PublicKey))}, "keys[0]: RSA key of 1024 bits"},
		{"EC P-521 key", VerifierConfig{PublicKeyFiles: []string{p521Path}}, "unsupported EC curve P-521"},
		{"negative leeway", VerifierConfig{HS256Secrets: []string{"x"}, Leeway: -time.Second}, "negative leeway"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := NewVerifier(tc.cfg)
			require.Error(t, err)
			require.Nil(t, v)
			require.Contains(t, err.Error(), tc.wantMsg)
		})
	}
}

func TestTokenFromHandshake(t *testing.T) {
	req := func(header, query string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/socket.io/?EIO=4&transport=polling"+query, nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		return r
	}
	tests := []struct {
		name string
		auth string
		r    *http.Request
		want string
	}{
		{"auth wins over all", `{"token":"A"}`, req("Bearer H", "&token=Q"), "A"},
		{"auth with bearer prefix", `{"token":"Bearer A"}`, nil, "A"},
		{"header when auth empty", `{"token":""}`, req("Bearer H", "&token=Q"), "H"},
		{"header when auth has no token", `{"other":1}`, req("bearer H", "&token=Q"), "H"},
		{"header when auth not JSON object", `"x"`, req("Bearer H", ""), "H"},
		{"header when auth token not a string", `{"token":5}`, req("Bearer H", ""), "H"},
		{"query when no header", ``, req("", "&token=Q"), "Q"},
		{"query when header is not bearer", `null`, req("Basic dXNlcg==", "&token=Q"), "Q"},
		{"nothing", ``, req("", ""), ""},
		{"nil request", ``, nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, TokenFromHandshake(json.RawMessage(tc.auth), tc.r))
		})
	}
}

func TestTokenFromHTTP(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/chat/rooms/r1/messages?token=Q", nil)
	require.Equal(t, "Q", TokenFromHTTP(r))
	r.Header.Set("Authorization", "Bearer   H ")
	require.Equal(t, "H", TokenFromHTTP(r))
	r.Header.Set("Authorization", "Bearer ")
	require.Equal(t, "Q", TokenFromHTTP(r))
}

func TestIssueHS256(t *testing.T) {
	v, err := NewVerifier(VerifierConfig{HS256Secrets: []string{testSecret}})
	require.NoError(t, err)

	claims := map[string]any{"userId": "u1", "roleId": "admin", "city": "Oslo"}
	tok, err := IssueHS256(testSecret, claims, 10*time.Minute)
	require.NoError(t, err)
	require.NotContains(t, claims, "exp", "input claims must not be modified")
	s, err := v.Verify(tok)
	require.NoError(t, err)
	require.Equal(t, "u1", s.UserID)
	require.Equal(t, "admin", s.RoleID)
	require.Equal(t, "Oslo", s.Claims["city"])
	require.Contains(t, s.Claims, "iat")
	require.WithinDuration(t, time.Now().Add(10*time.Minute), s.ExpiresAt, 5*time.Second)

	tok, err = IssueHS256(testSecret, map[string]any{"sub": "u2", "exp": 1}, 0)
	require.NoError(t, err)
	s, err = v.Verify(tok)
	require.NoError(t, err)
	require.True(t, s.ExpiresAt.IsZero())

	_, err = IssueHS256("", claims, time.Minute)
	require.Error(t, err)
	_, err = IssueHS256(testSecret, claims, -time.Minute)
	require.Error(t, err)
}

func FuzzVerify(f *testing.F) {
	good, err := IssueHS256(testSecret, map[string]any{"userId": "u"}, time.Hour)
	require.NoError(f, err)
	f.Add(good)
	f.Add("")
	f.Add("a.b.c")
	f.Add("..")
	f.Add("eyJhbGciOiJub25lIn0.eyJ1c2VySWQiOiJ1In0.")
	f.Add(good[:len(good)-2])
	f.Add(strings.Repeat("a", DefaultMaxTokenBytes+1))
	v, err := NewVerifier(VerifierConfig{HS256Secrets: []string{testSecret}})
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, token string) {
		s, err := v.Verify(token)
		switch {
		case token == "":
			require.ErrorIs(t, err, ErrTokenMissing)
		case err != nil:
			require.ErrorIs(t, err, ErrInvalidToken)
			require.Nil(t, s)
		default:
			require.NotEmpty(t, s.UserID)
			require.Equal(t, s.UserID, s.Claims["userId"])
		}
		if token != "" && len(token) <= DefaultMaxTokenBytes {
			requireSameVerdict(t, v, token, "fuzzed token")
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(b, err)
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(b, err)
	dir := b.TempDir()
	rsaDER, err := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	require.NoError(b, err)
	ecDER, err := x509.MarshalPKIXPublicKey(&ek.PublicKey)
	require.NoError(b, err)
	rsaPath, ecPath := filepath.Join(dir, "rsa.pem"), filepath.Join(dir, "ec.pem")
	require.NoError(b, os.WriteFile(rsaPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaDER}), 0o600))
	require.NoError(b, os.WriteFile(ecPath, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER}), 0o600))
	v, err := NewVerifier(VerifierConfig{HS256Secrets: []string{testSecret}, PublicKeyFiles: []string{rsaPath, ecPath}})
	require.NoError(b, err)

	claims := jwt.MapClaims{"userId": "u1", "roleId": "user", "exp": time.Now().Add(time.Hour).Unix()}
	for _, bc := range []struct {
		name   string
		method jwt.SigningMethod
		key    any
	}{
		{"HS256", jwt.SigningMethodHS256, []byte(testSecret)},
		{"RS256", jwt.SigningMethodRS256, rk},
		{"ES256", jwt.SigningMethodES256, ek},
	} {
		tok, err := jwt.NewWithClaims(bc.method, claims).SignedString(bc.key)
		require.NoError(b, err)
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
