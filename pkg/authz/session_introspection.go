package authz

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Defaults of IntrospectionResolver.
const (
	DefaultIntrospectionTimeout = 2 * time.Second
	maxIntrospectionBody        = 1 << 20
)

// IntrospectionResolver asks an HTTP endpoint of the application for the
// session of a token: a request with "Authorization: Bearer <token>" that
// answers 200 with the session as a JSON object. 401 and 403 mean the token
// is not accepted (ErrInvalidToken); any other status, a body that is not a
// JSON object, a timeout or a connection error wrap ErrSessionUnavailable.
//
// The answer is laid over the token's claims like RedisSessionResolver's and
// kept in memory per token (by SHA-256 hash, never the token itself) for
// TTL, but never past the token's exp. Set the exported fields, then use
// it; it is safe for concurrent use.
type IntrospectionResolver struct {
	URL        string        // required
	Method     string        // GET (default) or POST; POST sends no body
	Client     *http.Client  // default http.DefaultClient
	Timeout    time.Duration // per request, default DefaultIntrospectionTimeout
	TTL        time.Duration // cache lifetime of an accepted token; 0 disables
	MaxEntries int           // default DefaultSessionCacheEntries

	once  sync.Once
	cache *ttlLRU[[sha256.Size]byte, map[string]any]
}

var _ SessionResolver = (*IntrospectionResolver)(nil)

func (r *IntrospectionResolver) init() {
	r.once.Do(func() {
		n := r.MaxEntries
		if n <= 0 {
			n = DefaultSessionCacheEntries
		}
		r.cache = newTTLLRU[[sha256.Size]byte, map[string]any](n)
	})
}

// Resolve asks the endpoint (or the cache) and merges the answer over claims.
func (r *IntrospectionResolver) Resolve(ctx context.Context, token string, claims *Session) (*Session, error) {
	r.init()
	key := sha256.Sum256([]byte(token))
	stored, ok := r.cache.get(key)
	if !ok {
		var err error
		stored, err = r.introspect(ctx, token)
		if err != nil {
			return nil, err
		}
		ttl := r.TTL
		if !claims.ExpiresAt.IsZero() {
			ttl = min(ttl, time.Until(claims.ExpiresAt))
		}
		if ttl > 0 {
			r.cache.set(key, stored, ttl)
		}
	}
	return mergeSession(claims, stored)
}

func (r *IntrospectionResolver) introspect(ctx context.Context, token string) (map[string]any, error) {
	if r.URL == "" {
		return nil, errors.New("authz: introspection resolver: no URL")
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultIntrospectionTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, r.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("authz: introspection request: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	client := r.Client
	if client == nil {
		client = http.DefaultClient
	}
	res, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: introspection: %w", ErrSessionUnavailable, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxIntrospectionBody+1))
	if err != nil {
		return nil, fmt.Errorf("%w: introspection: read: %w", ErrSessionUnavailable, err)
	}
	switch {
	case res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden:
		return nil, fmt.Errorf("%w: introspection: status %d", ErrInvalidToken, res.StatusCode)
	case res.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("%w: introspection: status %d", ErrSessionUnavailable, res.StatusCode)
	case len(body) > maxIntrospectionBody:
		return nil, fmt.Errorf("%w: introspection: answer larger than %d bytes", ErrSessionUnavailable, maxIntrospectionBody)
	}
	stored, err := decodeSessionJSON(body)
	if err != nil {
		return nil, fmt.Errorf("%w: introspection: %w", ErrSessionUnavailable, err)
	}
	return stored, nil
}
