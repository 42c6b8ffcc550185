package hub

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/authz"
)

func TestSessionFingerprintKeysTheAuthCache(t *testing.T) {
	fp := func(claims map[string]any) string {
		return sessionFingerprint(&authz.Session{UserID: "u1", Claims: claims})
	}
	base := fp(map[string]any{"userId": "u1", "roleId": "user", "tier": "gold", "exp": 1, "iat": 1})
	require.Equal(t, base, fp(map[string]any{"iat": 2, "exp": 99, "tier": "gold", "roleId": "user", "userId": "u1"}),
		"a refreshed token of the same session hits the same grants")
	require.NotEqual(t, base, fp(map[string]any{"userId": "u1", "roleId": "admin", "tier": "gold"}), "role change")
	require.NotEqual(t, base, fp(map[string]any{"userId": "u1", "roleId": "user", "tier": "silver"}), "claim change")
	require.NotEqual(t, base, fp(map[string]any{"userId": "u1", "roleId": "user", "tier": "gold", "banned": true}), "claim added")
}
