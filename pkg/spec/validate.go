package spec

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

var (
	hubNameRe  = regexp.MustCompile(`^[a-z][A-Za-z0-9]*$`)
	codeNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)
	identRe    = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*$`)
	propPathRe = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$`)
	roleNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
)

// jsReserved are the JavaScript reserved words, which are not valid
// identifiers.
var jsReserved = map[string]bool{
	"break": true, "case": true, "catch": true, "class": true, "const": true,
	"continue": true, "debugger": true, "default": true, "delete": true, "do": true,
	"else": true, "enum": true, "export": true, "extends": true, "false": true,
	"finally": true, "for": true, "function": true, "if": true, "import": true,
	"in": true, "instanceof": true, "new": true, "null": true, "return": true,
	"super": true, "switch": true, "this": true, "throw": true, "true": true,
	"try": true, "typeof": true, "var": true, "void": true, "while": true,
	"with": true, "yield": true, "let": true, "static": true, "implements": true,
	"interface": true, "package": true, "private": true, "protected": true,
	"public": true, "await": true,
}

func validJSIdent(s string) bool { return identRe.MatchString(s) && !jsReserved[s] }

// validator checks one decoded, defaulted hub.
type validator struct {
	h    *Hub
	opts LoadOptions
	c    *collector
	// badHubName suppresses the follow-up error on a dataObjectName derived
	// from an invalid hub name.
	badHubName bool
}

// validate adds every problem of h to c and fills HubCustomField.Default.
func validate(h *Hub, opts LoadOptions, c *collector) {
	v := &validator{h: h, opts: opts, c: c}
	v.basics()
	v.room()
	v.roles()
	v.messages()
	v.events()
	v.guardrails()
	v.logic()
	v.scripts()
}

func (v *validator) required(path, val string) bool {
	if strings.TrimSpace(val) == "" {
		v.c.add(path, "required")
		return false
	}
	return true
}

func (v *validator) codeName(path, val string) {
	if v.required(path, val) && !codeNameRe.MatchString(val) {
		v.c.add(path, "invalid code name %q: letters and digits only, starting with a letter", val)
	}
}

// unique reports duplicates of non-empty names; what says what the names are.
type uniqueSet struct {
	v    *validator
	what string
	seen map[string]bool
}

func (v *validator) unique(what string) *uniqueSet {
	return &uniqueSet{v: v, what: what, seen: map[string]bool{}}
}

func (u *uniqueSet) check(path, name string) bool {
	if name == "" {
		return true
	}
	if u.seen[name] {
		u.v.c.add(path, "duplicate %s %q", u.what, name)
		return false
	}
	u.seen[name] = true
	return true
}

func (v *validator) basics() {
	name := v.h.HubBasics.Name
	if !v.required("hubBasics.name", name) {
		v.badHubName = true
		return
	}
	if !hubNameRe.MatchString(name) {
		v.badHubName = true
		v.c.add("hubBasics.name", "invalid hub name %q: must be camelCase (letters and digits, starting with a lowercase letter)", name)
	}
	reserved := append(append([]string{}, DefaultReservedNames...), v.opts.ReservedNames...)
	for _, r := range reserved {
		if name == r {
			v.c.add("hubBasics.name", "hub name %q is reserved by the daemon", name)
		}
	}
}

func (v *validator) roles() {
	u := v.unique("role")
	for i, r := range v.h.HubRoles {
		path := fmt.Sprintf("hubRoles[%d]", i)
		if !v.required(path+".name", r.Name) {
			continue
		}
		switch {
		case r.Name == SystemRoleName:
			v.c.add(path+".name", "role name %q is reserved for the built-in system role", r.Name)
		case !roleNameRe.MatchString(r.Name):
			v.c.add(path+".name", "invalid role name %q", r.Name)
		default:
			u.check(path+".name", r.Name)
		}
		seen := map[string]bool{}
		for _, t := range r.AllowedTypes() {
			if seen[t] {
				v.c.add(path+".allowedMessageTypes", "duplicate message type %q", t)
				continue
			}
			seen[t] = true
			if !v.h.MessageTypeEnabled(t) {
				v.c.add(path+".allowedMessageTypes", "message type %q is not enabled in this hub", t)
			}
		}
	}
}

func (v *validator) roleRef(path, role string) {
	if role == "" || role == SystemRoleName {
		return
	}
	for _, r := range v.h.HubRoles {
		if r.Name == role {
			return
		}
	}
	v.c.add(path, "undefined role %q", role)
}

func (v *validator) room() {
	rs := &v.h.RoomSettings
	v.codeName("roomSettings.roomDataObject", rs.RoomDataObject)
	v.roleNames("roomSettings.absoluteRoles", rs.AbsoluteRoles)
	v.roleNames("roomSettings.checkRoles", rs.CheckRoles)

	names := v.unique("auth source")
	for i, s := range rs.AuthSources {
		path := fmt.Sprintf("roomSettings.authSources[%d]", i)
		names.check(path+".name", s.Name)
		v.codeName(path+".sourceObject", s.SourceObject)
		v.propRef(path+".userField", s.UserField)
		v.propRef(path+".roomField", s.RoomField)
		v.roleRef(path+".hubRole", s.HubRole)
	}
	scripts := v.unique("auth script")
	for i, s := range rs.AuthScripts {
		path := fmt.Sprintf("roomSettings.authScripts[%d]", i)
		scripts.check(path+".name", s.Name)
		v.required(path+".script", string(s.Script))
		v.roleRef(path+".hubRole", s.HubRole)
	}
}

func (v *validator) roleNames(path string, names []string) {
	u := v.unique("role")
	for i, n := range names {
		p := fmt.Sprintf("%s[%d]", path, i)
		if v.required(p, n) {
			u.check(p, n)
		}
	}
}

func (v *validator) propRef(path, val string) {
	if v.required(path, val) && !propPathRe.MatchString(val) {
		v.c.add(path, "invalid property name %q", val)
	}
}

func (v *validator) messages() {
	ms := &v.h.MessageSettings
	if !v.badHubName || ms.DataObjectName != v.h.HubBasics.Name+"Message" {
		v.codeName("messageSettings.dataObjectName", ms.DataObjectName)
	}

	seen := map[HubMessageType]bool{}
	for i, t := range ms.MessageTypes {
		path := fmt.Sprintf("messageSettings.messageTypes[%d]", i)
		switch {
		case !t.IsBuiltin():
			v.c.add(path, "unknown message type %q (built-in types: %s)", t, joinTypes(BuiltinMessageTypes))
		case seen[t]:
			v.c.add(path, "duplicate message type %q", t)
		}
		seen[t] = true
	}

	types := v.unique("custom message type")
	for i := range ms.CustomMessageTypes {
		ct := &ms.CustomMessageTypes[i]
		path := fmt.Sprintf("messageSettings.customMessageTypes[%d]", i)
		if v.required(path+".name", ct.Name) {
			switch {
			case !validJSIdent(ct.Name):
				v.c.add(path+".name", "invalid name %q: must be a JavaScript identifier", ct.Name)
			case HubMessageType(ct.Name).IsBuiltin():
				v.c.add(path+".name", "custom message type %q collides with the built-in type", ct.Name)
			default:
				types.check(path+".name", ct.Name)
			}
		}
		fields := v.unique("field")
		for j := range ct.Fields {
			v.field(fmt.Sprintf("%s.fields[%d]", path, j), &ct.Fields[j], fields)
		}
	}
}

func (v *validator) field(path string, f *HubCustomField, names *uniqueSet) {
	if v.required(path+".name", f.Name) {
		if !validJSIdent(f.Name) {
			v.c.add(path+".name", "invalid name %q: must be a JavaScript identifier", f.Name)
		} else {
			names.check(path+".name", f.Name)
		}
	}
	known := false
	for _, t := range CustomFieldTypes {
		known = known || f.FieldType == t
	}
	if !v.required(path+".fieldType", string(f.FieldType)) {
		return
	}
	if !known {
		v.c.add(path+".fieldType", "unknown field type %q (one of %s)", f.FieldType, joinFieldTypes())
		return
	}
	if f.FieldType == FieldEnum {
		if f.enumList, f.enumOf = f.EnumList(), f.EnumValues; len(f.enumList) == 0 {
			v.c.add(path+".enumValues", "required for an Enum field")
			return
		}
	}
	if f.DefaultValue == "" {
		return
	}
	d, err := coerceDefault(f)
	if err != nil {
		v.c.add(path+".defaultValue", "invalid %s default: %v", f.FieldType, err)
		return
	}
	f.Default = d
	f.defaultJSON, _ = json.Marshal(d) // nil on failure: encoded when used, failing there
}

func (v *validator) events() {
	es := &v.h.EventSettings
	custom := v.unique("custom event")
	for i, e := range es.CustomEvents {
		path := fmt.Sprintf("eventSettings.customEvents[%d]", i)
		if v.required(path+".name", e.Name) {
			std := StandardEventOf(e.Name)
			switch {
			case std != nil && std.Enabled(es):
				v.c.add(path+".name", "custom event %q collides with the standard event enabled by eventSettings.%s (set it to false to use the name)", e.Name, std.Toggle)
			case HubMessageType(e.Name).IsBuiltin():
				// persisted events are stored as messages of their name
				v.c.add(path+".name", "custom event %q collides with the built-in message type", e.Name)
			case v.customType(e.Name):
				v.c.add(path+".name", "custom event %q collides with the custom message type", e.Name)
			default:
				custom.check(path+".name", e.Name)
			}
		}
		if v.required(path+".direction", string(e.Direction)) {
			ok := false
			for _, d := range EventDirections {
				ok = ok || e.Direction == d
			}
			if !ok {
				v.c.add(path+".direction", "unknown direction %q (one of clientToRoom, serverToClient, serverToRoom)", e.Direction)
			}
		}
	}
	kafka := v.unique("kafka event")
	for i, k := range es.KafkaEvents {
		path := fmt.Sprintf("eventSettings.kafkaEvents[%d]", i)
		if v.required(path+".name", k.Name) {
			kafka.check(path+".name", k.Name)
		}
		v.required(path+".topic", k.Topic)
		v.required(path+".targetRoomExpression", string(k.TargetRoomExpression))
	}
}

// customType reports whether name is one of the hub's custom message types.
func (v *validator) customType(name string) bool {
	for _, ct := range v.h.MessageSettings.CustomMessageTypes {
		if ct.Name == name {
			return true
		}
	}
	return false
}

func (v *validator) guardrails() {
	g := &v.h.Guardrails
	positive := []struct {
		key string
		val int
	}{
		{"maxUsersPerRoom", g.MaxUsersPerRoom},
		{"maxRoomsPerUser", g.MaxRoomsPerUser},
		{"maxMessageSize", g.MaxMessageSize},
	}
	for _, p := range positive {
		if p.val <= 0 {
			v.c.add("guardrails."+p.key, "must be greater than 0, got %d", p.val)
		}
	}
	nonNegative := []struct {
		key string
		val int
	}{
		{"guardrails.messageRateLimit", g.MessageRateLimit},
		{"guardrails.connectionTimeout", g.ConnectionTimeout},
		{"guardrails.authCacheTTL", g.AuthCacheTTL},
		{"historySettings.historyLimit", v.h.HistorySettings.HistoryLimit},
	}
	for _, p := range nonNegative {
		if p.val < 0 {
			v.c.add(p.key, "must not be negative, got %d", p.val)
		}
	}
}

func (v *validator) logic() {
	hl := &v.h.HubLogic
	handled := map[string]bool{}
	for i, m := range hl.MessageHandlers {
		path := fmt.Sprintf("hubLogic.messageHandlers[%d]", i)
		if v.required(path+".messageType", m.MessageType) {
			switch {
			case handled[m.MessageType]:
				v.c.add(path+".messageType", "duplicate handler for message type %q", m.MessageType)
			default:
				if _, ok := v.h.CustomType(m.MessageType); !ok {
					v.c.add(path+".messageType", "%q is not a custom message type of this hub", m.MessageType)
				}
			}
			handled[m.MessageType] = true
		}
		v.required(path+".script", string(m.Script))
	}
	actions := v.unique("scheduled action")
	for i, a := range hl.ScheduledActions {
		path := fmt.Sprintf("hubLogic.scheduledActions[%d]", i)
		if v.required(path+".name", a.Name) {
			actions.check(path+".name", a.Name)
		}
		if a.IntervalMs <= 0 {
			v.c.add(path+".intervalMs", "must be greater than 0, got %d", a.IntervalMs)
		}
		v.required(path+".script", string(a.Script))
	}
}

func (v *validator) scripts() {
	if v.opts.CompileScript == nil {
		return
	}
	for _, ref := range AllScripts(v.h) {
		if err := v.opts.CompileScript(string(ref.Src)); err != nil {
			v.c.add(ref.Path, "does not compile: %v", err)
		}
	}
}

func joinTypes(ts []HubMessageType) string {
	s := make([]string, len(ts))
	for i, t := range ts {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

func joinFieldTypes() string {
	s := make([]string, len(CustomFieldTypes))
	for i, t := range CustomFieldTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}
