package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// MaxStringLen is the length limit of String fields, in characters (runes).
const MaxStringLen = 255

var (
	uuidRe     = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	objectIDRe = regexp.MustCompile(`^[0-9a-fA-F]{24}$`)
)

func validID(s string) bool { return uuidRe.MatchString(s) || objectIDRe.MatchString(s) }

func validDateTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// checkField validates one decoded JSON value (decoded with UseNumber)
// against a custom field and returns the value to store. msg is empty when
// the value is valid.
func checkField(f *HubCustomField, v any) (out any, msg string) {
	switch f.FieldType {
	case FieldString, FieldText:
		s, ok := v.(string)
		if !ok {
			return nil, "expected string, got " + jsonKind(v)
		}
		if f.FieldType == FieldString && utf8.RuneCountInString(s) > MaxStringLen {
			return nil, fmt.Sprintf("longer than %d characters", MaxStringLen)
		}
		return s, ""
	case FieldInteger:
		n, ok := v.(json.Number)
		if !ok {
			return nil, "expected integer, got " + jsonKind(v)
		}
		i, err := parseWholeNumber(n)
		if err != nil {
			return nil, "expected integer, got " + n.String()
		}
		if msg := checkNumber(n, true); msg != "" {
			return nil, msg
		}
		return i, ""
	case FieldDecimal:
		n, ok := v.(json.Number)
		if !ok {
			return nil, "expected number, got " + jsonKind(v)
		}
		if msg := checkNumber(n, false); msg != "" {
			return nil, msg
		}
		return n, ""
	case FieldBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, "expected boolean, got " + jsonKind(v)
		}
		return b, ""
	case FieldID:
		s, ok := v.(string)
		if !ok || !validID(s) {
			return nil, "expected a UUID or a 24-hex ObjectId"
		}
		return s, ""
	case FieldDateTime:
		s, ok := v.(string)
		if !ok || !validDateTime(s) {
			return nil, "expected an ISO 8601 (RFC 3339) date-time"
		}
		return s, ""
	case FieldEnum:
		s, ok := v.(string)
		if !ok {
			return nil, "expected string, got " + jsonKind(v)
		}
		list := f.enums()
		if slices.Contains(list, s) {
			return s, ""
		}
		return nil, fmt.Sprintf("must be one of %s", strings.Join(list, ", "))
	case FieldJSON:
		switch v.(type) {
		case map[string]any, []any:
			return v, ""
		}
		return nil, "expected object or array, got " + jsonKind(v)
	}
	return nil, fmt.Sprintf("unknown field type %q", f.FieldType)
}

// coerceDefault converts a defaultValue string to the field's Go value.
func coerceDefault(f *HubCustomField) (any, error) {
	s := f.DefaultValue
	switch f.FieldType {
	case FieldString, FieldText, FieldID, FieldDateTime, FieldEnum:
		if _, msg := checkField(f, s); msg != "" {
			return nil, fmt.Errorf("%s", msg)
		}
		return s, nil
	case FieldInteger:
		i, err := parseWholeNumber(json.Number(strings.TrimSpace(s)))
		if err != nil {
			return nil, fmt.Errorf("%q is not an integer", s)
		}
		return i, nil
	case FieldDecimal:
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%q is not a number", s)
		}
		return x, nil
	case FieldBoolean:
		switch strings.TrimSpace(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, fmt.Errorf("%q is not true or false", s)
	case FieldJSON:
		v, err := decodeJSON([]byte(s))
		if err != nil {
			return nil, fmt.Errorf("not valid JSON: %w", err)
		}
		switch v.(type) {
		case map[string]any, []any:
			return v, nil
		}
		return nil, fmt.Errorf("expected a JSON object or array")
	}
	return nil, fmt.Errorf("unknown field type %q", f.FieldType)
}
