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
	"github.com/hubd/hubd/pkg/records"
)

// authorize runs the layered room authorization. roomEligibility and the
// gates before the sources (absoluteRoles, checkRoles, checkScript) run on
// every call; only what authSources and authScripts decided is cached, for
// authCacheTTL, and a cached grant counts only while the room record is
// the one it was made on. A cache failure counts as a miss (never as an
// allow).
func (h *Hub) authorize(ctx context.Context, def *Definition, sess *authz.Session, roomID string) (*authz.Decision, error) {
	auth := h.authorizer()
	room, err := auth.Room(ctx, def.Policy, roomID)
	if err != nil {
		return nil, h.denied(sess, err)
	}
	roomHash := authz.RecordFingerprint(room)
	room = h.sharedRecord(roomID, room, roomHash)
	dec, err := auth.Gate(ctx, def.Policy, sess, roomID, room)
	if err != nil {
		return nil, h.denied(sess, err)
	}
	if dec != nil {
		h.countDecision(dec, nil)
		return dec, nil
	}
	ttl := time.Duration(def.Spec.Guardrails.AuthCacheTTL) * time.Second
	cache := h.deps.Cache
	if ttl <= 0 {
		cache = nil
	}
	// The session is part of the key: a user whose role or claims changed
	// is authorized afresh rather than on a grant made for other claims.
	cacheUser := sess.UserID + "\x00" + sessionFingerprint(sess)
	if cache != nil {
		cd, ok, err := cache.Get(ctx, h.name, roomID, cacheUser)
		if err != nil {
			h.log.Warn("auth cache read failed", zap.Error(err))
		}
		if ok && err == nil && cd.RoomHash == roomHash {
			dec := cd.Decision(room)
			h.countDecision(dec, nil)
			return dec, nil
		}
	}
	dec, err = auth.Sources(ctx, def.Policy, sess, roomID, room)
	if err != nil {
		return nil, h.denied(sess, err)
	}
	h.countDecision(dec, nil)
	if cache != nil {
		if err := cache.Set(ctx, h.name, roomID, cacheUser, authz.NewCachedDecision(dec), ttl); err != nil {
			h.log.Warn("auth cache write failed", zap.Error(err))
		}
	}
	return dec, nil
}

// sharedRecord returns the room record the room's members already hold
// when rec has the same content (hash), else makes rec the shared one: a
// decision keeps its room record for as long as the member stays, and one
// copy per room is enough. Records are snapshots that are replaced, never
// changed in place (see frozenCache), so sharing one is safe; a record
// that changed since is not the same content and replaces it.
func (h *Hub) sharedRecord(roomID string, rec records.Record, hash string) records.Record {
	r := h.room(roomID)
	if r == nil || rec == nil || hash == "" {
		return rec
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.recordHash == hash {
		return r.record
	}
	r.record, r.recordHash = rec, hash
	return rec
}

// denied counts and logs a refused authorization and returns err.
func (h *Hub) denied(sess *authz.Session, err error) error {
	h.countDecision(nil, err)
	var d *authz.Denied
	if errors.As(err, &d) {
		h.log.Debug("authorization denied", zap.String("layer", d.Layer), zap.String("code", d.Code),
			zap.String("user", sess.UserID), zap.Error(d.Err))
	}
	return err
}

// InvalidateAuthCache drops the hub's cached decisions (its spec or the
// records changed).
func (h *Hub) InvalidateAuthCache(ctx context.Context) error {
	if h.deps.Cache == nil {
		return nil
	}
	return h.deps.Cache.InvalidateHub(ctx, h.name)
}

// dropGrants invalidates the hub's cached grants after a membership or
// room change, logging a failure (the grants then expire with their TTL).
// The cache has no per-user delete; a generation bump is cheap.
func (h *Hub) dropGrants() {
	ctx, cancel := context.WithTimeout(context.Background(), h.deps.OpTimeout)
	defer cancel()
	if err := h.InvalidateAuthCache(ctx); err != nil {
		h.log.Warn("auth cache invalidation failed", zap.Error(err))
	}
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
