package authz

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"

	"github.com/hubd/hubd/pkg/records"
)

// Errors of session resolvers besides ErrInvalidToken.
var (
	// ErrSessionUnavailable wraps failures to reach the session store or
	// endpoint; the connection is refused as unavailable, not as an
	// invalid token.
	ErrSessionUnavailable = errors.New("authz: session store unavailable")
	// ErrSessionNotFound is wrapped with ErrInvalidToken when the session a
	// token names does not exist (anymore).
	ErrSessionNotFound = errors.New("session not found")
)

// SessionResolver turns a verified token into the session the hub uses.
// claims is the session Verify built from the token; token is the raw token.
// A resolver returns an error wrapping ErrInvalidToken when the token is not
// (or no longer) accepted, and one wrapping ErrSessionUnavailable when it
// cannot tell.
type SessionResolver interface {
	Resolve(ctx context.Context, token string, claims *Session) (*Session, error)
}

// ClaimsResolver uses the token's claims as the session. It is the default.
type ClaimsResolver struct{}

var _ SessionResolver = ClaimsResolver{}

// Resolve returns claims.
func (ClaimsResolver) Resolve(_ context.Context, _ string, claims *Session) (*Session, error) {
	return claims, nil
}

// mergeSession lays a stored session object over the token's session. The
// stored userId and roleId win when they are non-empty strings or numbers;
// other stored fields replace the claims of the same name. ExpiresAt stays
// the token's.
func mergeSession(claims *Session, stored map[string]any) (*Session, error) {
	s := &Session{
		UserID:    claims.UserID,
		RoleID:    claims.RoleID,
		Claims:    maps.Clone(claims.Claims),
		ExpiresAt: claims.ExpiresAt,
	}
	if s.Claims == nil {
		s.Claims = map[string]any{}
	}
	for k, v := range stored {
		s.Claims[k] = records.Clone(v)
	}
	if id := claimString(stored["userId"]); id != "" {
		s.UserID = id
	}
	if role := claimString(stored["roleId"]); role != "" {
		s.RoleID = role
	}
	if s.UserID == "" {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, ErrNoUserID)
	}
	s.Claims["userId"] = s.UserID
	s.Claims["roleId"] = s.RoleID
	return s, nil
}

// keyTemplate is a string with {claim} placeholders.
type keyTemplate struct {
	parts  []string // literal, name, literal, name, ..., literal
	claims []string
}

var placeholderRE = regexp.MustCompile(`\{([^{}]*)\}`)

func parseKeyTemplate(tmpl string) (*keyTemplate, error) {
	if tmpl == "" {
		return nil, errors.New("empty key template")
	}
	t := &keyTemplate{}
	last := 0
	for _, m := range placeholderRE.FindAllStringSubmatchIndex(tmpl, -1) {
		name := tmpl[m[2]:m[3]]
		if name == "" {
			return nil, fmt.Errorf("key template %q: empty placeholder", tmpl)
		}
		t.parts = append(t.parts, tmpl[last:m[0]])
		t.claims = append(t.claims, name)
		last = m[1]
	}
	t.parts = append(t.parts, tmpl[last:])
	for _, lit := range t.parts {
		if strings.ContainsAny(lit, "{}") {
			return nil, fmt.Errorf("key template %q: unbalanced braces", tmpl)
		}
	}
	if len(t.claims) == 0 {
		return nil, fmt.Errorf("key template %q: no {claim} placeholder", tmpl)
	}
	return t, nil
}

// expand fills the placeholders from the claims; a missing or non-scalar
// claim is an invalid token.
func (t *keyTemplate) expand(claims map[string]any) (string, error) {
	var b strings.Builder
	for i, name := range t.claims {
		b.WriteString(t.parts[i])
		v := claimString(claims[name])
		if v == "" {
			return "", fmt.Errorf("%w: claim %q missing for the session key", ErrInvalidToken, name)
		}
		b.WriteString(v)
	}
	b.WriteString(t.parts[len(t.parts)-1])
	return b.String(), nil
}
