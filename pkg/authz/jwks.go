package authz

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
)

// jwk is the subset of RFC 7517 fields hubd reads.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	// RSA
	N string `json:"n"`
	E string `json:"e"`
	// EC
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	// oct (HMAC secret)
	K string `json:"k"`
}

// loadJWKSFile reads a JWKS document ({"keys": [...]}) from disk. Keys marked
// "use": "enc" are skipped; a key whose "alg" contradicts its type is an error.
func loadJWKSFile(path string) ([]verificationKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	return parseJWKS(data)
}

// parseJWKS decodes a JWKS document.
func parseJWKS(data []byte) ([]verificationKey, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	var keys []verificationKey
	seen := map[string]bool{}
	for i, j := range doc.Keys {
		if j.Use == "enc" {
			continue
		}
		k, err := j.verificationKey()
		if err != nil {
			return nil, fmt.Errorf("keys[%d]: %w", i, err)
		}
		if j.Alg != "" {
			fam, ok := algFamily[j.Alg]
			if !ok {
				return nil, fmt.Errorf("keys[%d]: unsupported alg %q", i, j.Alg)
			}
			if fam != k.family {
				return nil, fmt.Errorf("keys[%d]: alg %s does not fit a %s key", i, j.Alg, j.Kty)
			}
		}
		if k.kid != "" {
			if seen[k.kid] {
				return nil, fmt.Errorf("keys[%d]: duplicate kid %q", i, k.kid)
			}
			seen[k.kid] = true
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, errors.New("no signing key")
	}
	return keys, nil
}

// verificationKey converts one JWK.
func (j jwk) verificationKey() (verificationKey, error) {
	switch j.Kty {
	case "RSA":
		n, err := b64Int(j.N)
		if err != nil {
			return verificationKey{}, fmt.Errorf("n: %w", err)
		}
		e, err := b64Int(j.E)
		if err != nil {
			return verificationKey{}, fmt.Errorf("e: %w", err)
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return verificationKey{}, errors.New("e: out of range")
		}
		k, err := publicKey(&rsa.PublicKey{N: n, E: int(e.Int64())})
		k.kid = j.Kid
		return k, err
	case "EC":
		var curve elliptic.Curve
		var fam keyFamily
		switch j.Crv {
		case "P-256":
			curve, fam = elliptic.P256(), familyEC256
		case "P-384":
			curve, fam = elliptic.P384(), familyEC384
		default:
			return verificationKey{}, fmt.Errorf("unsupported crv %q", j.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err := b64Fixed(j.X, size)
		if err != nil {
			return verificationKey{}, fmt.Errorf("x: %w", err)
		}
		y, err := b64Fixed(j.Y, size)
		if err != nil {
			return verificationKey{}, fmt.Errorf("y: %w", err)
		}
		point := append(append([]byte{4}, x...), y...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, point)
		if err != nil {
			return verificationKey{}, fmt.Errorf("point: %w", err)
		}
		return verificationKey{kid: j.Kid, family: fam, key: pub}, nil
	case "oct":
		k, err := base64.RawURLEncoding.DecodeString(j.K)
		if err != nil {
			return verificationKey{}, fmt.Errorf("k: %w", err)
		}
		if len(k) == 0 {
			return verificationKey{}, errors.New("k: empty")
		}
		return verificationKey{kid: j.Kid, family: familyHMAC, key: k}, nil
	default:
		return verificationKey{}, fmt.Errorf("unsupported kty %q", j.Kty)
	}
}

// b64Int decodes a base64url (unpadded) big-endian integer.
func b64Int(s string) (*big.Int, error) {
	if s == "" {
		return nil, errors.New("missing")
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	return new(big.Int).SetBytes(b), nil
}

// b64Fixed decodes a base64url (unpadded) coordinate of exactly size bytes.
func b64Fixed(s string, size int) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if len(b) != size {
		return nil, fmt.Errorf("length %d, want %d", len(b), size)
	}
	return b, nil
}
