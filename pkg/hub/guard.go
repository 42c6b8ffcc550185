package hub

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// Ephemeral signals (typing, recording, presence, custom ephemeral events)
// are capped per user and hub, so that one client cannot flood a room.
const (
	signalRateLimit  = 30
	signalRateWindow = 10 * time.Second
)

// checkMessageRate enforces messageRateLimit: messages per user per
// minute across the hub's rooms. A limiter failure falls back to the
// node-local limiter, never to unlimited.
func (h *Hub) checkMessageRate(ctx context.Context, userID string) error {
	return h.checkMessageRateKey(ctx, h.messageRateKey(userID))
}

// checkMessageRateKey is checkMessageRate with the user's key made
// (a joined member keeps it: see member.msgKey).
func (h *Hub) checkMessageRateKey(ctx context.Context, key string) error {
	limit := h.Spec().Guardrails.MessageRateLimit
	if limit <= 0 {
		return nil
	}
	return h.rate(ctx, key, limit, time.Minute, "message rate limit exceeded")
}

// messageRateKey is the message rate limiter's key of a user of the hub.
func (h *Hub) messageRateKey(userID string) string { return "msg:" + h.name + ":" + userID }

// checkSignalRate enforces the cap on ephemeral signals.
func (h *Hub) checkSignalRate(ctx context.Context, userID string) error {
	return h.rate(ctx, "sig:"+h.name+":"+userID, signalRateLimit, signalRateWindow, "event rate limit exceeded")
}

func (h *Hub) rate(ctx context.Context, key string, limit int, window time.Duration, msg string) error {
	res, err := h.deps.Limiter.Allow(ctx, key, limit, window)
	if err != nil {
		h.log.Warn("rate limiter failed, using the local limiter", zap.Error(err))
		res, _ = h.localLimiter.Allow(ctx, key, limit, window)
	}
	if res.Allowed {
		return nil
	}
	retry := res.RetryAfter.Milliseconds()
	if retry < 1 {
		retry = 1
	}
	return &Error{Code: CodeRateLimited, Message: msg, RetryAfterMs: retry}
}
