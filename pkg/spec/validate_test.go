package spec

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// badSpecs maps each fixture in testdata/bad to the errors it must produce
// (without the file prefix, which is checked separately).
var badSpecs = []struct {
	file string
	errs []string
}{
	{"unknown_field.yaml", []string{"hubRoles[1].canSnd: unknown field"}},
	{"unknown_section.yaml", []string{"hubSettings: unknown field"}},
	{"json_unknown.json", []string{
		"hubBasics.title: unknown field",
		"roomSettings.authSources[0].role: unknown field",
	}},
	{"json_duplicate_key.json", []string{"hubRoles[0].canSend: duplicate key"}},
	{"type_mismatch.yaml", []string{
		"guardrails.maxUsersPerRoom: expected integer, got string",
		"hubRoles[0].canSend: expected boolean, got string",
		"messageSettings.messageTypes: expected array, got string",
	}},
	{"not_integer.yaml", []string{"historySettings.historyLimit: expected integer, got 2.5"}},
	{"missing_name.yaml", []string{"hubBasics.name: required"}},
	{"bad_hub_name.yaml", []string{`hubBasics.name: invalid hub name "Chat-Hub": must be camelCase (letters and digits, starting with a lowercase letter)`}},
	{"reserved_name.yaml", []string{`hubBasics.name: hub name "metrics" is reserved by the daemon`}},
	{"missing_room_object.yaml", []string{"roomSettings.roomDataObject: required"}},
	{"bad_code_name.yaml", []string{`messageSettings.dataObjectName: invalid code name "chat-message": letters and digits only, starting with a letter`}},
	{"auth_source_required.yaml", []string{
		"roomSettings.authSources[0].sourceObject: required",
		"roomSettings.authSources[0].userField: required",
		"roomSettings.authSources[0].roomField: required",
	}},
	{"auth_source_bad_field.yaml", []string{
		`roomSettings.authSources[0].sourceObject: invalid code name "chat member": letters and digits only, starting with a letter`,
		`roomSettings.authSources[0].userField: invalid property name "user id"`,
	}},
	{"undefined_role.yaml", []string{
		`roomSettings.authSources[0].hubRole: undefined role "admin"`,
		`roomSettings.authScripts[0].hubRole: undefined role "guest"`,
	}},
	{"auth_script_required.yaml", []string{"roomSettings.authScripts[0].script: required"}},
	{"duplicate_auth_source.yaml", []string{`roomSettings.authSources[1].name: duplicate auth source "member"`}},
	{"duplicate_auth_script.yaml", []string{`roomSettings.authScripts[1].name: duplicate auth script "guest"`}},
	{"duplicate_absolute_role.yaml", []string{`roomSettings.absoluteRoles[1]: duplicate role "superAdmin"`}},
	{"duplicate_role.yaml", []string{`hubRoles[2].name: duplicate role "mod"`}},
	{"system_role.yaml", []string{`hubRoles[0].name: role name "system" is reserved for the built-in system role`}},
	{"unknown_message_type.yaml", []string{`messageSettings.messageTypes[1]: unknown message type "gif" (built-in types: text, image, video, audio, document, sticker, contact, location, system)`}},
	{"duplicate_message_type.yaml", []string{`messageSettings.messageTypes[2]: duplicate message type "text"`}},
	{"custom_collides_builtin.yaml", []string{`messageSettings.customMessageTypes[0].name: custom message type "image" collides with the built-in type`}},
	{"duplicate_custom_type.yaml", []string{`messageSettings.customMessageTypes[1].name: duplicate custom message type "bid"`}},
	{"bad_custom_type_name.yaml", []string{`messageSettings.customMessageTypes[0].name: invalid name "chess-move": must be a JavaScript identifier`}},
	{"duplicate_field.yaml", []string{`messageSettings.customMessageTypes[0].fields[1].name: duplicate field "amount"`}},
	{"bad_field_name.yaml", []string{
		`messageSettings.customMessageTypes[0].fields[0].name: invalid name "bid-amount": must be a JavaScript identifier`,
		`messageSettings.customMessageTypes[0].fields[1].name: invalid name "class": must be a JavaScript identifier`,
	}},
	{"unknown_field_type.yaml", []string{
		`messageSettings.customMessageTypes[0].fields[0].fieldType: unknown field type "Money" (one of String, Text, Integer, Decimal, Boolean, ID, DateTime, Enum, JSON)`,
		`messageSettings.customMessageTypes[0].fields[1].fieldType: required`,
	}},
	{"enum_without_values.yaml", []string{"messageSettings.customMessageTypes[0].fields[0].enumValues: required for an Enum field"}},
	{"bad_default.yaml", []string{
		"messageSettings.customMessageTypes[0].fields[0].defaultValue: invalid Enum default: must be one of pawn, rook",
		`messageSettings.customMessageTypes[0].fields[1].defaultValue: invalid Integer default: "abc" is not an integer`,
		`messageSettings.customMessageTypes[0].fields[2].defaultValue: invalid Boolean default: "yes" is not true or false`,
		"messageSettings.customMessageTypes[0].fields[3].defaultValue: invalid JSON default: expected a JSON object or array",
		"messageSettings.customMessageTypes[0].fields[4].defaultValue: invalid ID default: expected a UUID or a 24-hex ObjectId",
		"messageSettings.customMessageTypes[0].fields[5].defaultValue: invalid DateTime default: expected an ISO 8601 (RFC 3339) date-time",
		`messageSettings.customMessageTypes[0].fields[6].defaultValue: invalid Decimal default: "NaN" is not a number`,
		"messageSettings.customMessageTypes[0].fields[7].defaultValue: invalid String default: longer than 255 characters",
	}},
	{"allowed_type_not_enabled.yaml", []string{`hubRoles[0].allowedMessageTypes: message type "video" is not enabled in this hub`}},
	{"handler_not_custom.yaml", []string{`hubLogic.messageHandlers[0].messageType: "text" is not a custom message type of this hub`}},
	{"duplicate_handler.yaml", []string{`hubLogic.messageHandlers[1].messageType: duplicate handler for message type "move"`}},
	{"handler_required.yaml", []string{
		"hubLogic.messageHandlers[0].messageType: required",
		"hubLogic.messageHandlers[1].messageType: required",
		"hubLogic.messageHandlers[1].script: required",
	}},
	{"scheduled_action.yaml", []string{
		"hubLogic.scheduledActions[0].name: required",
		"hubLogic.scheduledActions[0].intervalMs: must be greater than 0, got 0",
		"hubLogic.scheduledActions[0].script: required",
		"hubLogic.scheduledActions[1].intervalMs: must be greater than 0, got -5",
	}},
	{"duplicate_scheduled_action.yaml", []string{`hubLogic.scheduledActions[1].name: duplicate scheduled action "tick"`}},
	{"kafka_required.yaml", []string{
		"eventSettings.kafkaEvents[0].topic: required",
		"eventSettings.kafkaEvents[0].targetRoomExpression: required",
	}},
	{"duplicate_kafka_event.yaml", []string{`eventSettings.kafkaEvents[1].name: duplicate kafka event "statusChanged"`}},
	{"custom_event.yaml", []string{
		`eventSettings.customEvents[0].direction: unknown direction "sideways" (one of clientToRoom, serverToClient, serverToRoom)`,
		"eventSettings.customEvents[1].name: required",
		`eventSettings.customEvents[2].name: custom event "typing" collides with the standard event enabled by eventSettings.enableTypingIndicator (set it to false to use the name)`,
		"eventSettings.customEvents[3].direction: required",
	}},
	{"duplicate_custom_event.yaml", []string{`eventSettings.customEvents[1].name: duplicate custom event "nudge"`}},
	{"custom_event_message_type.yaml", []string{
		`eventSettings.customEvents[0].name: custom event "image" collides with the built-in message type`,
		`eventSettings.customEvents[1].name: custom event "move" collides with the custom message type`,
	}},
	{"guardrails.yaml", []string{
		"guardrails.maxUsersPerRoom: must be greater than 0, got -1",
		"guardrails.maxMessageSize: must be greater than 0, got 0",
		"guardrails.messageRateLimit: must not be negative, got -2",
		"guardrails.authCacheTTL: must not be negative, got -1",
		"historySettings.historyLimit: must not be negative, got -1",
	}},
	{"script_compile.yaml", []string{
		"roomSettings.roomEligibility: does not compile: SyntaxError",
		"hubLogic.stateScript: does not compile: SyntaxError",
	}},
	{"yaml_syntax.yaml", []string{"parse yaml: yaml: line 5: did not find expected '-' indicator"}},
	{"duplicate_key.yaml", []string{`parse yaml: yaml: unmarshal errors: line 5: key "hubBasics" already set in map`}},
	{"not_object.yaml", []string{"expected a RealtimeHub object at the top level, got array"}},
	{"empty.yaml", []string{"empty spec"}},
	{"trailing.json", []string{"parse json: unexpected data after the top-level value"}},
	{"many_errors.yaml", []string{
		`hubBasics.name: invalid hub name "Bad Name": must be camelCase (letters and digits, starting with a lowercase letter)`,
		"roomSettings.roomDataObject: required",
		"roomSettings.authSources[0].sourceObject: required",
		"roomSettings.authSources[0].userField: required",
		"roomSettings.authSources[0].roomField: required",
		`roomSettings.authSources[0].hubRole: undefined role "ghost"`,
		`hubRoles[1].name: duplicate role "x"`,
		"guardrails.maxMessageSize: must be greater than 0, got 0",
	}},
}

func TestBadSpecs(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range badSpecs {
		covered[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join("testdata", "bad", tc.file)
			h, err := LoadFile(path, testOpts)
			require.Nil(t, h)
			var list ErrorList
			require.True(t, errors.As(err, &list), "want ErrorList, got %T: %v", err, err)
			// Every expected error appears, in order, and nothing else.
			require.Len(t, list, len(tc.errs), "errors:\n%v", list)
			for i, want := range tc.errs {
				require.Equal(t, path, list[i].File)
				require.True(t, strings.HasPrefix(list[i].Error(), path+": "+want),
					"error %d:\n got %s\nwant %s: %s", i, list[i].Error(), path, want)
			}
		})
	}
	// Every fixture is in the table.
	files, err := os.ReadDir(filepath.Join("testdata", "bad"))
	require.NoError(t, err)
	for _, f := range files {
		require.True(t, covered[f.Name()], "fixture %s has no expected errors", f.Name())
	}
}

func TestReservedNamesOption(t *testing.T) {
	doc := strings.Replace(minimal, "chatHub", "admin", 1)
	_, errs := parse("hub.yaml", []byte(doc), LoadOptions{ReservedNames: []string{"admin"}})
	require.Equal(t, `hub.yaml: hubBasics.name: hub name "admin" is reserved by the daemon`, errs.Error())

	h, errs := parse("hub.yaml", []byte(doc), LoadOptions{})
	require.Empty(t, errs)
	require.Equal(t, "admin", h.Name())
}

func TestRoleReferencesAllowed(t *testing.T) {
	h := mustParse(t, minimal+`  authScripts:
    - name: staff
      script: user.roleId == "staff"
      hubRole: system
    - name: anyone
      script: "true"
      hubRole: null
    - name: blank
      script: "true"
      hubRole: ""
`)
	require.Equal(t, "system", h.RoomSettings.AuthScripts[0].HubRole)
	require.Equal(t, "", h.RoomSettings.AuthScripts[1].HubRole)
}

func TestCompileScriptReceivesEveryScript(t *testing.T) {
	var got []string
	opts := LoadOptions{CompileScript: func(src string) error {
		got = append(got, src)
		return nil
	}}
	_, errs := parse("game.yaml", mustRead(t, "../../configs/hubs/game.yaml"), opts)
	require.Empty(t, errs)
	require.Equal(t, []string{
		`game.status != "closed"`,
		"room.isPublic == true",
		"lib.tictactoe.state(roomId)",
		"lib.tictactoe.move(roomId, session, message)",
		"lib.tictactoe.resign(roomId, session, message)",
		"lib.tictactoe.tick(roomId)",
	}, got)
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

func TestCustomEventTakesADisabledStandardName(t *testing.T) {
	h := mustParse(t, `
hubBasics: {name: notes}
roomSettings:
  roomDataObject: room
  authScripts: [{name: all, script: "true"}]
eventSettings:
  enablePresence: true
  customEvents:
    - {name: typing, direction: clientToRoom, ephemeral: true}
    - {name: messageRead, direction: clientToRoom}
`)
	require.Len(t, h.EventSettings.CustomEvents, 2)
	_, errs := parseString(t, "hub.yaml", `
hubBasics: {name: notes}
roomSettings:
  roomDataObject: room
  authScripts: [{name: all, script: "true"}]
eventSettings:
  enablePresence: true
  customEvents:
    - {name: away, direction: clientToRoom, ephemeral: true}
`)
	require.Len(t, errs, 1)
	require.Contains(t, errs[0].Error(), `eventSettings.customEvents[0].name: custom event "away" collides with the standard event enabled by eventSettings.enablePresence`)
}
