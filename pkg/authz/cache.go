package authz

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/hubd/hubd/pkg/records"
)

// CachedDecision is a Decision as stored by a Cache, without its room
// record: a cached grant counts only on the room as it is now (RoomHash),
// which the caller has loaded anyway. It is JSON-serializable so shared
// caches can hold it; entries written with a "room" field decode as well.
type CachedDecision struct {
	HubRole     string      `json:"hubRole"`
	Permissions Permissions `json:"permissions"`
	Layer       string      `json:"layer"`
	Source      string      `json:"source,omitempty"`
	// RoomHash is the RecordFingerprint of the room record the decision
	// was made on; a grant made on another version of the room is stale.
	RoomHash string `json:"roomHash,omitempty"`
}

// RecordFingerprint is a short hash of a record's content (keys sorted),
// so that a cached grant can be checked against the room as it is now.
func RecordFingerprint(r records.Record) string {
	b, err := json.Marshal(r)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

// Cache holds room authorization decisions per (hub, room, user) for the
// hub's authCacheTTL. A TTL of zero or less disables caching: Set does
// nothing. Implementations are safe for concurrent use.
//
// Get reports a miss with ok false. An error from Get (a shared cache that
// cannot be reached) must be handled as a miss, never as an allow; the
// caller logs it and authorizes normally. Set returns its errors.
// InvalidateHub forgets every decision of hub; the daemon calls it when a
// reload changes the hub's spec.
type Cache interface {
	Get(ctx context.Context, hub, roomID, userID string) (*CachedDecision, bool, error)
	Set(ctx context.Context, hub, roomID, userID string, d *CachedDecision, ttl time.Duration) error
	InvalidateHub(ctx context.Context, hub string) error
}

// NewCachedDecision copies d for caching, its room as a fingerprint.
func NewCachedDecision(d *Decision) *CachedDecision {
	return &CachedDecision{
		HubRole:     d.HubRole,
		Permissions: clonePermissions(d.Permissions),
		Layer:       d.Layer,
		Source:      d.Source,
		RoomHash:    RecordFingerprint(d.Room),
	}
}

// Decision returns a copy of the cached decision made on room, the record
// whose fingerprint the caller has checked against RoomHash.
func (c *CachedDecision) Decision(room records.Record) *Decision {
	return &Decision{
		HubRole:     c.HubRole,
		Permissions: clonePermissions(c.Permissions),
		Layer:       c.Layer,
		Source:      c.Source,
		Room:        room,
	}
}

// clone deep-copies c.
func (c *CachedDecision) clone() *CachedDecision {
	d := *c
	d.Permissions = clonePermissions(c.Permissions)
	return &d
}

func clonePermissions(p Permissions) Permissions {
	p.AllowedMessageTypes = slices.Clone(p.AllowedMessageTypes)
	if p.AllowedMessageTypes == nil {
		p.AllowedMessageTypes = []string{}
	}
	return p
}

// encodeDecision and decodeDecision are the wire form of shared caches.
func encodeDecision(d *CachedDecision) ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("authz: encode cached decision: %w", err)
	}
	return b, nil
}

func decodeDecision(b []byte) (*CachedDecision, error) {
	var d CachedDecision
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("authz: decode cached decision: %w", err)
	}
	if d.Permissions.AllowedMessageTypes == nil {
		d.Permissions.AllowedMessageTypes = []string{}
	}
	return &d, nil
}
