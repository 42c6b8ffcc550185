package authz

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Defaults applied by NewVerifier when the config leaves a field zero.
const (
	DefaultMaxTokenBytes = 8192
	DefaultLeeway        = 60 * time.Second
	MinRSABits           = 2048 // smaller RSA public keys are refused
)

// Errors returned by Verify. Every rejection other than an empty token wraps
// ErrInvalidToken together with the reason (for example jwt.ErrTokenExpired,
// jwt.ErrTokenSignatureInvalid, ErrTokenTooLong or ErrNoUserID).
var (
	ErrTokenMissing = errors.New("authz: token missing")
	ErrInvalidToken = errors.New("authz: invalid token")
	ErrTokenTooLong = errors.New("token too long")
	ErrNoUserID     = errors.New("token has no userId or sub claim")
	ErrNoKey        = errors.New("no key for token")
)

// Session is what a verified token grants. Claims is the MScript `user` /
// `session` object; it always holds the "userId" and "roleId" keys.
type Session struct {
	UserID    string
	RoleID    string
	Claims    map[string]any
	ExpiresAt time.Time // zero when the token has no exp claim
}

// VerifierConfig lists the keys and checks used to verify tokens.
type VerifierConfig struct {
	HS256Secrets   []string // one or more, tried in order (rotation)
	PublicKeyFiles []string // PEM files with RSA or EC (P-256, P-384) public keys
	JWKSFile       string   // a local JWKS JSON file; keys are selected by kid
	// Algorithms is the allow-list. Empty means the algorithms of the
	// configured keys. "none" is never accepted.
	Algorithms    []string
	MaxTokenBytes int           // default DefaultMaxTokenBytes
	Leeway        time.Duration // default DefaultLeeway
	Issuer        string        // when set, "iss" must equal it
	Audience      string        // when set, "aud" must contain it
}

// keyFamily groups algorithms that verify with the same kind of key.
type keyFamily int

const (
	familyHMAC keyFamily = iota
	familyRSA
	familyEC256
	familyEC384
)

// algFamily maps every supported algorithm to the key family it needs.
var algFamily = map[string]keyFamily{
	"HS256": familyHMAC, "HS384": familyHMAC, "HS512": familyHMAC,
	"RS256": familyRSA, "RS384": familyRSA, "RS512": familyRSA,
	"ES256": familyEC256,
	"ES384": familyEC384,
}

// familyAlgs lists the algorithms enabled by default for a key family.
var familyAlgs = map[keyFamily][]string{
	familyHMAC:  {"HS256"},
	familyRSA:   {"RS256", "RS384", "RS512"},
	familyEC256: {"ES256"},
	familyEC384: {"ES384"},
}

// verificationKey is one usable key. kid is empty for keys that did not come
// from a JWKS document.
type verificationKey struct {
	kid    string
	family keyFamily
	key    any     // []byte, *rsa.PublicKey or *ecdsa.PublicKey
	mac    *macKey // the HMAC secret's pooled states (familyHMAC only)
}

// Verifier checks bearer tokens. It is immutable and safe for concurrent use.
type Verifier struct {
	keys  []verificationKey
	byKid map[string]verificationKey
	// sets holds, per key family, the keys without a kid, built once so
	// that a verification allocates no key set of its own.
	sets     map[keyFamily]jwt.VerificationKeySet
	algs     []string
	maxBytes int
	parser   *jwt.Parser

	// The fast path (tokenfast.go): the allowed algorithms' methods, the
	// keys of sets as a slice, and the parser's claims validator.
	methods   map[string]jwt.SigningMethod
	noKid     map[keyFamily][]verificationKey
	validator *jwt.Validator
}

// NewVerifier loads the configured keys and returns a Verifier. It fails when
// no key is configured, when a key file cannot be used, or when the allow-list
// names an unknown algorithm, "none", or an algorithm without a key.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	v := &Verifier{byKid: map[string]verificationKey{}, maxBytes: cfg.MaxTokenBytes}
	if v.maxBytes <= 0 {
		v.maxBytes = DefaultMaxTokenBytes
	}
	leeway := cfg.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	if leeway < 0 {
		return nil, fmt.Errorf("authz: negative leeway %s", leeway)
	}

	for i, s := range cfg.HS256Secrets {
		if s == "" {
			return nil, fmt.Errorf("authz: HS256 secret %d is empty", i)
		}
		v.keys = append(v.keys, verificationKey{family: familyHMAC, key: []byte(s)})
	}
	for _, path := range cfg.PublicKeyFiles {
		keys, err := loadPEMFile(path)
		if err != nil {
			return nil, fmt.Errorf("authz: public key file %s: %w", path, err)
		}
		v.keys = append(v.keys, keys...)
	}
	if cfg.JWKSFile != "" {
		keys, err := loadJWKSFile(cfg.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("authz: jwks file %s: %w", cfg.JWKSFile, err)
		}
		for _, k := range keys {
			if k.kid != "" {
				v.byKid[k.kid] = k
			}
		}
		v.keys = append(v.keys, keys...)
	}
	if len(v.keys) == 0 {
		return nil, errors.New("authz: no token verification key configured")
	}

	present := map[keyFamily]bool{}
	v.sets = map[keyFamily]jwt.VerificationKeySet{}
	v.noKid = map[keyFamily][]verificationKey{}
	for i, k := range v.keys {
		if secret, ok := k.key.([]byte); ok && k.family == familyHMAC {
			k.mac = newMacKey(secret)
			v.keys[i] = k
			if k.kid != "" {
				v.byKid[k.kid] = k
			}
		}
		present[k.family] = true
		if k.kid == "" {
			set := v.sets[k.family]
			set.Keys = append(set.Keys, k.key)
			v.sets[k.family] = set
			v.noKid[k.family] = append(v.noKid[k.family], k)
		}
	}
	if len(cfg.Algorithms) == 0 {
		for fam, algs := range familyAlgs {
			if present[fam] {
				v.algs = append(v.algs, algs...)
			}
		}
	} else {
		for _, alg := range cfg.Algorithms {
			fam, ok := algFamily[alg]
			if !ok {
				return nil, fmt.Errorf("authz: algorithm %q is not supported", alg)
			}
			if !present[fam] {
				return nil, fmt.Errorf("authz: algorithm %s is allowed but no matching key is configured", alg)
			}
			if !slices.Contains(v.algs, alg) {
				v.algs = append(v.algs, alg)
			}
		}
	}
	slices.Sort(v.algs)

	opts := []jwt.ParserOption{jwt.WithValidMethods(v.algs), jwt.WithLeeway(leeway)}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	v.validator = jwt.NewValidator(opts...)
	v.methods = make(map[string]jwt.SigningMethod, len(v.algs))
	for _, alg := range v.algs {
		v.methods[alg] = jwt.GetSigningMethod(alg)
	}
	return v, nil
}

// Algorithms returns the allowed algorithms, sorted.
func (v *Verifier) Algorithms() []string { return slices.Clone(v.algs) }

// Verify checks the token and returns its session. An empty token gives
// ErrTokenMissing; any other failure wraps ErrInvalidToken and the reason.
func (v *Verifier) Verify(token string) (*Session, error) {
	if token == "" {
		return nil, ErrTokenMissing
	}
	if len(token) > v.maxBytes {
		return nil, fmt.Errorf("%w: %w (%d > %d bytes)", ErrInvalidToken, ErrTokenTooLong, len(token), v.maxBytes)
	}
	if claims, ok := v.verifyFast(token); ok {
		return sessionFromClaims(claims)
	}
	return v.verifySlow(token)
}

// verifySlow verifies a token with the JWT library alone: every token the
// fast path does not accept, and so every rejection, goes this way.
func (v *Verifier) verifySlow(token string) (*Session, error) {
	claims := jwt.MapClaims{}
	if _, err := v.parser.ParseWithClaims(token, claims, v.keyFor); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return sessionFromClaims(claims)
}

// keyFor selects the candidate keys for a parsed but unverified token. Only
// keys of the family the token's algorithm needs are returned, so an HMAC
// token is never checked against a public key used as a secret. A kid known
// from the JWKS selects that key alone; otherwise every key without a kid of
// the right family is tried.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	fam, ok := algFamily[alg]
	if !ok {
		return nil, fmt.Errorf("%w: algorithm %s", ErrNoKey, alg)
	}
	if kid, _ := t.Header["kid"].(string); kid != "" {
		if k, found := v.byKid[kid]; found {
			if k.family != fam {
				return nil, fmt.Errorf("%w: key %q does not fit algorithm %s", ErrNoKey, kid, alg)
			}
			return k.key, nil
		}
	}
	set := v.sets[fam]
	if len(set.Keys) == 0 {
		return nil, fmt.Errorf("%w: algorithm %s", ErrNoKey, alg)
	}
	return set, nil
}

// sessionFromClaims maps verified claims to a Session, which takes the
// map: claims must be the caller's own, decoded for this token.
func sessionFromClaims(claims jwt.MapClaims) (*Session, error) {
	userID := claimString(claims["userId"])
	if userID == "" {
		userID = claimString(claims["sub"])
	}
	if userID == "" {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, ErrNoUserID)
	}
	s := &Session{
		UserID: userID,
		RoleID: claimString(claims["roleId"]),
		Claims: claims,
	}
	// Both are strings in the claims; one that already is that string is
	// left alone (storing it again would allocate its interface again).
	setStringClaim(s.Claims, "userId", s.UserID)
	setStringClaim(s.Claims, "roleId", s.RoleID)
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		s.ExpiresAt = exp.Time
	}
	return s, nil
}

// setStringClaim sets claims[key] to value unless it holds that string.
func setStringClaim(claims map[string]any, key, value string) {
	if cur, ok := claims[key].(string); !ok || cur != value {
		claims[key] = value
	}
}

// claimString renders a string or numeric claim; other types give "".
func claimString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	default:
		return ""
	}
}

// loadPEMFile reads every public key block of a PEM file.
func loadPEMFile(path string) ([]verificationKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	var keys []verificationKey
	for n := 0; ; n++ {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		var pub any
		switch block.Type {
		case "PUBLIC KEY":
			pub, err = x509.ParsePKIXPublicKey(block.Bytes)
		case "RSA PUBLIC KEY":
			pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
		case "CERTIFICATE":
			var cert *x509.Certificate
			if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
				pub = cert.PublicKey
			}
		default:
			return nil, fmt.Errorf("block %d: unsupported PEM type %q (want a public key)", n, block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", n, err)
		}
		k, err := publicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("block %d: %w", n, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no PEM public key found")
	}
	return keys, nil
}

// publicKey classifies a parsed public key.
func publicKey(pub any) (verificationKey, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSABits {
			return verificationKey{}, fmt.Errorf("RSA key of %d bits, want at least %d", k.N.BitLen(), MinRSABits)
		}
		return verificationKey{family: familyRSA, key: k}, nil
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return verificationKey{family: familyEC256, key: k}, nil
		case elliptic.P384():
			return verificationKey{family: familyEC384, key: k}, nil
		default:
			return verificationKey{}, fmt.Errorf("unsupported EC curve %s", k.Curve.Params().Name)
		}
	default:
		return verificationKey{}, fmt.Errorf("unsupported public key type %T", pub)
	}
}

// TokenFromHandshake returns the token of a socket handshake, looking in
// order at auth.token of the CONNECT payload, the "Authorization: Bearer"
// header and the "token" query parameter. It returns "" when none is set.
func TokenFromHandshake(auth json.RawMessage, r *http.Request) string {
	if t := TokenFromAuth(auth); t != "" {
		return t
	}
	return TokenFromHTTP(r)
}

// TokenFromAuth returns the token of a CONNECT packet's auth payload
// ({"token": "..."}, with or without "Bearer "), or "".
func TokenFromAuth(auth json.RawMessage) string {
	if len(auth) == 0 {
		return ""
	}
	raw, sure := AuthMember(auth, "token")
	switch {
	case !sure:
		return tokenFromAuthDecoded(auth)
	case len(raw) < 2 || raw[0] != '"':
		return ""
	case plainASCII(raw[1 : len(raw)-1]):
		return stripBearer(strings.TrimSpace(string(raw[1 : len(raw)-1])))
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return stripBearer(strings.TrimSpace(s))
	}
	return ""
}

// tokenFromAuthDecoded is TokenFromAuth through encoding/json, for the
// payloads AuthMember cannot read plainly.
func tokenFromAuthDecoded(auth json.RawMessage) string {
	// Only the token is decoded; other auth fields are skipped unread.
	var payload struct {
		Token json.RawMessage `json:"token"`
	}
	var s string
	if json.Unmarshal(auth, &payload) == nil && len(payload.Token) > 0 && payload.Token[0] == '"' &&
		json.Unmarshal(payload.Token, &s) == nil {
		return stripBearer(strings.TrimSpace(s))
	}
	return ""
}

// TokenFromHTTP returns the token of a REST request: the
// "Authorization: Bearer" header, then the "token" query parameter.
func TokenFromHTTP(r *http.Request) string {
	if r == nil {
		return ""
	}
	if h := strings.TrimSpace(r.Header.Get("Authorization")); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			if t := strings.TrimSpace(rest); t != "" {
				return t
			}
		}
	}
	if r.URL != nil {
		return strings.TrimSpace(r.URL.Query().Get("token"))
	}
	return ""
}

// stripBearer removes an optional "Bearer " prefix.
func stripBearer(s string) string {
	if scheme, rest, ok := strings.Cut(s, " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(rest)
	}
	return s
}

// IssueHS256 signs claims with secret. It sets "iat" to now and, when ttl is
// positive, "exp" to now+ttl; ttl zero issues a token without expiry.
func IssueHS256(secret string, claims map[string]any, ttl time.Duration) (string, error) {
	if secret == "" {
		return "", errors.New("authz: issue token: empty secret")
	}
	if ttl < 0 {
		return "", fmt.Errorf("authz: issue token: negative ttl %s", ttl)
	}
	now := time.Now()
	mc := jwt.MapClaims(maps.Clone(claims))
	if mc == nil {
		mc = jwt.MapClaims{}
	}
	mc["iat"] = now.Unix()
	if ttl > 0 {
		mc["exp"] = now.Add(ttl).Unix()
	} else {
		delete(mc, "exp")
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, mc).SignedString([]byte(secret))
	if err != nil {
		return "", fmt.Errorf("authz: issue token: %w", err)
	}
	return s, nil
}
