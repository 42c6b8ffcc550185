// Package strictjson decodes a request body the way its documented schema
// reads it. encoding/json with DisallowUnknownFields still matches a key
// to a field case-insensitively ("messAgeType" sets messageType) and lets
// a repeated key overwrite the first, while a schema with
// additionalProperties false refuses the first and parsers differ on the
// second. A body that one reader accepts and another refuses, or reads
// differently, is how a rule checked on one path is skipped on another.
package strictjson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"

	"github.com/hubd/hubd/pkg/jsonscan"
)

// Decode decodes the JSON object data into the struct dst points to.
// Every key must be the json name of one of its fields, spelled exactly,
// and appear once, and its value must not be null unless the field is
// tagged `strictjson:"nullable"` (encoding/json reads null as "leave the
// field as it is", a schema as a value of type null). The same holds for
// the structs inside it (fields, elements of slices and arrays, values of
// maps). Nothing but whitespace may follow the object. Errors read as
// encoding/json's ("json: unknown field ...").
func Decode(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data after the JSON object")
	}
	return checkKeys(data, reflect.TypeOf(dst).Elem())
}

// checkKeys checks the keys of the objects in d, valid JSON decoded into
// type t: those of a struct against its fields, and those inside its
// elements (slices, arrays) and values (maps) likewise.
func checkKeys(d []byte, t reflect.Type) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		return checkObject(d, t)
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 { // []byte, json.RawMessage: no keys to check
			return nil
		}
		elems, _ := jsonscan.Elements(d, [][]byte(nil))
		for _, e := range elems {
			if err := checkKeys(e, t.Elem()); err != nil {
				return err
			}
		}
	case reflect.Map:
		var err error
		jsonscan.Members(d, func(_, value []byte) bool {
			err = checkKeys(value, t.Elem())
			return err == nil
		})
		return err
	}
	return nil
}

// checkObject checks the keys of the object d against the fields of the
// struct type t; anything but an object (null) has none.
func checkObject(d []byte, t reflect.Type) error {
	fields := fieldsOf(t)
	seen := make(map[string]bool, len(fields))
	var err error
	jsonscan.Members(d, func(key, value []byte) bool {
		var name string
		if err = json.Unmarshal(key, &name); err != nil {
			return false
		}
		f, ok := fields[name]
		switch {
		case !ok:
			err = fmt.Errorf("json: unknown field %q", name)
		case seen[name]:
			err = fmt.Errorf("json: duplicate field %q", name)
		case !f.nullable && string(value) == "null":
			err = fmt.Errorf("json: field %q must not be null", name)
		default:
			seen[name] = true
			err = checkKeys(value, f.t)
		}
		return err == nil
	})
	return err
}

// field is what Decode checks of a struct field: its type, and whether
// its value may be null.
type field struct {
	t        reflect.Type
	nullable bool
}

var fieldCache sync.Map // reflect.Type → map[string]field

// fieldsOf maps the json names of the struct type t's fields, those of
// embedded structs included, to what Decode checks of them.
func fieldsOf(t reflect.Type) map[string]field {
	if f, ok := fieldCache.Load(t); ok {
		return f.(map[string]field)
	}
	fields := map[string]field{}
	addFields(t, fields)
	fieldCache.Store(t, fields)
	return fields
}

func addFields(t reflect.Type, fields map[string]field) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" {
			name = f.Name
		}
		switch {
		case name == "-":
		case f.Anonymous && f.Tag.Get("json") == "" && f.Type.Kind() == reflect.Struct:
			addFields(f.Type, fields)
		case !f.IsExported():
		default:
			fields[name] = field{t: f.Type, nullable: f.Tag.Get("strictjson") == "nullable"}
		}
	}
}
