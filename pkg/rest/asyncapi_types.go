package rest

import (
	"encoding/json"
	"reflect"
	"strings"

	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/msgstore"
)

// Schemas of outbound payloads, read by reflection from their Go types
// (pkg/hub/outbound.go): the properties are the struct's JSON fields, the
// required ones those not left out when empty, each typed from its Go
// type and refined by the schema of its name where one is known (formats,
// bounds, the error code enum).

var (
	messageType  = reflect.TypeFor[*msgstore.Message]()
	rawType      = reflect.TypeFor[json.RawMessage]()
	anyType      = reflect.TypeFor[any]()
	stringPtrTyp = reflect.TypeFor[*string]()
)

// typed is the schema of an outbound payload of type t.
func (a *asyncGen) typed(t reflect.Type, extra obj) obj {
	p := structSchema(t)
	for k, v := range extra {
		p["properties"].(obj)[k] = v
	}
	return p
}

// structSchema is the object schema of struct type t.
func structSchema(t reflect.Type) obj {
	props := obj{}
	var required []string
	for _, f := range hub.PayloadFieldsOf(t) {
		name := strings.TrimSuffix(f, "?")
		sf, _ := hub.PayloadField(t, name)
		if name == f {
			required = append(required, name)
		}
		props[name] = namedSchema(name, typeSchema(sf.Type))
	}
	p := obj{"type": "object", "properties": props}
	if len(required) > 0 {
		p["required"] = required
	}
	return p
}

// namedSchema refines the schema of a field by what its name is known to
// hold, when the name's schema is of the same JSON type or the Go type
// says nothing (raw JSON).
func namedSchema(name string, s obj) obj {
	t, _ := s["type"].(string)
	if name == "code" && t == "string" {
		return ref("ErrorCode")
	}
	if n, ok := fieldSchemas[name]; ok && (len(s) == 0 || t != "" && n["type"] == t) {
		return n
	}
	return s
}

// typeSchema is the schema of a value of Go type t.
func typeSchema(t reflect.Type) obj {
	switch t {
	case messageType:
		return ref("Message")
	case rawType, anyType:
		return obj{}
	case stringPtrTyp:
		return obj{"type": []string{"string", "null"}}
	}
	switch t.Kind() {
	case reflect.String:
		return obj{"type": "string"}
	case reflect.Bool:
		return obj{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return obj{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return obj{"type": "number"}
	case reflect.Slice, reflect.Array:
		return obj{"type": "array", "items": typeSchema(t.Elem())}
	case reflect.Map:
		return obj{"type": "object"}
	case reflect.Struct:
		return structSchema(t)
	case reflect.Pointer:
		return typeSchema(t.Elem())
	}
	return obj{}
}
