package authz

import (
	"encoding/json"
	"strconv"
)

// decodeClaims decodes a token's claims (the JSON of its payload segment)
// as json.Unmarshal into an interface value does; ok is false when that
// fails or gives no object. The usual claims, a flat object of plain
// strings, numbers, booleans and nulls, are scanned (scanClaims) instead of
// decoded by reflection; anything else goes through encoding/json.
func decodeClaims(raw []byte) (claims map[string]any, ok bool) {
	if claims, ok = scanClaims(raw); ok {
		return claims, true
	}
	var decoded any
	if json.Unmarshal(raw, &decoded) != nil {
		return nil, false
	}
	claims, ok = decoded.(map[string]any)
	return claims, ok
}

// scanClaims decodes d when it is a JSON object whose member names are
// plain strings (printable ASCII without escapes, see plainString) and
// whose values are plain strings, numbers, true, false or null, with the
// whitespace JSON allows between them; ok is false for anything else. The
// result is what encoding/json gives for such an object: strings, float64
// numbers, bools and nils, the last of repeated names. All the strings
// share one copy of d.
func scanClaims(d []byte) (claims map[string]any, ok bool) {
	s := string(d) // one copy for every name and string value
	claims = make(map[string]any, 8)
	ok = walkPlainObject(d, func(nameAt, nameEnd, at int) (int, bool) {
		value, next, ok := scanScalar(d, s, at)
		if ok {
			claims[s[nameAt:nameEnd]] = value
		}
		return next, ok
	})
	if !ok {
		return nil, false
	}
	return claims, true
}

// scanScalar reads the value at d[i] (s is d as a string) when it is a
// plain string, a number, true, false or null; it returns it as
// encoding/json decodes it into an interface, and the index after it.
func scanScalar(d []byte, s string, i int) (value any, next int, ok bool) {
	if i >= len(d) {
		return nil, 0, false
	}
	switch c := d[i]; {
	case c == '"':
		v, next, ok := plainString(d, i)
		if !ok {
			return nil, 0, false
		}
		return s[i+1 : i+1+len(v)], next, true
	case c == '-' || '0' <= c && c <= '9':
		end, ok := numberEnd(d, i)
		if !ok {
			return nil, 0, false
		}
		f, err := strconv.ParseFloat(s[i:end], 64)
		if err != nil {
			return nil, 0, false // out of range: encoding/json refuses it too
		}
		return f, end, true
	}
	for _, lit := range [...]struct {
		text  string
		value any
	}{{"true", true}, {"false", false}, {"null", nil}} {
		if len(d)-i >= len(lit.text) && s[i:i+len(lit.text)] == lit.text {
			return lit.value, i + len(lit.text), true
		}
	}
	return nil, 0, false
}

// numberEnd returns the index after the JSON number at d[i] (RFC 8259:
// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?); ok is false
// when d[i:] does not start with one.
func numberEnd(d []byte, i int) (int, bool) {
	digits := func(j int) int {
		for j < len(d) && '0' <= d[j] && d[j] <= '9' {
			j++
		}
		return j
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case i < len(d) && '1' <= d[i] && d[i] <= '9':
		i = digits(i)
	default:
		return 0, false
	}
	if i < len(d) && d[i] == '.' {
		j := digits(i + 1)
		if j == i+1 {
			return 0, false
		}
		i = j
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		j := digits(i)
		if j == i {
			return 0, false
		}
		i = j
	}
	return i, true
}
