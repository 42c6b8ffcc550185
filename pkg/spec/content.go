package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
)

// FieldProblem is one invalid field of a message's content.
type FieldProblem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Field names used for problems that concern the whole message.
const (
	ContentField     = "content"
	MessageTypeField = "messageType"
)

type propKind int

const (
	propString propKind = iota
	propInt
	propNumber
	propNumberArray
	propAny
)

// builtinProp is one field of a built-in type's content schema.
type builtinProp struct {
	name     string
	kind     propKind
	required bool
	min, max float64 // bounds for numbers; both 0 means unbounded
}

func (p builtinProp) bounded() bool { return p.min != 0 || p.max != 0 }

var noMax = math.Inf(1)

// builtinSchemas are the content schemas of the built-in message types.
// Required strings must be non-empty.
var builtinSchemas = map[HubMessageType][]builtinProp{
	MessageText: {
		{name: "body", kind: propString, required: true},
	},
	MessageImage: {
		{name: "mediaUrl", kind: propString, required: true},
		{name: "thumbnail", kind: propString},
		{name: "caption", kind: propString},
		{name: "width", kind: propInt, min: 0, max: noMax},
		{name: "height", kind: propInt, min: 0, max: noMax},
	},
	MessageVideo: {
		{name: "mediaUrl", kind: propString, required: true},
		{name: "thumbnail", kind: propString},
		{name: "caption", kind: propString},
		{name: "duration", kind: propNumber, min: 0, max: noMax},
	},
	MessageAudio: {
		{name: "mediaUrl", kind: propString, required: true},
		{name: "duration", kind: propNumber, min: 0, max: noMax},
		{name: "waveform", kind: propNumberArray},
	},
	MessageDocument: {
		{name: "mediaUrl", kind: propString, required: true},
		{name: "fileName", kind: propString},
		{name: "fileSize", kind: propInt, min: 0, max: noMax},
		{name: "mimeType", kind: propString},
	},
	MessageSticker: {
		{name: "stickerUrl", kind: propString, required: true},
		{name: "stickerPackId", kind: propString},
	},
	MessageContact: {
		{name: "contactName", kind: propString, required: true},
		{name: "contactPhone", kind: propString},
		{name: "contactUserId", kind: propString},
	},
	MessageLocation: {
		{name: "lat", kind: propNumber, required: true, min: -90, max: 90},
		{name: "lng", kind: propNumber, required: true, min: -180, max: 180},
		{name: "address", kind: propString},
		{name: "label", kind: propString},
	},
	MessageSystem: {
		{name: "systemAction", kind: propString, required: true},
		{name: "systemData", kind: propAny},
	},
}

// ValidateContent checks the content of a message of messageType (built-in
// or custom) and reports every bad field. Content must be a JSON object;
// unknown keys are problems; a null field counts as absent. On success the
// normalized content is returned: nulls dropped, Integer fields in integer
// form and absent custom fields with a default filled in. Whether the type
// is enabled or allowed for the sender is left to the caller. Flat content
// already in normalized form is returned as it is, sharing content's bytes
// (capped at its length): callers pass content nothing writes to.
func (h *Hub) ValidateContent(messageType string, content json.RawMessage) (json.RawMessage, []FieldProblem) {
	return h.validateContent(messageType, content, false)
}

// ValidateValidContent is ValidateContent for content known to be one
// valid JSON value (or empty), such as a member of a payload json.Valid
// accepted whole: it does not check that again.
func (h *Hub) ValidateValidContent(messageType string, content json.RawMessage) (json.RawMessage, []FieldProblem) {
	return h.validateContent(messageType, content, true)
}

func (h *Hub) validateContent(messageType string, content json.RawMessage, valid bool) (json.RawMessage, []FieldProblem) {
	schema, builtin := builtinSchemas[HubMessageType(messageType)]
	var ct *HubCustomMessageType
	if !builtin {
		var ok bool
		if ct, ok = h.CustomType(messageType); !ok {
			return nil, []FieldProblem{{Field: MessageTypeField, Message: fmt.Sprintf("unknown message type %q", messageType)}}
		}
	}
	if len(bytes.TrimSpace(content)) == 0 {
		return nil, []FieldProblem{{Field: ContentField, Message: "required"}}
	}
	if !valid && !json.Valid(content) {
		return nil, []FieldProblem{{Field: ContentField, Message: "invalid JSON"}}
	}
	var (
		flat json.RawMessage
		ok   bool
	)
	if builtin {
		flat, ok = validateFlatBuiltin(schema, content)
	} else {
		flat, ok = validateFlatCustom(ct, content)
	}
	if ok {
		return flat, nil
	}
	return validateDecoded(schema, ct, content)
}

// validateDecoded is ValidateContent's full path, on valid JSON: the
// content decoded, checked against a built-in schema (ct nil) or a custom
// type, and encoded again.
func validateDecoded(schema []builtinProp, ct *HubCustomMessageType, content json.RawMessage) (json.RawMessage, []FieldProblem) {
	raw, err := decodeValidJSON(content)
	if err != nil {
		return nil, []FieldProblem{{Field: ContentField, Message: "invalid JSON"}}
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, []FieldProblem{{Field: ContentField, Message: "must be a JSON object, got " + jsonKind(raw)}}
	}
	if problems := CheckValues(obj, ""); len(problems) > 0 {
		return nil, problems
	}
	var (
		out      map[string]any
		problems []FieldProblem
	)
	if ct == nil {
		out, problems = checkBuiltin(schema, obj)
	} else {
		out, problems = checkCustom(ct, obj)
	}
	if len(problems) > 0 {
		return nil, problems
	}
	normalized, err := json.Marshal(out)
	if err != nil {
		// Every value comes from a JSON decode or a validated default.
		return nil, []FieldProblem{{Field: ContentField, Message: "cannot encode: " + err.Error()}}
	}
	return normalized, nil
}

// unknownKeys reports the keys of obj not in known, sorted.
func unknownKeys(obj map[string]any, known func(string) bool) []FieldProblem {
	var keys []string
	for k := range obj {
		if !known(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	problems := make([]FieldProblem, 0, len(keys))
	for _, k := range keys {
		problems = append(problems, FieldProblem{Field: k, Message: "unknown field"})
	}
	return problems
}

func checkBuiltin(schema []builtinProp, obj map[string]any) (map[string]any, []FieldProblem) {
	out := make(map[string]any, len(obj))
	var problems []FieldProblem
	bad := func(field, format string, args ...any) {
		problems = append(problems, FieldProblem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	for _, p := range schema {
		v := obj[p.name]
		if v == nil {
			if p.required {
				bad(p.name, "required")
			}
			continue
		}
		switch p.kind {
		case propString:
			s, ok := v.(string)
			if !ok {
				bad(p.name, "expected string, got %s", jsonKind(v))
				continue
			}
			if p.required && s == "" {
				bad(p.name, "required")
				continue
			}
		case propInt, propNumber:
			n, ok := v.(json.Number)
			if !ok {
				bad(p.name, "expected number, got %s", jsonKind(v))
				continue
			}
			f, err := n.Float64()
			if err != nil {
				bad(p.name, msgNumberRange)
				continue
			}
			if p.kind == propInt {
				if msg := checkNumber(n, true); msg != "" {
					bad(p.name, "%s", msg)
					continue
				}
				i, err := parseWholeNumber(n)
				if err != nil {
					bad(p.name, "expected integer, got %s", n)
					continue
				}
				v = i
			}
			if p.bounded() && (f < p.min || f > p.max) {
				if math.IsInf(p.max, 1) {
					bad(p.name, "must be >= %g", p.min)
				} else {
					bad(p.name, "must be between %g and %g", p.min, p.max)
				}
				continue
			}
		case propNumberArray:
			arr, ok := v.([]any)
			if !ok {
				bad(p.name, "expected array of numbers, got %s", jsonKind(v))
				continue
			}
			for i, el := range arr {
				if _, ok := el.(json.Number); !ok {
					bad(fmt.Sprintf("%s[%d]", p.name, i), "expected number, got %s", jsonKind(el))
				}
			}
		case propAny:
		}
		out[p.name] = v
	}
	problems = append(problems, unknownKeys(obj, func(k string) bool {
		for _, p := range schema {
			if p.name == k {
				return true
			}
		}
		return false
	})...)
	return out, problems
}

func checkCustom(ct *HubCustomMessageType, obj map[string]any) (map[string]any, []FieldProblem) {
	out := make(map[string]any, len(obj))
	var problems []FieldProblem
	for i := range ct.Fields {
		f := &ct.Fields[i]
		v := obj[f.Name]
		if v == nil {
			switch {
			case f.Default != nil:
				out[f.Name] = f.Default
			case f.Required:
				problems = append(problems, FieldProblem{Field: f.Name, Message: "required"})
			}
			continue
		}
		nv, msg := checkField(f, v)
		if msg != "" {
			problems = append(problems, FieldProblem{Field: f.Name, Message: msg})
			continue
		}
		out[f.Name] = nv
	}
	problems = append(problems, unknownKeys(obj, func(k string) bool {
		for i := range ct.Fields {
			if ct.Fields[i].Name == k {
				return true
			}
		}
		return false
	})...)
	return out, problems
}
