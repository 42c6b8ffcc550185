package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaults(t *testing.T) {
	h := mustParse(t, minimal+`hubRoles:
  - name: member
  - name: viewer
    canSend: false
    canRead: false
hubLogic:
  scheduledActions:
    - name: tick
      intervalMs: 100
      script: lib.tick(roomId)
`)
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"role canRead", h.HubRoles[0].CanRead, true},
		{"role canSend", h.HubRoles[0].CanSend, true},
		{"role moderated", h.HubRoles[0].Moderated, false},
		{"role canModerate", h.HubRoles[0].CanModerate, false},
		{"role canDeleteAny", h.HubRoles[0].CanDeleteAny, false},
		{"role canManageRoom", h.HubRoles[0].CanManageRoom, false},
		{"explicit canSend false", h.HubRoles[1].CanSend, false},
		{"explicit canRead false", h.HubRoles[1].CanRead, false},
		{"maxUsersPerRoom", h.Guardrails.MaxUsersPerRoom, 1000},
		{"maxRoomsPerUser", h.Guardrails.MaxRoomsPerUser, 50},
		{"messageRateLimit", h.Guardrails.MessageRateLimit, 60},
		{"maxMessageSize", h.Guardrails.MaxMessageSize, 65536},
		{"connectionTimeout", h.Guardrails.ConnectionTimeout, 300000},
		{"authCacheTTL", h.Guardrails.AuthCacheTTL, 300},
		{"globalModeration", h.Guardrails.GlobalModeration, false},
		{"defaultSilenced", h.Guardrails.DefaultSilenced, false},
		{"historyEnabled", h.HistorySettings.HistoryEnabled, true},
		{"historyLimit", h.HistorySettings.HistoryLimit, 50},
		{"autoBridgeDataEvents", h.EventSettings.AutoBridgeDataEvents, true},
		{"dataObjectName", h.MessageSettings.DataObjectName, "chatHubMessage"},
		{"messageTypes", h.MessageSettings.MessageTypes, []HubMessageType{MessageText}},
		{"keepAlive", h.HubLogic.ScheduledActions[0].KeepAlive, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, tc.got)
		})
	}
}

func TestExplicitValuesOverrideDefaults(t *testing.T) {
	h := mustParse(t, minimal+`messageSettings:
  dataObjectName: ChatHubMessage
  messageTypes: []
eventSettings:
  autoBridgeDataEvents: false
historySettings:
  historyEnabled: false
  historyLimit: 0
guardrails:
  maxUsersPerRoom: 2
  maxRoomsPerUser: 3
  messageRateLimit: 0
  maxMessageSize: 10
  connectionTimeout: 0
  authCacheTTL: 0
  globalModeration: true
  defaultSilenced: true
`)
	require.Equal(t, "ChatHubMessage", h.MessageSettings.DataObjectName)
	require.Empty(t, h.MessageSettings.MessageTypes)
	require.False(t, h.EventSettings.AutoBridgeDataEvents)
	require.False(t, h.HistorySettings.HistoryEnabled)
	require.Equal(t, 0, h.HistorySettings.HistoryLimit)
	require.Equal(t, HubGuardrails{
		MaxUsersPerRoom: 2, MaxRoomsPerUser: 3, MessageRateLimit: 0, MaxMessageSize: 10,
		ConnectionTimeout: 0, AuthCacheTTL: 0, GlobalModeration: true, DefaultSilenced: true,
	}, h.Guardrails)
}

func TestNullMeansAbsent(t *testing.T) {
	h := mustParse(t, minimal+`guardrails:
  authCacheTTL: null
hubRoles:
  - name: member
    canSend: null
`)
	require.Equal(t, 300, h.Guardrails.AuthCacheTTL)
	require.True(t, h.HubRoles[0].CanSend)
}

func TestJSONAndYAMLGiveTheSameHub(t *testing.T) {
	y := mustParse(t, minimal+`hubRoles:
  - name: member
    allowedMessageTypes: text
`)
	j, errs := parse("hub.json", []byte(`{
  "hubBasics": {"name": "chatHub"},
  "roomSettings": {"roomDataObject": "chat"},
  "hubRoles": [{"name": "member", "allowedMessageTypes": "text"}]
}`), testOpts)
	require.Empty(t, errs)
	y.File, y.Hash, j.File, j.Hash = "", "", "", ""
	require.Equal(t, y, j)
}

func TestDefaultValueScalarsInYAML(t *testing.T) {
	h := mustParse(t, minimal+`messageSettings:
  customMessageTypes:
    - name: bid
      fields:
        - name: amount
          fieldType: Integer
          defaultValue: 5
        - name: sealed
          fieldType: Boolean
          defaultValue: true
        - name: meta
          fieldType: JSON
          defaultValue: '{"a": [1, 2]}'
`)
	f := h.MessageSettings.CustomMessageTypes[0].Fields
	require.Equal(t, "5", f[0].DefaultValue)
	require.Equal(t, int64(5), f[0].Default)
	require.Equal(t, true, f[1].Default)
	require.Equal(t, map[string]any{"a": []any{json.Number("1"), json.Number("2")}}, f[2].Default)
}

func TestLoadDir(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "b.yaml", minimal)
	writeFile(t, dir, "a.json", `{"hubBasics":{"name":"alphaHub"},"roomSettings":{"roomDataObject":"room"}}`)
	writeFile(t, dir, "README.md", "not a spec")
	writeFile(t, dir, ".chat.yaml.swp", "garbage: [")
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.yaml"), 0o700))

	hubs, err := LoadDir(dir, testOpts)
	require.NoError(t, err)
	require.Len(t, hubs, 2)
	require.Equal(t, "alphaHub", hubs[0].Name())
	require.Equal(t, filepath.Join(dir, "a.json"), hubs[0].File)
	require.Equal(t, "chatHub", hubs[1].Name())
	require.Equal(t, "alphaHubMessage", hubs[0].MessageSettings.DataObjectName)
}

func TestLoadDirCollectsErrorsOfAllFiles(t *testing.T) {
	dir := t.TempDir()
	a := writeFile(t, dir, "a.yaml", minimal)
	b := writeFile(t, dir, "b.yml", minimal)
	c := writeFile(t, dir, "c.yaml", minimal+"hubRoles:\n  - nam: x\n")

	hubs, err := LoadDir(dir, testOpts)
	require.Nil(t, hubs)
	var list ErrorList
	require.True(t, errors.As(err, &list))
	require.Equal(t, ErrorList{
		{File: b, Path: "hubBasics.name", Msg: `duplicate hub name "chatHub" (also in ` + a + `)`},
		{File: c, Path: "hubRoles[0].nam", Msg: "unknown field"},
	}, list)
	require.Equal(t,
		b+`: hubBasics.name: duplicate hub name "chatHub" (also in `+a+")\n"+c+": hubRoles[0].nam: unknown field",
		err.Error())
}

func TestLoadDirMissing(t *testing.T) {
	_, err := LoadDir(filepath.Join(t.TempDir(), "nope"), testOpts)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestLoadDirEmpty(t *testing.T) {
	hubs, err := LoadDir(t.TempDir(), testOpts)
	require.NoError(t, err)
	require.Empty(t, hubs)
}

func TestHashTracksFileBytes(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "chat.yaml", minimal)
	h1, err := LoadFile(p, testOpts)
	require.NoError(t, err)
	h2, err := LoadFile(p, testOpts)
	require.NoError(t, err)
	require.Equal(t, h1.Hash, h2.Hash)

	writeFile(t, dir, "chat.yaml", minimal+"# comment\n")
	h3, err := LoadFile(p, testOpts)
	require.NoError(t, err)
	require.NotEqual(t, h1.Hash, h3.Hash)
	// The hash is the hex sha256 of the file bytes.
	sum := sha256.Sum256([]byte(minimal))
	require.Equal(t, hex.EncodeToString(sum[:]), h1.Hash)
}

func TestLoadFileReadError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "missing.yaml")
	_, err := LoadFile(p, testOpts)
	var list ErrorList
	require.True(t, errors.As(err, &list))
	require.Len(t, list, 1)
	require.Equal(t, p, list[0].File)
	require.Contains(t, list[0].Msg, "read:")
}

func TestErrorListErr(t *testing.T) {
	require.NoError(t, ErrorList(nil).Err())
	require.Error(t, ErrorList{{Msg: "x"}}.Err())
	require.Equal(t, "x", (&FieldError{Msg: "x"}).Error())
	require.Equal(t, "f: x", (&FieldError{File: "f", Msg: "x"}).Error())
	require.Equal(t, "f: p: x", (&FieldError{File: "f", Path: "p", Msg: "x"}).Error())
}

func TestYAML12Semantics(t *testing.T) {
	h := mustParse(t, `
hubBasics: {name: grid}
roomSettings:
  roomDataObject: board
  authScripts: [{name: all, script: "true"}]
messageSettings:
  messageTypes: [text]
  customMessageTypes:
    - name: move
      fields:
        - {name: x, fieldType: Integer, required: true}
        - {name: y, fieldType: Integer, required: true}
        - {name: n, fieldType: String}
        - name: side
          fieldType: Enum
          enumValues: "on,off"
          defaultValue: off
        - {name: yes, fieldType: Boolean}
        - {name: no, fieldType: String, defaultValue: n}
`)
	ct, ok := h.CustomType("move")
	require.True(t, ok)
	var names []string
	for _, f := range ct.Fields {
		names = append(names, f.Name)
	}
	require.Equal(t, []string{"x", "y", "n", "side", "yes", "no"}, names, "y, n, yes, no are strings as keys and values")
	require.Equal(t, "off", ct.Fields[3].DefaultValue)
	require.Equal(t, "n", ct.Fields[5].DefaultValue)
	out, problems := h.ValidateContent("move", json.RawMessage(`{"x":1,"y":2}`))
	require.Empty(t, problems)
	require.JSONEq(t, `{"x":1,"y":2,"side":"off","no":"n"}`, string(out))
}

func TestYAMLOnlyTrueAndFalseAreBooleans(t *testing.T) {
	_, errs := parseString(t, "hub.yaml", `
hubBasics: {name: grid}
roomSettings:
  roomDataObject: board
  authScripts: [{name: all, script: "true"}]
historySettings:
  historyEnabled: yes
`)
	require.Len(t, errs, 1)
	require.Contains(t, errs[0].Error(), "historySettings.historyEnabled: expected boolean, got string")
}

// A file that does not decode still has the scripts that did decode
// compiled: their compile errors come out with the decode errors.
func TestLoadDirAllCompilesTheScriptsOfAFileThatDoesNotDecode(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "a.yaml", minimal+"  checkScript: 'user.userId == ('\n  colour: blue\n")
	hubs, errs, err := LoadDirAll(dir, testOpts)
	require.NoError(t, err)
	require.Len(t, hubs, 1)
	require.True(t, hubs[0].Partial())
	require.Len(t, errs, 2, errs.Error())
	require.Equal(t, &FieldError{File: f, Path: "roomSettings.colour", Msg: "unknown field"}, errs[0])
	require.Equal(t, "roomSettings.checkScript", errs[1].Path)
	require.Contains(t, errs[1].Msg, "does not compile")
}
