package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// decodeStrict copies the generic JSON tree raw (as produced by a
// json.Decoder with UseNumber) into the struct pointed to by out. Unknown
// keys and type mismatches are reported with their field path; decoding goes
// on after an error so that every problem of the file is reported.
func decodeStrict(raw any, out any, c *collector) {
	decodeValue("", "", raw, reflect.ValueOf(out).Elem(), c)
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// jsonKind names the JSON type of a decoded value for error messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "boolean"
	default:
		return fmt.Sprintf("%T", v)
	}
}

type fieldInfo struct {
	index int
	tag   string
}

func structFields(t reflect.Type) map[string]fieldInfo {
	fields := make(map[string]fieldInfo, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("json"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = fieldInfo{index: i, tag: tag}
	}
	return fields
}

// decodeValue decodes raw into v. key is the JSON name of the field being
// decoded (empty for array elements and the root).
func decodeValue(path, key string, raw any, v reflect.Value, c *collector) {
	if raw == nil {
		// null means absent: the zero value stays and defaults apply.
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		obj, ok := raw.(map[string]any)
		if !ok {
			c.add(path, "expected object, got %s", jsonKind(raw))
			return
		}
		fields := structFields(v.Type())
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			fi, ok := fields[k]
			if !ok {
				c.add(joinPath(path, k), "unknown field")
				continue
			}
			decodeValue(joinPath(path, k), k, obj[k], v.Field(fi.index), c)
		}
	case reflect.Slice:
		arr, ok := raw.([]any)
		if !ok {
			c.add(path, "expected array, got %s", jsonKind(raw))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(arr), len(arr))
		for i, el := range arr {
			elPath := fmt.Sprintf("%s[%d]", path, i)
			if el == nil {
				c.add(elPath, "expected %s, got null", typeWord(v.Type().Elem()))
				continue
			}
			decodeValue(elPath, "", el, s.Index(i), c)
		}
		v.Set(s)
	case reflect.String:
		switch x := raw.(type) {
		case string:
			v.SetString(x)
		case json.Number:
			if key == "defaultValue" {
				v.SetString(x.String())
				return
			}
			c.add(path, "expected string, got number")
		case bool:
			if key == "defaultValue" {
				v.SetString(strconv.FormatBool(x))
				return
			}
			c.add(path, "expected string, got boolean")
		default:
			c.add(path, "expected string, got %s", jsonKind(raw))
		}
	case reflect.Bool:
		b, ok := raw.(bool)
		if !ok {
			c.add(path, "expected boolean, got %s", jsonKind(raw))
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := raw.(json.Number)
		if !ok {
			c.add(path, "expected integer, got %s", jsonKind(raw))
			return
		}
		i, err := parseWholeNumber(n)
		if err != nil {
			c.add(path, "expected integer, got %s", n.String())
			return
		}
		if v.OverflowInt(i) {
			c.add(path, "integer %s out of range", n.String())
			return
		}
		v.SetInt(i)
	default:
		// Only reachable if a new field kind is added to the types without
		// support here; reported rather than silently dropped.
		c.add(path, "unsupported field kind %s", v.Kind())
	}
}

func typeWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Struct:
		return "object"
	case reflect.String:
		return "string"
	default:
		return t.Kind().String()
	}
}

// parseWholeNumber parses a JSON number whose value is a whole number that
// fits in int64 ("3", "3.0" and "3e2" are accepted, "3.5" is not).
func parseWholeNumber(n json.Number) (int64, error) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return 0, fmt.Errorf("parse number %q: %w", n, err)
	}
	if f != math.Trunc(f) || f < math.MinInt64 || f >= math.MaxInt64 || math.IsInf(f, 0) {
		return 0, fmt.Errorf("number %q is not a whole number in range", n)
	}
	return int64(f), nil
}
