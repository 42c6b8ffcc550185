// Package spec holds the RealtimeHub spec types (MPO 1.3.0), loads hub
// specs from YAML or JSON files, applies defaults, validates them and
// validates message content against the built-in and custom type schemas.
package spec

import "encoding/json"

// MScript is a JavaScript expression evaluated by the scripting engine.
type MScript string

// Hub is one RealtimeHub spec. After loading, every default is applied and
// the spec has passed validation; the value is treated as immutable.
type Hub struct {
	HubBasics       HubBasics          `json:"hubBasics"`
	RoomSettings    HubRoomSettings    `json:"roomSettings"`
	HubRoles        []HubRole          `json:"hubRoles"`
	MessageSettings HubMessageSettings `json:"messageSettings"`
	EventSettings   HubEventSettings   `json:"eventSettings"`
	HistorySettings HubHistorySettings `json:"historySettings"`
	Guardrails      HubGuardrails      `json:"guardrails"`
	HubLogic        HubLogic           `json:"hubLogic"`

	// File is the path the spec was read from.
	File string `json:"-"`
	// Hash is the hex sha256 of the file bytes, for change detection on reload.
	Hash string `json:"-"`

	// partial: the file has errors; the hub holds what decoded (LoadDirAll).
	partial bool
}

// Partial reports a hub of a file with errors, as far as it decoded: only
// for analysis (LoadDirAll), never served.
func (h *Hub) Partial() bool { return h.partial }

// HubBasics is the core identity of a hub.
type HubBasics struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// HubRoomSettings configures rooms and the layered join authorization.
type HubRoomSettings struct {
	RoomDataObject  string          `json:"roomDataObject"`
	RoomEligibility MScript         `json:"roomEligibility"`
	AbsoluteRoles   []string        `json:"absoluteRoles"`
	CheckRoles      []string        `json:"checkRoles"`
	CheckScript     MScript         `json:"checkScript"`
	AuthSources     []HubAuthSource `json:"authSources"`
	AuthScripts     []HubAuthScript `json:"authScripts"`
}

// HubAuthSource grants HubRole when a record of SourceObject links the user
// (UserField) to the room (RoomField) and the optional Condition holds.
type HubAuthSource struct {
	Name         string  `json:"name"`
	SourceObject string  `json:"sourceObject"`
	UserField    string  `json:"userField"`
	RoomField    string  `json:"roomField"`
	Condition    MScript `json:"condition"`
	// HubRole is empty when the spec leaves it null: authorized with the
	// default permissions (see DefaultRole).
	HubRole string `json:"hubRole"`
}

// HubAuthScript grants HubRole when Script returns true.
type HubAuthScript struct {
	Name    string  `json:"name"`
	Script  MScript `json:"script"`
	HubRole string  `json:"hubRole"`
}

// HubRole is a named permission set.
type HubRole struct {
	Name                string `json:"name"`
	CanRead             bool   `json:"canRead"`
	CanSend             bool   `json:"canSend"`
	AllowedMessageTypes string `json:"allowedMessageTypes"`
	Moderated           bool   `json:"moderated"`
	CanModerate         bool   `json:"canModerate"`
	CanDeleteAny        bool   `json:"canDeleteAny"`
	CanManageRoom       bool   `json:"canManageRoom"`
}

// HubMessageSettings controls message structure and persistence.
type HubMessageSettings struct {
	DataObjectName     string                 `json:"dataObjectName"`
	MessageTypes       []HubMessageType       `json:"messageTypes"`
	EnableReplyTo      bool                   `json:"enableReplyTo"`
	EnableReaction     bool                   `json:"enableReaction"`
	EnableForwarded    bool                   `json:"enableForwarded"`
	CustomMessageTypes []HubCustomMessageType `json:"customMessageTypes"`
}

// HubMessageType is a built-in message content type.
type HubMessageType string

// Built-in message types.
const (
	MessageText     HubMessageType = "text"
	MessageImage    HubMessageType = "image"
	MessageVideo    HubMessageType = "video"
	MessageAudio    HubMessageType = "audio"
	MessageDocument HubMessageType = "document"
	MessageSticker  HubMessageType = "sticker"
	MessageContact  HubMessageType = "contact"
	MessageLocation HubMessageType = "location"
	MessageSystem   HubMessageType = "system"
)

// BuiltinMessageTypes lists the built-in message types in spec order.
var BuiltinMessageTypes = []HubMessageType{
	MessageText, MessageImage, MessageVideo, MessageAudio, MessageDocument,
	MessageSticker, MessageContact, MessageLocation, MessageSystem,
}

// IsBuiltin reports whether t is one of the built-in message types.
func (t HubMessageType) IsBuiltin() bool {
	for _, b := range BuiltinMessageTypes {
		if t == b {
			return true
		}
	}
	return false
}

// HubCustomMessageType is an app-specific message type with a field schema.
type HubCustomMessageType struct {
	Name        string           `json:"name"`
	Description string           `json:"description"`
	Fields      []HubCustomField `json:"fields"`
}

// HubCustomField is one field of a custom message type's content.
type HubCustomField struct {
	Name        string             `json:"name"`
	FieldType   HubCustomFieldType `json:"fieldType"`
	Required    bool               `json:"required"`
	Description string             `json:"description"`
	EnumValues  string             `json:"enumValues"`
	// DefaultValue is the default as written in the spec; empty means none.
	DefaultValue string `json:"defaultValue"`

	// Default is DefaultValue coerced to the field type: string, int64,
	// float64, bool, or (JSON) map[string]any / []any. Nil when there is no
	// default.
	Default any `json:"-"`

	// Worked out once when the spec is validated, for every message
	// (zero: not worked out, as in a field built by hand): defaultJSON is
	// Default encoded, enumList is EnumList() of enumOf, the EnumValues it
	// was split from.
	defaultJSON json.RawMessage
	enumList    []string
	enumOf      string
}

// HubCustomFieldType is the data type of a custom field.
type HubCustomFieldType string

// Custom field types.
const (
	FieldString   HubCustomFieldType = "String"
	FieldText     HubCustomFieldType = "Text"
	FieldInteger  HubCustomFieldType = "Integer"
	FieldDecimal  HubCustomFieldType = "Decimal"
	FieldBoolean  HubCustomFieldType = "Boolean"
	FieldID       HubCustomFieldType = "ID"
	FieldDateTime HubCustomFieldType = "DateTime"
	FieldEnum     HubCustomFieldType = "Enum"
	FieldJSON     HubCustomFieldType = "JSON"
)

// CustomFieldTypes lists every custom field type in spec order.
var CustomFieldTypes = []HubCustomFieldType{
	FieldString, FieldText, FieldInteger, FieldDecimal, FieldBoolean,
	FieldID, FieldDateTime, FieldEnum, FieldJSON,
}

// HubEventSettings configures standard, bridged, custom and Kafka events.
type HubEventSettings struct {
	EnableTypingIndicator    bool             `json:"enableTypingIndicator"`
	EnableRecordingIndicator bool             `json:"enableRecordingIndicator"`
	EnableReadReceipts       bool             `json:"enableReadReceipts"`
	EnableDeliveryReceipts   bool             `json:"enableDeliveryReceipts"`
	EnablePresence           bool             `json:"enablePresence"`
	AutoBridgeDataEvents     bool             `json:"autoBridgeDataEvents"`
	CustomEvents             []HubCustomEvent `json:"customEvents"`
	KafkaEvents              []HubKafkaEvent  `json:"kafkaEvents"`
}

// HubCustomEvent is an app-specific event.
type HubCustomEvent struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Ephemeral   bool              `json:"ephemeral"`
	Direction   HubEventDirection `json:"direction"`
}

// HubEventDirection says who emits a custom event and who receives it.
type HubEventDirection string

// Custom event directions.
const (
	ClientToRoom   HubEventDirection = "clientToRoom"
	ServerToClient HubEventDirection = "serverToClient"
	ServerToRoom   HubEventDirection = "serverToRoom"
)

// EventDirections lists every event direction.
var EventDirections = []HubEventDirection{ClientToRoom, ServerToClient, ServerToRoom}

// HubKafkaEvent bridges messages of a Kafka topic into rooms.
type HubKafkaEvent struct {
	Name                 string  `json:"name"`
	Description          string  `json:"description"`
	Topic                string  `json:"topic"`
	FilterExpression     MScript `json:"filterExpression"`
	TargetRoomExpression MScript `json:"targetRoomExpression"`
}

// HubHistorySettings controls the history sent on join.
type HubHistorySettings struct {
	HistoryEnabled bool `json:"historyEnabled"`
	HistoryLimit   int  `json:"historyLimit"`
}

// HubGuardrails holds limits, moderation and caching settings.
type HubGuardrails struct {
	MaxUsersPerRoom int `json:"maxUsersPerRoom"`
	MaxRoomsPerUser int `json:"maxRoomsPerUser"`
	// MessageRateLimit is messages per user per minute; 0 disables the limit.
	MessageRateLimit int `json:"messageRateLimit"`
	// MaxMessageSize is in bytes.
	MaxMessageSize int `json:"maxMessageSize"`
	// ConnectionTimeout is the idle timeout in milliseconds; 0 disables it.
	ConnectionTimeout int `json:"connectionTimeout"`
	// AuthCacheTTL is in seconds; 0 disables the auth cache.
	AuthCacheTTL     int  `json:"authCacheTTL"`
	GlobalModeration bool `json:"globalModeration"`
	DefaultSilenced  bool `json:"defaultSilenced"`
}

// HubLogic holds the server-side script hooks.
type HubLogic struct {
	StateScript      MScript              `json:"stateScript"`
	MessageHandlers  []HubMessageHandler  `json:"messageHandlers"`
	ScheduledActions []HubScheduledAction `json:"scheduledActions"`
}

// HubMessageHandler routes a custom message type through a script.
type HubMessageHandler struct {
	MessageType string  `json:"messageType"`
	Script      MScript `json:"script"`
}

// HubScheduledAction runs Script every IntervalMs milliseconds per room.
type HubScheduledAction struct {
	Name       string  `json:"name"`
	IntervalMs int     `json:"intervalMs"`
	KeepAlive  bool    `json:"keepAlive"`
	Script     MScript `json:"script"`
}
