package authz_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/spec"
)

// roomHub exercises every layer: eligibility, absoluteRoles, checkRoles,
// checkScript, two authSources (the first with a condition) and two
// authScripts (the second with a null hubRole).
const roomHub = `
hubBasics: {name: eventHub}
roomSettings:
  roomDataObject: catalogEvent
  roomEligibility: catalogEvent.chatEnabled == true
  absoluteRoles: [superAdmin]
  checkRoles: [user, premium, superAdmin]
  checkScript: user.banned != true
  authSources:
    - {name: eventOwner, sourceObject: catalogEvent, userField: ownerId, roomField: id, hubRole: host}
    - name: ticketHolder
      sourceObject: issuedTicket
      userField: userId
      roomField: eventId
      condition: issuedTicket.status == "active" && record.status == "active"
      hubRole: attendee
  authScripts:
    - {name: vip, script: 'user.tier == "gold" && room.isPublic', hubRole: attendee}
    - {name: publicGuest, script: room.isPublic == true && user.guest == "yes"}
messageSettings: {messageTypes: [text, image, video]}
hubRoles:
  - {name: host, canModerate: true, canManageRoom: true}
  - {name: attendee, allowedMessageTypes: "text,image", moderated: true}
`

func writeFixtures(t *testing.T) (*spec.Hub, *records.Embedded) {
	t.Helper()
	dir := t.TempDir()
	hubFile := filepath.Join(dir, "event.yaml")
	require.NoError(t, os.WriteFile(hubFile, []byte(roomHub), 0o600))
	h, err := spec.LoadFile(hubFile, spec.LoadOptions{CompileScript: func(src string) error {
		_, err := scripting.Compile(src)
		return err
	}})
	require.NoError(t, err)

	recDir := filepath.Join(dir, "records")
	require.NoError(t, os.Mkdir(recDir, 0o700))
	write := func(name string, v any) {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(recDir, name+".json"), b, 0o600))
	}
	write("catalogEvent", []map[string]any{
		{"id": "e1", "ownerId": "owner", "chatEnabled": true, "isPublic": false},
		{"id": "e2", "ownerId": "owner", "chatEnabled": false, "isPublic": true},
		{"id": "e3", "ownerId": "owner", "chatEnabled": true, "isPublic": true},
	})
	write("issuedTicket", []map[string]any{
		{"id": "t1", "eventId": "e1", "userId": "holder", "status": "active"},
		{"id": "t2", "eventId": "e1", "userId": "refunded", "status": "refunded"},
		// The owner also holds a ticket: the first source must win.
		{"id": "t3", "eventId": "e1", "userId": "owner", "status": "active"},
	})
	src, err := records.NewEmbedded(recDir)
	require.NoError(t, err)
	return h, src
}

func TestAuthorizeLayers(t *testing.T) {
	h, src := writeFixtures(t)
	eng, err := scripting.NewEngine(scripting.Options{Runtimes: 2})
	require.NoError(t, err)
	t.Cleanup(eng.Close)
	pol, err := authz.Compile(h)
	require.NoError(t, err)
	a := &authz.Authorizer{Records: src, Scripts: eng}

	sess := func(user, role string, claims map[string]any) *authz.Session {
		c := map[string]any{"userId": user, "roleId": role}
		for k, v := range claims {
			c[k] = v
		}
		return &authz.Session{UserID: user, RoleID: role, Claims: c}
	}

	tests := []struct {
		name      string
		sess      *authz.Session
		room      string
		wantCode  string // denial code, "" when allowed
		wantLayer string
		wantRole  string
		wantPerms func(t *testing.T, p authz.Permissions)
	}{
		{name: "missing room", sess: sess("holder", "user", nil), room: "nope",
			wantCode: authz.CodeRoomNotFound, wantLayer: authz.LayerEligibility},
		{name: "eligibility beats absoluteRoles", sess: sess("admin", "superAdmin", nil), room: "e2",
			wantCode: authz.CodeRoomNotEligible, wantLayer: authz.LayerEligibility},
		{name: "absoluteRoles get the system role", sess: sess("admin", "superAdmin", nil), room: "e1",
			wantLayer: authz.LayerAbsoluteRoles, wantRole: "system",
			wantPerms: func(t *testing.T, p authz.Permissions) {
				require.True(t, p.CanModerate && p.CanDeleteAny && p.CanManageRoom && p.CanSend && p.CanRead)
			}},
		{name: "absoluteRoles skip checkScript", sess: sess("admin", "superAdmin", map[string]any{"banned": true}), room: "e1",
			wantLayer: authz.LayerAbsoluteRoles, wantRole: "system"},
		{name: "checkRoles before sources", sess: sess("owner", "guestRole", nil), room: "e1",
			wantCode: authz.CodeForbidden, wantLayer: authz.LayerCheckRoles},
		{name: "checkScript false", sess: sess("owner", "user", map[string]any{"banned": true}), room: "e1",
			wantCode: authz.CodeForbidden, wantLayer: authz.LayerCheckScript},
		{name: "first source wins", sess: sess("owner", "user", nil), room: "e1",
			wantLayer: authz.LayerAuthSource, wantRole: "host",
			wantPerms: func(t *testing.T, p authz.Permissions) { require.True(t, p.CanModerate) }},
		{name: "second source with condition", sess: sess("holder", "premium", nil), room: "e1",
			wantLayer: authz.LayerAuthSource, wantRole: "attendee",
			wantPerms: func(t *testing.T, p authz.Permissions) {
				require.Equal(t, []string{"text", "image"}, p.AllowedMessageTypes)
				require.True(t, p.Moderated)
				require.False(t, p.CanModerate)
			}},
		{name: "condition false falls through to nothing", sess: sess("refunded", "user", nil), room: "e1",
			wantCode: authz.CodeForbidden, wantLayer: authz.LayerNone},
		{name: "authScript grants its role", sess: sess("goldie", "user", map[string]any{"tier": "gold"}), room: "e3",
			wantLayer: authz.LayerAuthScript, wantRole: "attendee"},
		{name: "authScript false on private room", sess: sess("goldie", "user", map[string]any{"tier": "gold"}), room: "e1",
			wantCode: authz.CodeForbidden, wantLayer: authz.LayerNone},
		{name: "null hubRole: default permissions", sess: sess("guest", "user", map[string]any{"guest": "yes"}), room: "e3",
			wantLayer: authz.LayerAuthScript, wantRole: "",
			wantPerms: func(t *testing.T, p authz.Permissions) {
				require.Equal(t, authz.DefaultPermissions(), p)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dec, err := a.Authorize(context.Background(), pol, tc.sess, tc.room)
			if tc.wantCode != "" {
				var d *authz.Denied
				require.True(t, errors.As(err, &d), "want denial, got %v", err)
				require.Equal(t, tc.wantCode, d.Code)
				require.Equal(t, tc.wantLayer, d.Layer)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantLayer, dec.Layer)
			require.Equal(t, tc.wantRole, dec.HubRole)
			if tc.wantPerms != nil {
				tc.wantPerms(t, dec.Permissions)
			}
		})
	}
}

// failingSource is a record backend that is down.
type failingSource struct{}

func (failingSource) Get(context.Context, string, string) (records.Record, error) {
	return nil, records.ErrUnavailable
}

func (failingSource) FindOne(context.Context, string, map[string]string) (records.Record, error) {
	return nil, records.ErrUnavailable
}

func TestAuthorizeBackendDownIsUnavailable(t *testing.T) {
	h, _ := writeFixtures(t)
	eng, err := scripting.NewEngine(scripting.Options{Runtimes: 1})
	require.NoError(t, err)
	t.Cleanup(eng.Close)
	pol, err := authz.Compile(h)
	require.NoError(t, err)
	a := &authz.Authorizer{Records: failingSource{}, Scripts: eng}
	_, err = a.Authorize(context.Background(), pol, &authz.Session{UserID: "u", RoleID: "user", Claims: map[string]any{}}, "e1")
	var d *authz.Denied
	require.True(t, errors.As(err, &d))
	require.Equal(t, authz.CodeUnavailable, d.Code)
	require.ErrorIs(t, err, records.ErrUnavailable)
}
