package scripting

import (
	"encoding/json"
	"errors"
	"strconv"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// errFastJSON makes decodeJSON fall back to the runtime's JSON.parse.
var errFastJSON = errors.New("not handled by the fast JSON decoder")

// decodeJSON converts JSON text to JavaScript values directly, with the
// result JSON.parse would give (key order, numbers as doubles, "__proto__"
// as an own property), several times faster than goja's JSON.parse for the
// small documents message contents are. Input it does not handle (invalid
// JSON, nesting past maxDepth) goes to JSON.parse, which reports the error.
func (rt *jsRuntime) decodeJSON(b []byte) (goja.Value, error) {
	d := jsonDecoder{rt: rt, b: b}
	v, err := d.value(0)
	if err == nil {
		d.space()
		if d.i != len(d.b) {
			err = errFastJSON
		}
	}
	if err != nil {
		return rt.parseJSON(b)
	}
	return v, nil
}

type jsonDecoder struct {
	rt *jsRuntime
	b  []byte
	i  int
}

func (d *jsonDecoder) space() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *jsonDecoder) value(depth int) (goja.Value, error) {
	if depth > maxDepth {
		return nil, errFastJSON
	}
	d.space()
	if d.i >= len(d.b) {
		return nil, errFastJSON
	}
	vm := d.rt.vm
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(depth)
	case c == '[':
		return d.array(depth)
	case c == '"':
		s, err := d.str()
		if err != nil {
			return nil, err
		}
		return vm.ToValue(s), nil
	case c == 't':
		return d.literal("true", goja.Value(vm.ToValue(true)))
	case c == 'f':
		return d.literal("false", goja.Value(vm.ToValue(false)))
	case c == 'n':
		return d.literal("null", goja.Null())
	case c == '-' || (c >= '0' && c <= '9'):
		return d.number()
	}
	return nil, errFastJSON
}

func (d *jsonDecoder) literal(word string, v goja.Value) (goja.Value, error) {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return nil, errFastJSON
	}
	d.i += len(word)
	return v, nil
}

func (d *jsonDecoder) number() (goja.Value, error) {
	start := d.i
	for d.i < len(d.b) {
		c := d.b[d.i]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			d.i++
			continue
		}
		break
	}
	text := d.b[start:d.i]
	if !json.Valid(text) { // the JSON number grammar (no "01", "1.", "+1")
		return nil, errFastJSON
	}
	f, err := strconv.ParseFloat(string(text), 64)
	if err != nil {
		return nil, errFastJSON
	}
	return d.rt.vm.ToValue(f), nil
}

// str reads a string; one with escapes is unquoted by encoding/json.
func (d *jsonDecoder) str() (string, error) {
	start := d.i
	d.i++
	escaped := false
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			d.i++
			if !escaped {
				raw := d.b[start+1 : d.i-1]
				if !utf8.Valid(raw) { // JSON.parse replaces bad bytes
					return "", errFastJSON
				}
				return string(raw), nil
			}
			var s string
			if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
				return "", errFastJSON
			}
			return s, nil
		case c == '\\':
			escaped = true
			d.i += 2
		case c < 0x20:
			return "", errFastJSON
		default:
			d.i++
		}
	}
	return "", errFastJSON
}

func (d *jsonDecoder) object(depth int) (goja.Value, error) {
	o := d.rt.vm.NewObject()
	d.i++ // {
	d.space()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return o, nil
	}
	for {
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return nil, errFastJSON
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.space()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return nil, errFastJSON
		}
		d.i++
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if err := o.DefineDataProperty(k, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
			return nil, errFastJSON
		}
		d.space()
		if d.i >= len(d.b) {
			return nil, errFastJSON
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return o, nil
		default:
			return nil, errFastJSON
		}
	}
}

func (d *jsonDecoder) array(depth int) (goja.Value, error) {
	d.i++ // [
	var items []any
	d.space()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return d.rt.vm.NewArray(), nil
	}
	for {
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
		d.space()
		if d.i >= len(d.b) {
			return nil, errFastJSON
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return d.rt.vm.NewArray(items...), nil
		default:
			return nil, errFastJSON
		}
	}
}
