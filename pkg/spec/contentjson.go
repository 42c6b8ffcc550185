package spec

import (
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/hubd/hubd/pkg/jsonscan"
)

// errInvalidJSON is the error of decodeContentJSON for input json.Valid refuses.
var errInvalidJSON = errors.New("invalid JSON")

// decodeContentJSON decodes one JSON value as encoding/json does into an any
// with UseNumber (objects as map[string]any, arrays as []any, numbers as
// json.Number, a later duplicate key winning), without a json.Decoder and
// its read buffer per call. json.Valid checks the whole input first (one
// value, depth bounded like encoding/json), so the walk below only meets
// well-formed JSON; a string holding escapes or invalid UTF-8 is unquoted
// by encoding/json itself.
func decodeContentJSON(data []byte) (any, error) {
	if !json.Valid(data) {
		return nil, errInvalidJSON
	}
	return decodeValidJSON(data)
}

// decodeValidJSON is decodeContentJSON on data json.Valid accepted.
func decodeValidJSON(data []byte) (any, error) {
	d := contentDecoder{data: data}
	return d.value()
}

// contentDecoder walks JSON that json.Valid accepted.
type contentDecoder struct {
	data []byte
	i    int
}

func (d *contentDecoder) skipSpace() { d.i = jsonscan.SkipSpace(d.data, d.i) }

func (d *contentDecoder) value() (any, error) {
	d.skipSpace()
	switch c := d.data[d.i]; c {
	case '{':
		return d.object()
	case '[':
		return d.array()
	case '"':
		return d.string()
	case 't':
		d.i += len("true")
		return true, nil
	case 'f':
		d.i += len("false")
		return false, nil
	case 'n':
		d.i += len("null")
		return nil, nil
	default:
		start := d.i
		for d.i < len(d.data) && isNumberByte(d.data[d.i]) {
			d.i++
		}
		return json.Number(d.data[start:d.i]), nil
	}
}

func isNumberByte(c byte) bool {
	return c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

func (d *contentDecoder) object() (any, error) {
	d.i++ // {
	obj := make(map[string]any)
	for {
		d.skipSpace()
		if d.data[d.i] == '}' {
			d.i++
			return obj, nil
		}
		key, err := d.string()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		d.i++ // :
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		obj[key] = v
		d.skipSpace()
		if d.data[d.i] == ',' {
			d.i++
		}
	}
}

func (d *contentDecoder) array() (any, error) {
	d.i++ // [
	arr := []any{}
	for {
		d.skipSpace()
		if d.data[d.i] == ']' {
			d.i++
			return arr, nil
		}
		v, err := d.value()
		if err != nil {
			return nil, err
		}
		arr = append(arr, v)
		d.skipSpace()
		if d.data[d.i] == ',' {
			d.i++
		}
	}
}

// string decodes the string starting at the opening quote.
func (d *contentDecoder) string() (string, error) {
	start := d.i
	d.i++
	plain := true
	for {
		switch c := d.data[d.i]; {
		case c == '"':
			d.i++
			raw := d.data[start+1 : d.i-1]
			if plain && utf8.Valid(raw) {
				return string(raw), nil
			}
			var s string
			if err := json.Unmarshal(d.data[start:d.i], &s); err != nil {
				return "", err
			}
			return s, nil
		case c == '\\':
			plain = false
			d.i += 2
		default:
			d.i++
		}
	}
}
