package ts

import (
	"fmt"
	"strings"

	"github.com/hubd/hubd/pkg/spec"
)

// fieldTypes are the TypeScript types of custom field types; Enum is the
// union of its values (enumType).
var fieldTypes = map[spec.HubCustomFieldType]string{
	spec.FieldString:   "string",
	spec.FieldText:     "string",
	spec.FieldInteger:  "number",
	spec.FieldDecimal:  "number",
	spec.FieldBoolean:  "boolean",
	spec.FieldID:       "string",
	spec.FieldDateTime: "string",
	spec.FieldJSON:     "unknown",
}

// fieldNotes add to a field's comment what its TypeScript type cannot say.
var fieldNotes = map[spec.HubCustomFieldType]string{
	spec.FieldInteger:  "An integer.",
	spec.FieldID:       "A UUID or a 24-hex ObjectId.",
	spec.FieldDateTime: "An RFC 3339 date-time.",
	spec.FieldJSON:     "Any JSON object or array.",
}

func fieldType(f *spec.HubCustomField) string {
	if f.FieldType == spec.FieldEnum {
		vals := f.EnumList()
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = quote(v)
		}
		if len(parts) == 0 {
			return "string"
		}
		return strings.Join(parts, " | ")
	}
	if t, ok := fieldTypes[f.FieldType]; ok {
		return t
	}
	return "unknown"
}

// contentName is the interface name of a message type's content.
func contentName(messageType string) string { return TypeName(messageType) + "Content" }

// messages writes each enabled message type's content and the Messages
// map (messageType -> content) the client checks sends against.
func (g *gen) messages() error {
	var names []string
	for _, t := range g.h.MessageSettings.MessageTypes {
		schema := g.doc.Components.Schemas["Content."+string(t)]
		if schema == nil {
			return fmt.Errorf("openapi document has no content schema for %s", t)
		}
		writeDoc(&g.b, "", stringOf(schema["description"]))
		g.line("export interface %s %s", contentName(string(t)), schemaType(schema, ""))
		g.line("")
		names = append(names, string(t))
	}
	for i := range g.h.MessageSettings.CustomMessageTypes {
		ct := &g.h.MessageSettings.CustomMessageTypes[i]
		g.customContent(ct)
		names = append(names, ct.Name)
	}
	g.line("/** The content of each message type of the hub, by messageType. */")
	g.line("export type Messages = {")
	for _, n := range names {
		g.line("  %s: %s;", propName(n), contentName(n))
	}
	g.line("};")
	g.line("")
	g.line("export type MessageType = keyof Messages;")
	g.line("")
	return nil
}

func (g *gen) customContent(ct *spec.HubCustomMessageType) {
	desc := ct.Description
	if desc == "" {
		desc = "Content of a " + ct.Name + " message."
	}
	writeDoc(&g.b, "", desc)
	g.line("export interface %s {", contentName(ct.Name))
	for i := range ct.Fields {
		f := &ct.Fields[i]
		doc := strings.TrimSpace(f.Description + " " + fieldNotes[f.FieldType])
		if f.DefaultValue != "" {
			doc += " Default: " + f.DefaultValue + "."
		}
		writeDoc(&g.b, "  ", strings.TrimSpace(doc))
		opt := "?"
		if f.Required && f.DefaultValue == "" {
			opt = ""
		}
		g.line("  %s%s: %s;", propName(f.Name), opt, fieldType(f))
	}
	g.line("}")
	g.line("")
}

// eventGroups are the custom event maps, by direction.
var eventGroups = []struct {
	name, doc string
	dir       spec.HubEventDirection
}{
	{"ClientEvents", "Custom events members emit to their room (clientToRoom): name -> data.", spec.ClientToRoom},
	{"ServerToRoomEvents", "Custom events the server sends to a room (serverToRoom): name -> data.", spec.ServerToRoom},
	{"ServerToClientEvents", "Custom events the server sends to one user (serverToClient): name -> data.", spec.ServerToClient},
}

// events writes the custom events by direction, the Kafka events, the
// standard signals the hub enables and the stored custom events.
func (g *gen) events() error {
	es := &g.h.EventSettings
	var stored []string
	for _, grp := range eventGroups {
		g.line("/** %s */", grp.doc)
		g.line("export type %s = {", grp.name)
		for _, ev := range es.CustomEvents {
			if ev.Direction != grp.dir {
				continue
			}
			writeDoc(&g.b, "  ", ev.Description)
			g.line("  %s: unknown;", propName(ev.Name))
			if !ev.Ephemeral && ev.Direction != spec.ServerToClient {
				stored = append(stored, quote(ev.Name))
			}
		}
		g.line("};")
		g.line("")
	}
	g.line("/** Events bridged from Kafka topics to rooms: name -> data. */")
	g.line("export type KafkaEvents = {")
	for _, ev := range es.KafkaEvents {
		writeDoc(&g.b, "  ", ev.Description)
		g.line("  %s: unknown;", propName(ev.Name))
	}
	g.line("};")
	g.line("")
	g.line("export type ServerEvents = ServerToRoomEvents & ServerToClientEvents & KafkaEvents;")
	g.line("")
	g.line("/** Custom events stored as messages (messageType: the event name, content: { data }). */")
	g.line("export type StoredEvent = %s;", union(stored))
	g.line("")
	var signals []string
	for i := range spec.StandardEvents {
		if se := &spec.StandardEvents[i]; se.Enabled(es) {
			signals = append(signals, quote(se.Name))
		}
	}
	g.line("/** Standard signals of hub:event this hub enables. */")
	g.line("export type Signal = %s;", union(signals))
	g.line("")
	return nil
}

func union(quoted []string) string {
	if len(quoted) == 0 {
		return "never"
	}
	return strings.Join(quoted, " | ")
}

// roles writes the role names and each role's permissions.
func (g *gen) roles() error {
	var names []string
	g.line("/** Each hub role's permissions, as the spec sets them. */")
	g.line("export const roles = {")
	for i := range g.h.HubRoles {
		r := &g.h.HubRoles[i]
		names = append(names, quote(r.Name))
		types := make([]string, 0)
		for _, t := range r.AllowedTypes() {
			types = append(types, quote(t))
		}
		g.line("  %s: {", propName(r.Name))
		g.line("    canRead: %t,", r.CanRead)
		g.line("    canSend: %t,", r.CanSend)
		g.line("    allowedMessageTypes: [%s],", strings.Join(types, ", "))
		g.line("    moderated: %t,", r.Moderated)
		g.line("    canModerate: %t,", r.CanModerate)
		g.line("    canDeleteAny: %t,", r.CanDeleteAny)
		g.line("    canManageRoom: %t,", r.CanManageRoom)
		g.line("  },")
	}
	g.line("} as const;")
	g.line("")
	g.line("/** A hub role of this hub (a join ack's hubRole, or null for the default permissions). */")
	g.line("export type Role = %s;", union(names))
	g.line("")
	g.line("export type RolePermissions = typeof roles;")
	g.line("")
	return nil
}

// hubInterface writes the hub's interface, HubClient's type parameter.
func (g *gen) hubInterface() error {
	g.line("/** The %s hub, for @hubd/client: new HubClient<%s>(url, hubName, options). */", g.h.Name(), g.name)
	g.line("export interface %s {", g.name)
	g.line("  messages: Messages;")
	g.line("  clientEvents: ClientEvents;")
	g.line("  serverEvents: ServerEvents;")
	g.line("  roles: Role;")
	g.line("}")
	g.line("")
	return nil
}
