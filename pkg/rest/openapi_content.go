package rest

import (
	"github.com/hubd/hubd/pkg/spec"
)

// obj is a JSON Schema or OpenAPI object.
type obj = map[string]any

// ID patterns of custom ID fields: a UUID or a 24-hex ObjectId.
const idPattern = `^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-fA-F]{24})$`

// maxReplyPreview is the rune limit of replyTo.preview (pkg/hub).
const maxReplyPreview = 500

// builtinProp is one property of a built-in content schema.
type builtinProp struct {
	name     string
	schema   obj
	required bool
}

func str() obj         { return obj{"type": "string"} }
func nonEmptyStr() obj { return obj{"type": "string", "minLength": 1} }
func nonNegInt() obj   { return obj{"type": "integer", "minimum": 0} }
func nonNegNum() obj   { return obj{"type": "number", "minimum": 0} }

// builtinContent are the content schemas of the built-in message types,
// as validated by spec.Hub.ValidateContent (docs/spec-reference.md).
// Required strings must be non-empty.
var builtinContent = map[spec.HubMessageType][]builtinProp{
	spec.MessageText: {
		{"body", nonEmptyStr(), true},
	},
	spec.MessageImage: {
		{"mediaUrl", nonEmptyStr(), true},
		{"thumbnail", str(), false},
		{"caption", str(), false},
		{"width", nonNegInt(), false},
		{"height", nonNegInt(), false},
	},
	spec.MessageVideo: {
		{"mediaUrl", nonEmptyStr(), true},
		{"thumbnail", str(), false},
		{"caption", str(), false},
		{"duration", nonNegNum(), false},
	},
	spec.MessageAudio: {
		{"mediaUrl", nonEmptyStr(), true},
		{"duration", nonNegNum(), false},
		{"waveform", obj{"type": "array", "items": obj{"type": "number"}}, false},
	},
	spec.MessageDocument: {
		{"mediaUrl", nonEmptyStr(), true},
		{"fileName", str(), false},
		{"fileSize", nonNegInt(), false},
		{"mimeType", str(), false},
	},
	spec.MessageSticker: {
		{"stickerUrl", nonEmptyStr(), true},
		{"stickerPackId", str(), false},
	},
	spec.MessageContact: {
		{"contactName", nonEmptyStr(), true},
		{"contactPhone", str(), false},
		{"contactUserId", str(), false},
	},
	spec.MessageLocation: {
		{"lat", obj{"type": "number", "minimum": -90, "maximum": 90}, true},
		{"lng", obj{"type": "number", "minimum": -180, "maximum": 180}, true},
		{"address", str(), false},
		{"label", str(), false},
	},
	spec.MessageSystem: {
		{"systemAction", nonEmptyStr(), true},
		{"systemData", obj{"description": "Any JSON value."}, false},
	},
}

// builtinContentSchema is the JSON Schema of a built-in type's content.
func builtinContentSchema(t spec.HubMessageType) obj {
	props := obj{}
	required := []string{}
	for _, p := range builtinContent[t] {
		props[p.name] = p.schema
		if p.required {
			required = append(required, p.name)
		}
	}
	return obj{
		"type": "object", "description": "Content of a " + string(t) + " message.",
		"properties": props, "required": required, "additionalProperties": false,
	}
}

// customContentSchema is the JSON Schema of a custom type's content.
func customContentSchema(ct *spec.HubCustomMessageType) obj {
	props := obj{}
	required := []string{}
	for i := range ct.Fields {
		f := &ct.Fields[i]
		props[f.Name] = fieldSchema(f)
		if f.Required {
			required = append(required, f.Name)
		}
	}
	desc := ct.Description
	if desc == "" {
		desc = "Content of a " + ct.Name + " message."
	}
	return obj{
		"type": "object", "description": desc,
		"properties": props, "required": required, "additionalProperties": false,
	}
}

// fieldSchema maps a custom field to JSON Schema.
func fieldSchema(f *spec.HubCustomField) obj {
	var s obj
	switch f.FieldType {
	case spec.FieldString:
		s = obj{"type": "string", "maxLength": spec.MaxStringLen}
	case spec.FieldText:
		s = obj{"type": "string"}
	case spec.FieldInteger:
		s = obj{"type": "integer"}
	case spec.FieldDecimal:
		s = obj{"type": "number"}
	case spec.FieldBoolean:
		s = obj{"type": "boolean"}
	case spec.FieldID:
		s = obj{"type": "string", "pattern": idPattern, "description": "A UUID or a 24-hex ObjectId."}
	case spec.FieldDateTime:
		s = obj{"type": "string", "format": "date-time"}
	case spec.FieldEnum:
		s = obj{"type": "string", "enum": f.EnumList()}
	case spec.FieldJSON:
		s = obj{"type": []string{"object", "array"}}
	default:
		s = obj{}
	}
	if f.Description != "" {
		s["description"] = f.Description
	}
	if f.Default != nil {
		s["default"] = f.Default
	}
	return s
}
