package spec

import (
	"bytes"
	"encoding/json"
	"slices"
	"unicode/utf8"

	"github.com/hubd/hubd/pkg/jsonscan"
)

// The flat path of ValidateContent: content that is one object of
// distinct, plainly written keys whose values are strings, numbers or
// booleans (the shape of nearly every message) is checked member by member
// on its bytes and written out in normalized form without being decoded
// into a map and encoded again. It settles only content that is valid and
// whose normalized form it can write exactly as the full path does; on
// anything else (a problem, a null, a nested value, an escape, a
// character encoding/json escapes, an integer not in integer form) it
// declines and the full path decides. So both paths give the same result
// whenever the flat one answers (FuzzValidateContentFlat).

// flatMember is one member of flat content: its key, unquoted and free of
// escapes, and its raw value.
type flatMember struct{ key, value []byte }

// maxFlatMembers is the number of members the flat path handles without a
// heap slice; larger objects take the full path.
const maxFlatMembers = 16

// flatMembers appends the members of the valid JSON object content to ms;
// false when content is not flat (see above) or has more than cap(ms)
// members.
func flatMembers(content []byte, ms []flatMember) ([]flatMember, bool) {
	ok := true
	isObject := jsonscan.Members(content, func(key, value []byte) bool {
		k := key[1 : len(key)-1]
		if len(ms) == cap(ms) || !plainString(k) || value[0] == '{' || value[0] == '[' || value[0] == 'n' || findMember(ms, k) >= 0 {
			ok = false
			return false
		}
		ms = append(ms, flatMember{key: k, value: value})
		return true
	})
	return ms, ok && isObject
}

// findMember returns the index of the member named key, -1 for none.
func findMember(ms []flatMember, key []byte) int {
	for i := range ms {
		if bytes.Equal(ms[i].key, key) {
			return i
		}
	}
	return -1
}

// plainString reports whether the unquoted JSON string s reads as
// written and is written as encoding/json writes it: no escapes, valid
// UTF-8, none of the characters it escapes (<, >, &, U+2028, U+2029).
// Control characters cannot occur: json.Valid refuses them in a string.
func plainString(s []byte) bool {
	ascii := true
	for _, c := range s {
		switch {
		case c == '\\' || c == '<' || c == '>' || c == '&':
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return ascii || utf8.Valid(s) && !bytes.Contains(s, lineSeparator) && !bytes.Contains(s, paragraphSeparator)
}

var (
	lineSeparator      = []byte("\u2028")
	paragraphSeparator = []byte("\u2029")
)

// flatString returns the contents of the JSON string v when it is plain.
func flatString(v []byte) ([]byte, bool) {
	if v[0] != '"' || !plainString(v[1:len(v)-1]) {
		return nil, false
	}
	return v[1 : len(v)-1], true
}

// flatNumber returns the JSON number v when it passes the value checks
// (CheckValues), as an integer too when integer is set; with integer, it
// must also be written as the integer it stands for, as the normalized
// content writes it (not 1.0, 1e2 or -0).
func flatNumber(v []byte, integer bool) (json.Number, bool) {
	if v[0] != '-' && (v[0] < '0' || v[0] > '9') {
		return "", false
	}
	n := json.Number(v)
	if integer && (bytes.ContainsAny(v, ".eE") || string(v) == "-0") {
		return "", false
	}
	return n, checkNumber(n, integer) == ""
}

// validateFlatBuiltin is the flat path for a built-in type.
func validateFlatBuiltin(schema []builtinProp, content []byte) (json.RawMessage, bool) {
	var arr [maxFlatMembers]flatMember
	ms, ok := flatMembers(content, arr[:0])
	if !ok {
		return nil, false
	}
	for _, m := range ms {
		p := findProp(schema, m.key)
		if p == nil || !p.flatValid(m.value) {
			return nil, false
		}
	}
	for _, p := range schema {
		if p.required && findMember(ms, []byte(p.name)) < 0 {
			return nil, false
		}
	}
	return writeFlat(content, ms, len(ms)), true
}

func findProp(schema []builtinProp, name []byte) *builtinProp {
	for i := range schema {
		if schema[i].name == string(name) {
			return &schema[i]
		}
	}
	return nil
}

// flatValid reports whether v is a valid flat value of p (see checkBuiltin).
func (p *builtinProp) flatValid(v []byte) bool {
	switch p.kind {
	case propString:
		s, ok := flatString(v)
		return ok && (!p.required || len(s) > 0)
	case propInt, propNumber:
		n, ok := flatNumber(v, p.kind == propInt)
		if !ok {
			return false
		}
		if !p.bounded() {
			return true
		}
		f, err := n.Float64()
		return err == nil && f >= p.min && f <= p.max
	}
	return false // arrays and any values take the full path
}

// validateFlatCustom is the flat path for a custom type.
func validateFlatCustom(ct *HubCustomMessageType, content []byte) (json.RawMessage, bool) {
	var arr [maxFlatMembers]flatMember
	ms, ok := flatMembers(content, arr[:0])
	if !ok {
		return nil, false
	}
	for _, m := range ms {
		f := findField(ct, m.key)
		if f == nil || !flatFieldValid(f, m.value) {
			return nil, false
		}
	}
	given := len(ms)
	for i := range ct.Fields {
		f := &ct.Fields[i]
		if findMember(ms, []byte(f.Name)) >= 0 {
			continue
		}
		switch {
		case f.Default != nil:
			if len(ms) == cap(ms) || !plainString([]byte(f.Name)) {
				return nil, false
			}
			def, err := f.defaultJSONOf()
			if err != nil {
				return nil, false
			}
			ms = append(ms, flatMember{key: []byte(f.Name), value: def})
		case f.Required:
			return nil, false
		}
	}
	return writeFlat(content, ms, given), true
}

func findField(ct *HubCustomMessageType, name []byte) *HubCustomField {
	for i := range ct.Fields {
		if ct.Fields[i].Name == string(name) {
			return &ct.Fields[i]
		}
	}
	return nil
}

// flatFieldValid reports whether v is a valid flat value of f (see
// checkField).
func flatFieldValid(f *HubCustomField, v []byte) bool {
	switch f.FieldType {
	case FieldString, FieldText:
		s, ok := flatString(v)
		return ok && (f.FieldType == FieldText || utf8.RuneCount(s) <= MaxStringLen)
	case FieldInteger, FieldDecimal:
		_, ok := flatNumber(v, f.FieldType == FieldInteger)
		return ok
	case FieldBoolean:
		return string(v) == "true" || string(v) == "false"
	case FieldID:
		s, ok := flatString(v)
		return ok && validID(string(s))
	case FieldDateTime:
		s, ok := flatString(v)
		return ok && validDateTime(string(s))
	case FieldEnum:
		s, ok := flatString(v)
		return ok && slices.Contains(f.enums(), string(s))
	}
	return false // JSON values take the full path
}

// writeFlat returns the normalized form of flat content with members ms,
// the first given of them its own and the rest defaults: the members in
// key order, without space. Content already in that form is returned as
// it is (capped at its length), otherwise a new encoding.
func writeFlat(content []byte, ms []flatMember, given int) json.RawMessage {
	sorted, size := true, 2+max(len(ms)-1, 0)
	for i := range ms {
		size += len(ms[i].key) + 3 + len(ms[i].value)
		if i > 0 && bytes.Compare(ms[i-1].key, ms[i].key) > 0 {
			sorted = false
		}
	}
	if sorted && given == len(ms) && size == len(content) {
		return json.RawMessage(content[:len(content):len(content)])
	}
	for i := 1; i < len(ms); i++ { // insertion sort: a handful of members
		for j := i; j > 0 && bytes.Compare(ms[j-1].key, ms[j].key) > 0; j-- {
			ms[j-1], ms[j] = ms[j], ms[j-1]
		}
	}
	out := make([]byte, 0, size)
	out = append(out, '{')
	for i, m := range ms {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, m.key...)
		out = append(out, '"', ':')
		out = append(out, m.value...)
	}
	return append(out, '}')
}
