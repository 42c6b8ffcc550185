package spec

// StandardEvent is an event of hub:event the daemon handles itself. Each
// is enabled by one eventSettings toggle; while its toggle is off, a
// custom event may take its name.
type StandardEvent struct {
	Name string
	// Toggle is the eventSettings field that enables the event.
	Toggle  string
	enabled func(*HubEventSettings) bool
}

// Enabled reports whether the hub's settings enable the event.
func (e *StandardEvent) Enabled(es *HubEventSettings) bool { return e.enabled(es) }

// StandardEvents lists the standard events, by name.
var StandardEvents = []StandardEvent{
	{"typing", "enableTypingIndicator", func(es *HubEventSettings) bool { return es.EnableTypingIndicator }},
	{"stopTyping", "enableTypingIndicator", func(es *HubEventSettings) bool { return es.EnableTypingIndicator }},
	{"recording", "enableRecordingIndicator", func(es *HubEventSettings) bool { return es.EnableRecordingIndicator }},
	{"stopRecording", "enableRecordingIndicator", func(es *HubEventSettings) bool { return es.EnableRecordingIndicator }},
	{"messageRead", "enableReadReceipts", func(es *HubEventSettings) bool { return es.EnableReadReceipts }},
	{"messageDelivered", "enableDeliveryReceipts", func(es *HubEventSettings) bool { return es.EnableDeliveryReceipts }},
	{"away", "enablePresence", func(es *HubEventSettings) bool { return es.EnablePresence }},
	{"back", "enablePresence", func(es *HubEventSettings) bool { return es.EnablePresence }},
}

// StandardEventOf returns the standard event called name, or nil.
func StandardEventOf(name string) *StandardEvent {
	for i := range StandardEvents {
		if StandardEvents[i].Name == name {
			return &StandardEvents[i]
		}
	}
	return nil
}
