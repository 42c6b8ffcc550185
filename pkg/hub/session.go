package hub

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/authz"
)

// tokenWarning is how long before its token expires a socket is told to
// refresh it.
const tokenWarning = 30 * time.Second

// armExpiry schedules the end of a socket's session at its token's expiry:
// hub:tokenExpiring first, then a disconnect unless hub:refreshToken
// brought a later token. Called with c.mu held or before the client is
// shared. The deadline is the client's slot in the hub's one deadline queue
// (pkg/deadline), not a runtime timer per socket.
func (h *Hub) armExpiry(c *client) {
	exp := c.sess.ExpiresAt
	if exp.IsZero() {
		h.expiries.Stop(c)
		return
	}
	h.expiries.At(c, exp.Add(-tokenWarning)) // at once when under tokenWarning
}

// tokenDeadline runs when a socket's expiry deadline has passed: before its
// token's expiry it warns (hub:tokenExpiring) and sets the deadline at the
// expiry; after, it ends the session. It runs on the queue's goroutine and
// hands the socket's work to a task of the hub.
func (h *Hub) tokenDeadline(c *client) {
	c.mu.Lock()
	if h.expiries.Pending(c) || c.sess.ExpiresAt.IsZero() {
		c.mu.Unlock()
		return // refreshed since this deadline was taken
	}
	s, sess := c.sock, c.sess
	exp := sess.ExpiresAt
	left := time.Until(exp)
	if left > 0 {
		h.expiries.At(c, exp)
	}
	c.mu.Unlock()
	if left > 0 {
		h.spawn(func(context.Context) {
			h.emitSocket(s, outTokenExpiring.Of(TokenExpiring{ExpiresAt: exp.UTC().Format(time.RFC3339)}))
		})
		return
	}
	h.spawn(func(context.Context) {
		h.log.Debug("token expired", zap.String("user", sess.UserID))
		h.emitSocket(s, errorEvent(newError(CodeInvalidToken, "token expired"), "hub:refreshToken", ""))
		s.Disconnect("token expired")
	})
}

type refreshRequest struct {
	Token string `json:"token"`
}

// handleRefreshToken replaces the socket's session with a newer token of
// the same user, so that the connection outlives the first token.
func (h *Hub) handleRefreshToken(ctx context.Context, in *call) (map[string]any, error) {
	var req refreshRequest
	if err := decode(in.payload, &req); err != nil {
		return nil, err
	}
	if req.Token == "" {
		return nil, newError(CodeAuthRequired, "token is required")
	}
	sess, err := h.resolveSession(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	c := in.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if sess.UserID != c.sess.UserID {
		return nil, newError(CodeInvalidToken, "token is for another user")
	}
	c.sess = sess
	h.armExpiry(c)
	res := map[string]any{}
	if !sess.ExpiresAt.IsZero() {
		res["expiresAt"] = sess.ExpiresAt.UTC().Format(time.RFC3339)
	}
	return res, nil
}

// resolveSession verifies a token and resolves its session.
func (h *Hub) resolveSession(ctx context.Context, token string) (*authz.Session, error) {
	sess, err := ResolveSession(ctx, h.deps, token)
	if err != nil {
		h.log.Debug("token rejected", zap.Error(err))
	}
	return sess, err
}

// ResolveSession verifies a token and resolves its session with the
// configured resolver; errors are *Error (INVALID_TOKEN or UNAVAILABLE).
// Sockets and REST calls share it.
func ResolveSession(ctx context.Context, deps Deps, token string) (*authz.Session, error) {
	sess, err := deps.Verifier.Verify(token)
	if err != nil {
		return nil, wrapError(CodeInvalidToken, "Invalid token", err)
	}
	if deps.Sessions != nil {
		if sess, err = deps.Sessions.Resolve(ctx, token, sess); err != nil {
			code := CodeInvalidToken
			if isUnavailable(err) {
				code = CodeUnavailable
			}
			return nil, wrapError(code, "Invalid token", err)
		}
	}
	return sess, nil
}
