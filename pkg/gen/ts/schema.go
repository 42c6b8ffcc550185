package ts

import (
	"encoding/json"
	"sort"
	"strings"
)

// schemaRefPrefix is how OpenAPI documents name their component schemas.
const schemaRefPrefix = "#/components/schemas/"

// schemaType renders a JSON Schema (as decoded from an OpenAPI document) as
// a TypeScript type. A $ref to a component schema becomes
// Schemas["<name>"]; indent is the indentation of the line the type starts
// on. Unknown or empty schemas are unknown.
func schemaType(s map[string]any, indent string) string {
	if s == nil {
		return "unknown"
	}
	if ref, ok := s["$ref"].(string); ok {
		if name, ok := strings.CutPrefix(ref, schemaRefPrefix); ok {
			return "Schemas[" + quote(name) + "]"
		}
		return "unknown"
	}
	var parts []string
	if list, ok := s["allOf"].([]any); ok {
		parts = append(parts, combine(list, " & ", indent))
	}
	if core := coreType(s, indent); core != "" {
		parts = append(parts, core)
	}
	if len(parts) == 0 {
		return "unknown"
	}
	return strings.Join(parts, " & ")
}

// coreType renders what a schema says besides $ref and allOf; "" when it
// says nothing else.
func coreType(s map[string]any, indent string) string {
	if c, ok := s["const"]; ok {
		return literal(c)
	}
	if e, ok := s["enum"].([]any); ok && len(e) > 0 {
		parts := make([]string, len(e))
		for i, v := range e {
			parts[i] = literal(v)
		}
		return strings.Join(parts, " | ")
	}
	for _, k := range []string{"oneOf", "anyOf"} {
		if list, ok := s[k].([]any); ok {
			return combine(list, " | ", indent)
		}
	}
	switch t := s["type"].(type) {
	case string:
		return typeOf(t, s, indent)
	case []any:
		parts := make([]string, 0, len(t))
		for _, x := range t {
			if name, ok := x.(string); ok {
				parts = append(parts, typeOf(name, s, indent))
			}
		}
		return strings.Join(parts, " | ")
	}
	if _, ok := s["properties"]; ok {
		return objectType(s, indent)
	}
	return ""
}

// typeOf renders one JSON Schema type name.
func typeOf(t string, s map[string]any, indent string) string {
	switch t {
	case "string":
		return "string"
	case "integer", "number":
		return "number"
	case "boolean":
		return "boolean"
	case "null":
		return "null"
	case "array":
		items, _ := s["items"].(map[string]any)
		return "Array<" + schemaType(items, indent) + ">"
	case "object":
		return objectType(s, indent)
	}
	return "unknown"
}

// combine renders a oneOf/anyOf/allOf list.
func combine(list []any, sep, indent string) string {
	parts := make([]string, 0, len(list))
	for _, x := range list {
		m, _ := x.(map[string]any)
		parts = append(parts, "("+schemaType(m, indent)+")")
	}
	if len(parts) == 0 {
		return "unknown"
	}
	return strings.Join(parts, sep)
}

// objectType renders an object schema: its properties (sorted by name, the
// required ones without "?") and, when additionalProperties allows more,
// an index signature.
func objectType(s map[string]any, indent string) string {
	props, _ := s["properties"].(map[string]any)
	required := map[string]bool{}
	if list, ok := s["required"].([]any); ok {
		for _, r := range list {
			if name, ok := r.(string); ok {
				required[name] = true
			}
		}
	}
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	sort.Strings(names)
	extra := ""
	switch ap := s["additionalProperties"].(type) {
	case map[string]any:
		extra = schemaType(ap, indent+"  ")
	case bool:
		if ap {
			extra = "unknown"
		}
	case nil:
		if len(props) == 0 {
			extra = "unknown"
		}
	}
	if len(names) == 0 && extra != "" {
		return "{ [key: string]: " + extra + " }"
	}
	var b strings.Builder
	b.WriteString("{\n")
	inner := indent + "  "
	for _, name := range names {
		p, _ := props[name].(map[string]any)
		writeDoc(&b, inner, stringOf(p["description"]))
		opt := "?"
		if required[name] {
			opt = ""
		}
		b.WriteString(inner + propName(name) + opt + ": " + schemaType(p, inner) + ";\n")
	}
	if extra != "" {
		b.WriteString(inner + "[key: string]: " + extra + ";\n")
	}
	b.WriteString(indent + "}")
	return b.String()
}

// writeDoc writes a JSDoc comment when text is not empty.
func writeDoc(b *strings.Builder, indent, text string) {
	text = strings.TrimSpace(text)
	if text == "" {
		return
	}
	text = strings.ReplaceAll(text, "*/", "*\\/")
	lines := strings.Split(text, "\n")
	if len(lines) == 1 {
		b.WriteString(indent + "/** " + lines[0] + " */\n")
		return
	}
	b.WriteString(indent + "/**\n")
	for _, l := range lines {
		b.WriteString(strings.TrimRight(indent+" * "+l, " ") + "\n")
	}
	b.WriteString(indent + " */\n")
}

func stringOf(v any) string {
	s, _ := v.(string)
	return s
}

// literal renders a JSON value as a TypeScript literal type.
func literal(v any) string {
	switch v.(type) {
	case string, float64, bool, nil:
		b, _ := json.Marshal(v)
		return string(b)
	}
	return "unknown"
}

// quote renders s as a TypeScript string literal.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// propName renders a property name, quoted unless it is an identifier.
func propName(name string) string {
	if isIdent(name) {
		return name
	}
	return quote(name)
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || r == '$' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}
