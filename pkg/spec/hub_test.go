package spec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

const fullSpec = `
hubBasics:
  name: fullHub
roomSettings:
  roomDataObject: room
  roomEligibility: room.open
  checkScript: user.ok
  authSources:
    - name: owner
      sourceObject: room
      userField: ownerId
      roomField: id
      hubRole: owner
    - name: member
      sourceObject: roomMember
      userField: userId
      roomField: roomId
      condition: roomMember.active
  authScripts:
    - name: guest
      script: room.isPublic
hubRoles:
  - name: owner
    canModerate: true
  - name: writer
    allowedMessageTypes: " text , bid,"
messageSettings:
  messageTypes: [text, image]
  customMessageTypes:
    - name: bid
      fields:
        - name: currency
          fieldType: Enum
          enumValues: " usd, eur ,,gbp "
eventSettings:
  kafkaEvents:
    - name: statusChanged
      topic: t
      filterExpression: data.kind == "status"
      targetRoomExpression: data.roomId
    - name: all
      topic: u
      targetRoomExpression: data.roomId
hubLogic:
  stateScript: lib.state(roomId)
  messageHandlers:
    - messageType: bid
      script: lib.bid(message)
  scheduledActions:
    - name: tick
      intervalMs: 100
      script: lib.tick(roomId)
`

func TestAllScripts(t *testing.T) {
	h := mustParse(t, fullSpec)
	require.Equal(t, []ScriptRef{
		{"roomSettings.roomEligibility", "room.open"},
		{"roomSettings.checkScript", "user.ok"},
		{"roomSettings.authSources[1].condition", "roomMember.active"},
		{"roomSettings.authScripts[0].script", "room.isPublic"},
		{"eventSettings.kafkaEvents[0].filterExpression", `data.kind == "status"`},
		{"eventSettings.kafkaEvents[0].targetRoomExpression", "data.roomId"},
		{"eventSettings.kafkaEvents[1].targetRoomExpression", "data.roomId"},
		{"hubLogic.stateScript", "lib.state(roomId)"},
		{"hubLogic.messageHandlers[0].script", "lib.bid(message)"},
		{"hubLogic.scheduledActions[0].script", "lib.tick(roomId)"},
	}, AllScripts(h))
}

func TestRoleLookup(t *testing.T) {
	h := mustParse(t, fullSpec)
	tests := []struct {
		name   string
		want   HubRole
		wantOK bool
	}{
		{"owner", HubRole{Name: "owner", CanRead: true, CanSend: true, CanModerate: true}, true},
		{"system", SystemRole(), true},
		{"", DefaultRole(), true},
		{"ghost", HubRole{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, ok := h.Role(tc.name)
			require.Equal(t, tc.wantOK, ok)
			if ok {
				require.Equal(t, tc.want, *r)
			}
		})
	}
	sys := SystemRole()
	require.Equal(t, HubRole{Name: "system", CanRead: true, CanSend: true, CanModerate: true, CanDeleteAny: true, CanManageRoom: true}, sys)
}

func TestListsAndLookups(t *testing.T) {
	h := mustParse(t, fullSpec)
	writer, _ := h.Role("writer")
	require.Equal(t, []string{"text", "bid"}, writer.AllowedTypes())
	owner, _ := h.Role("owner")
	require.Nil(t, owner.AllowedTypes())

	ct, ok := h.CustomType("bid")
	require.True(t, ok)
	require.Equal(t, []string{"usd", "eur", "gbp"}, ct.Fields[0].EnumList())
	_, ok = h.CustomType("text")
	require.False(t, ok)

	for typ, want := range map[string]bool{"text": true, "image": true, "bid": true, "video": false, "system": false, "": false} {
		require.Equal(t, want, h.MessageTypeEnabled(typ), typ)
	}

	hd, ok := h.Handler("bid")
	require.True(t, ok)
	require.Equal(t, MScript("lib.bid(message)"), hd.Script)
	_, ok = h.Handler("text")
	require.False(t, ok)
}
