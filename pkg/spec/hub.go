package spec

import (
	"encoding/json"
	"fmt"
	"strings"
)

// SystemRoleName is the built-in role given to absoluteRoles users.
const SystemRoleName = "system"

// SystemRole returns the built-in system role: every permission granted.
func SystemRole() HubRole {
	return HubRole{
		Name: SystemRoleName, CanRead: true, CanSend: true,
		CanModerate: true, CanDeleteAny: true, CanManageRoom: true,
	}
}

// DefaultRole returns the permissions of a user authorized by a source or
// script whose hubRole is null: the defaults of a HubRole (read and send).
func DefaultRole() HubRole {
	return HubRole{CanRead: true, CanSend: true}
}

// Name returns the hub name (hubBasics.name).
func (h *Hub) Name() string { return h.HubBasics.Name }

// Role looks up a hub role by name. "system" yields SystemRole and the empty
// name (a null hubRole) yields DefaultRole; both return a fresh copy.
func (h *Hub) Role(name string) (*HubRole, bool) {
	switch name {
	case "":
		r := DefaultRole()
		return &r, true
	case SystemRoleName:
		r := SystemRole()
		return &r, true
	}
	for i := range h.HubRoles {
		if h.HubRoles[i].Name == name {
			return &h.HubRoles[i], true
		}
	}
	return nil, false
}

// MessageTypeEnabled reports whether t is a selected built-in type or a
// custom type of the hub.
func (h *Hub) MessageTypeEnabled(t string) bool {
	for _, mt := range h.MessageSettings.MessageTypes {
		if string(mt) == t {
			return true
		}
	}
	_, ok := h.CustomType(t)
	return ok
}

// CustomType looks up a custom message type by name.
func (h *Hub) CustomType(name string) (*HubCustomMessageType, bool) {
	for i := range h.MessageSettings.CustomMessageTypes {
		if h.MessageSettings.CustomMessageTypes[i].Name == name {
			return &h.MessageSettings.CustomMessageTypes[i], true
		}
	}
	return nil, false
}

// Handler returns the message handler for a message type.
func (h *Hub) Handler(messageType string) (*HubMessageHandler, bool) {
	for i := range h.HubLogic.MessageHandlers {
		if h.HubLogic.MessageHandlers[i].MessageType == messageType {
			return &h.HubLogic.MessageHandlers[i], true
		}
	}
	return nil, false
}

// AllowedTypes returns the message types the role may send; empty means all
// types of the hub.
func (r *HubRole) AllowedTypes() []string {
	return splitList(r.AllowedMessageTypes)
}

// EnumList returns the allowed values of an Enum field.
func (f *HubCustomField) EnumList() []string {
	return splitList(f.EnumValues)
}

// enums is EnumList, split once when the spec was validated; the caller
// must not change it.
func (f *HubCustomField) enums() []string {
	if f.enumList != nil && f.enumOf == f.EnumValues {
		return f.enumList
	}
	return f.EnumList()
}

// defaultJSONOf is the field's Default encoded, as the spec's validation
// encoded it when it did.
func (f *HubCustomField) defaultJSONOf() (json.RawMessage, error) {
	if f.defaultJSON != nil {
		return f.defaultJSON, nil
	}
	return json.Marshal(f.Default)
}

// splitList parses a comma-separated list, trimming blanks and dropping
// empty entries. It returns nil for an empty list.
func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if p := strings.TrimSpace(part); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// ScriptRef is one MScript of a hub with its field path.
type ScriptRef struct {
	Path string
	Src  MScript
}

// AllScripts lists every non-empty MScript of the hub with its field path,
// in document order.
func AllScripts(h *Hub) []ScriptRef {
	var refs []ScriptRef
	add := func(path string, src MScript) {
		if strings.TrimSpace(string(src)) != "" {
			refs = append(refs, ScriptRef{Path: path, Src: src})
		}
	}
	rs := &h.RoomSettings
	add("roomSettings.roomEligibility", rs.RoomEligibility)
	add("roomSettings.checkScript", rs.CheckScript)
	for i, s := range rs.AuthSources {
		add(fmt.Sprintf("roomSettings.authSources[%d].condition", i), s.Condition)
	}
	for i, s := range rs.AuthScripts {
		add(fmt.Sprintf("roomSettings.authScripts[%d].script", i), s.Script)
	}
	for i, k := range h.EventSettings.KafkaEvents {
		add(fmt.Sprintf("eventSettings.kafkaEvents[%d].filterExpression", i), k.FilterExpression)
		add(fmt.Sprintf("eventSettings.kafkaEvents[%d].targetRoomExpression", i), k.TargetRoomExpression)
	}
	add("hubLogic.stateScript", h.HubLogic.StateScript)
	for i, m := range h.HubLogic.MessageHandlers {
		add(fmt.Sprintf("hubLogic.messageHandlers[%d].script", i), m.Script)
	}
	for i, a := range h.HubLogic.ScheduledActions {
		add(fmt.Sprintf("hubLogic.scheduledActions[%d].script", i), a.Script)
	}
	return refs
}
