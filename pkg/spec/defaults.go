package spec

// Default values of the RealtimeHub spec. Every one is documented in
// docs/spec-reference.md.
const (
	DefaultMaxUsersPerRoom   = 1000
	DefaultMaxRoomsPerUser   = 50
	DefaultMessageRateLimit  = 60
	DefaultMaxMessageSize    = 65536
	DefaultConnectionTimeout = 300000
	DefaultAuthCacheTTL      = 300
	DefaultHistoryLimit      = 50
)

// applyDefaults fills every field the spec gives a default and that the
// document left out (absent or null). raw is the decoded document; presence
// is read from it so that an explicit false or 0 is kept.
func applyDefaults(h *Hub, raw map[string]any) {
	for i := range h.HubRoles {
		r := &h.HubRoles[i]
		if !present(raw, "hubRoles", i, "canRead") {
			r.CanRead = true
		}
		if !present(raw, "hubRoles", i, "canSend") {
			r.CanSend = true
		}
	}

	ms := &h.MessageSettings
	if ms.DataObjectName == "" {
		ms.DataObjectName = h.HubBasics.Name + "Message"
	}
	if !present(raw, "messageSettings", "messageTypes") {
		ms.MessageTypes = []HubMessageType{MessageText}
	}

	if !present(raw, "eventSettings", "autoBridgeDataEvents") {
		h.EventSettings.AutoBridgeDataEvents = true
	}

	if !present(raw, "historySettings", "historyEnabled") {
		h.HistorySettings.HistoryEnabled = true
	}
	if !present(raw, "historySettings", "historyLimit") {
		h.HistorySettings.HistoryLimit = DefaultHistoryLimit
	}

	g := &h.Guardrails
	ints := []struct {
		key string
		dst *int
		def int
	}{
		{"maxUsersPerRoom", &g.MaxUsersPerRoom, DefaultMaxUsersPerRoom},
		{"maxRoomsPerUser", &g.MaxRoomsPerUser, DefaultMaxRoomsPerUser},
		{"messageRateLimit", &g.MessageRateLimit, DefaultMessageRateLimit},
		{"maxMessageSize", &g.MaxMessageSize, DefaultMaxMessageSize},
		{"connectionTimeout", &g.ConnectionTimeout, DefaultConnectionTimeout},
		{"authCacheTTL", &g.AuthCacheTTL, DefaultAuthCacheTTL},
	}
	for _, f := range ints {
		if !present(raw, "guardrails", f.key) {
			*f.dst = f.def
		}
	}
	// globalModeration, defaultSilenced, scheduledActions[].keepAlive and
	// every other boolean default to false, the zero value.
}

// present reports whether the value at path (object keys and array
// indexes) exists in raw and is not null.
func present(raw any, path ...any) bool {
	cur := raw
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return false
			}
			cur = m[k]
		case int:
			a, ok := cur.([]any)
			if !ok || k >= len(a) {
				return false
			}
			cur = a[k]
		}
		if cur == nil {
			return false
		}
	}
	return true
}
