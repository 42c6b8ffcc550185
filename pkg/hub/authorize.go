package hub

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/authz"
)

// authorize runs the layered room authorization, through the auth cache
// when the hub's authCacheTTL is positive. Only grants are cached; a
// cache failure counts as a miss (never as an allow).
func (h *Hub) authorize(ctx context.Context, def *Definition, sess *authz.Session, roomID string) (*authz.Decision, error) {
	ttl := time.Duration(def.Spec.Guardrails.AuthCacheTTL) * time.Second
	cache := h.deps.Cache
	// The session is part of the key: a user whose role or claims changed
	// is authorized afresh rather than on a grant made for other claims.
	cacheUser := sess.UserID + "\x00" + sessionFingerprint(sess)
	if ttl > 0 && cache != nil {
		cd, ok, err := cache.Get(ctx, h.name, roomID, cacheUser)
		if err != nil {
			h.log.Warn("auth cache read failed", zap.Error(err))
		}
		if ok && err == nil {
			dec := cd.Decision()
			h.countDecision(dec, nil)
			return dec, nil
		}
	}
	dec, err := h.authorizer().Authorize(ctx, def.Policy, sess, roomID)
	h.countDecision(dec, err)
	if err != nil {
		var d *authz.Denied
		if errors.As(err, &d) {
			h.log.Debug("authorization denied", zap.String("layer", d.Layer), zap.String("code", d.Code),
				zap.String("user", sess.UserID), zap.Error(d.Err))
		}
		return nil, err
	}
	if ttl > 0 && cache != nil {
		if err := cache.Set(ctx, h.name, roomID, cacheUser, authz.NewCachedDecision(dec), ttl); err != nil {
			h.log.Warn("auth cache write failed", zap.Error(err))
		}
	}
	return dec, nil
}

// InvalidateAuthCache drops the hub's cached decisions (its spec changed).
func (h *Hub) InvalidateAuthCache(ctx context.Context) error {
	if h.deps.Cache == nil {
		return nil
	}
	return h.deps.Cache.InvalidateHub(ctx, h.name)
}

// volatileClaims change with every token of the same session; they do not
// take part in authorization.
var volatileClaims = map[string]bool{"exp": true, "iat": true, "nbf": true, "jti": true}

// sessionFingerprint is a short hash of the session's claims (without the
// volatile ones), so cached grants are per distinct session content.
func sessionFingerprint(sess *authz.Session) string {
	keys := make([]string, 0, len(sess.Claims))
	for k := range sess.Claims {
		if !volatileClaims[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	h := sha256.New()
	for _, k := range keys {
		b, _ := json.Marshal(sess.Claims[k])
		h.Write([]byte(k))
		h.Write([]byte{0})
		h.Write(b)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}
