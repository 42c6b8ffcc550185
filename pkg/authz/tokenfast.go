package authz

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"strings"
	"sync"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hubd/hubd/pkg/jsonscan"
)

// The fast path verifies the common token (a compact JWS whose header is a
// flat object of plain strings) without the JWT library's parsing: the
// header is scanned instead of decoded into a map, the HMAC state is
// pooled per key instead of built per token, and the signing input is the
// token's own prefix. It only ever answers "valid, with these claims":
// anything else (a malformed or unusual header, an algorithm outside the
// allow-list, a bad signature, claims that fail to decode or to validate)
// sends the token through the library (Verifier.verifySlow), which gives
// the verdict and the error exactly as before. The checks it makes on the
// way to "valid" are the library's own: the same allow-list, the same key
// selection (keyFor), the same signature methods, encoding/json's result for
// the claims and the library's Validator, built from the parser's options, for
// exp, nbf, iss and aud with the same leeway. The claims are decoded as
// encoding/json decodes them (decodeClaims scans the usual flat ones).

// headerScratch holds a header segment and its decoding. It is pooled, not
// on the stack: a connection's token is checked on a short-lived goroutine,
// whose stack a large frame would make grow (a copy of the whole stack).
// A longer header goes through the library.
type headerScratch struct {
	seg    [344]byte // base64 of 258 bytes
	header [258]byte
}

var headerScratches = sync.Pool{New: func() any { return new(headerScratch) }}

// macKey is an HMAC secret with pooled hash states, one pool per algorithm.
type macKey struct {
	secret []byte
	pools  [len(macAlgs)]sync.Pool // of *macState
}

// macAlgs lists the HMAC algorithms with their hash, in pool order.
var macAlgs = [...]struct {
	alg  string
	hash func() hash.Hash
}{{"HS256", sha256.New}, {"HS384", sha512.New384}, {"HS512", sha512.New}}

// macState is one HMAC state with room for its sum, the decoded signature
// and the signing input copied in chunks (hashing a string through
// hash.Hash would copy all of it to the heap).
type macState struct {
	h     hash.Hash
	sum   [sha512.Size]byte
	sig   [sha512.Size]byte
	chunk [512]byte
}

func newMacKey(secret []byte) *macKey { return &macKey{secret: secret} }

// verify reports whether sigSeg (base64url, unpadded) is the MAC of
// signing under the algorithm macAlgs[i], as jwt.SigningMethodHMAC.Verify
// decides it.
func (k *macKey) verify(i int, signing, sigSeg string) bool {
	st, _ := k.pools[i].Get().(*macState)
	if st == nil {
		st = &macState{h: hmac.New(macAlgs[i].hash, k.secret)}
	}
	defer k.pools[i].Put(st)
	if len(sigSeg) > len(st.chunk) || base64.RawURLEncoding.DecodedLen(len(sigSeg)) > len(st.sig) {
		return false
	}
	n, err := base64.RawURLEncoding.Decode(st.sig[:], st.chunk[:copy(st.chunk[:], sigSeg)])
	if err != nil {
		return false
	}
	st.h.Reset()
	for s := signing; s != ""; {
		c := copy(st.chunk[:], s)
		_, _ = st.h.Write(st.chunk[:c])
		s = s[c:]
	}
	return hmac.Equal(st.sig[:n], st.h.Sum(st.sum[:0]))
}

// macIndex is the pool index of an HMAC algorithm, or -1.
func macIndex(alg string) int {
	for i, a := range macAlgs {
		if a.alg == alg {
			return i
		}
	}
	return -1
}

// verifyFast returns the claims of a token the library would accept, or
// ok false when the token must go through the library.
func (v *Verifier) verifyFast(token string) (claims jwt.MapClaims, ok bool) {
	headSeg, rest, ok1 := strings.Cut(token, ".")
	claimSeg, sigSeg, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sigSeg, ".") {
		return nil, false
	}
	if len(headSeg) > len(headerScratch{}.seg) {
		return nil, false
	}
	hs := headerScratches.Get().(*headerScratch)
	defer headerScratches.Put(hs)
	n, err := base64.RawURLEncoding.Decode(hs.header[:], hs.seg[:copy(hs.seg[:], headSeg)])
	if err != nil {
		return nil, false
	}
	alg, kid, ok := scanHeader(hs.header[:n])
	if !ok {
		return nil, false
	}
	m := v.methods[string(alg)] // nil unless alg is allowed
	if m == nil || !v.signatureValid(m, kid, token[:len(headSeg)+1+len(claimSeg)], sigSeg) {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(claimSeg)
	if err != nil {
		return nil, false
	}
	claims, ok = decodeClaims(raw)
	if !ok || v.validator.Validate(claims) != nil {
		return nil, false
	}
	return claims, true
}

// signatureValid checks an HMAC signature with the keys keyFor would
// return for a token with this alg and kid. Public-key tokens are left to
// the library: a refused one (expired, wrong audience) would otherwise pay
// for its RSA or ECDSA verification twice, here and in the library.
func (v *Verifier) signatureValid(m jwt.SigningMethod, kid []byte, signing, sigSeg string) bool {
	alg := m.Alg()
	i := macIndex(alg)
	if i < 0 {
		return false
	}
	if len(kid) > 0 {
		if k, found := v.byKid[string(kid)]; found {
			return k.family == familyHMAC && k.mac != nil && k.mac.verify(i, signing, sigSeg)
		}
	}
	for _, k := range v.noKid[familyHMAC] {
		if k.mac != nil && k.mac.verify(i, signing, sigSeg) {
			return true
		}
	}
	return false
}

// scanHeader reads a JOSE header that is a JSON object whose member names
// and values are all plain strings (printable ASCII, no escapes), the
// whitespace JSON allows between them. It returns the last "alg" and "kid"
// (as encoding/json does with repeated names), nil when absent; ok is
// false for anything else, which the library then decodes itself.
func scanHeader(d []byte) (alg, kid []byte, ok bool) {
	ok = walkPlainObject(d, func(nameAt, nameEnd, at int) (int, bool) {
		value, next, ok := plainString(d, at)
		switch string(d[nameAt:nameEnd]) {
		case "alg":
			alg = value
		case "kid":
			kid = value
		}
		return next, ok
	})
	if !ok {
		return nil, nil, false
	}
	return alg, kid, true
}

// walkPlainObject walks d when it is a JSON object whose member names are
// plain strings (see plainString), with the whitespace JSON allows between
// its parts: for each member it calls member with the bounds of the name's
// content in d and the index of its value, and member returns the index
// after the value, or false to refuse it. ok is false when d is anything
// else or member refused.
func walkPlainObject(d []byte, member func(nameAt, nameEnd, at int) (next int, ok bool)) (ok bool) {
	i := jsonscan.SkipSpace(d, 0)
	if i >= len(d) || d[i] != '{' {
		return false
	}
	i = jsonscan.SkipSpace(d, i+1)
	if i < len(d) && d[i] == '}' {
		return jsonscan.SkipSpace(d, i+1) == len(d)
	}
	for {
		name, j, ok := plainString(d, i)
		if !ok {
			return false
		}
		j = jsonscan.SkipSpace(d, j)
		if j >= len(d) || d[j] != ':' {
			return false
		}
		k, ok := member(i+1, i+1+len(name), jsonscan.SkipSpace(d, j+1))
		if !ok {
			return false
		}
		k = jsonscan.SkipSpace(d, k)
		switch {
		case k < len(d) && d[k] == ',':
			i = jsonscan.SkipSpace(d, k+1)
		case k < len(d) && d[k] == '}':
			return jsonscan.SkipSpace(d, k+1) == len(d)
		default:
			return false
		}
	}
}

// plainString reads a JSON string at d[i] made of printable ASCII without
// escapes; it returns its content and the index after its closing quote.
func plainString(d []byte, i int) (s []byte, next int, ok bool) {
	if i >= len(d) || d[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(d); j++ {
		switch c := d[j]; {
		case c == '"':
			return d[i+1 : j], j + 1, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, 0, false
		}
	}
	return nil, 0, false
}
