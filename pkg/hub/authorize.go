package hub

import (
	"context"
	"errors"
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
	// The role is part of the key: a user whose roleId changed is
	// authorized afresh rather than on a grant made for the old role.
	cacheUser := sess.UserID + "\x00" + sess.RoleID
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
