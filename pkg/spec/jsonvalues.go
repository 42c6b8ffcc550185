package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// MaxSafeInteger is the largest integer a JSON client holding numbers as
// IEEE doubles (JavaScript) reads exactly: 2^53 - 1.
const MaxSafeInteger = 1<<53 - 1

// Messages of the value checks, shared by every path that takes client
// JSON (message content, custom event data).
const (
	msgBinary        = "binary data is not allowed (the spec has no binary field type)"
	msgNumberRange   = "number out of range (not a finite double)"
	msgIntegerRange  = "integer beyond ±(2^53-1): JSON clients cannot hold it exactly"
	placeholderKey   = "_placeholder"
	placeholderIndex = "num"
)

// CheckJSONValues walks a JSON document and reports the values no field
// type accepts: binary data (a Socket.IO attachment placeholder
// {"_placeholder":true,"num":N}), numbers that do not fit a double
// (1e400) and integers written as such beyond MaxSafeInteger. Paths are
// relative to the document ("" for the document itself). A document that
// is not JSON is reported too.
func CheckJSONValues(raw json.RawMessage) []FieldProblem {
	v, err := decodeJSON(raw)
	if err != nil {
		return []FieldProblem{{Field: "", Message: "invalid JSON"}}
	}
	return CheckValues(v, "")
}

// CheckValues is CheckJSONValues on a value decoded with UseNumber.
func CheckValues(v any, path string) []FieldProblem {
	var out []FieldProblem
	walkValues(v, path, &out)
	return out
}

func walkValues(v any, path string, out *[]FieldProblem) {
	switch x := v.(type) {
	case map[string]any:
		if isPlaceholder(x) {
			*out = append(*out, FieldProblem{Field: path, Message: msgBinary})
			return
		}
		var small [16]string // the keys of a small object, sorted without a heap slice
		keys := small[:0]
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if mayHaveProblem(x[k]) {
				walkValues(x[k], joinPath(path, k), out)
			}
		}
	case []any:
		for i, el := range x {
			if mayHaveProblem(el) {
				walkValues(el, fmt.Sprintf("%s[%d]", path, i), out)
			}
		}
	case json.Number:
		if msg := checkNumber(x, false); msg != "" {
			*out = append(*out, FieldProblem{Field: path, Message: msg})
		}
	}
}

// mayHaveProblem tells whether walkValues can find a problem in v: only
// objects, arrays and numbers can hold one, so only their paths are
// written out.
func mayHaveProblem(v any) bool {
	switch v.(type) {
	case map[string]any, []any, json.Number:
		return true
	}
	return false
}

// isPlaceholder reports whether an object is a Socket.IO binary attachment
// placeholder: {"_placeholder": true, "num": <number>}.
func isPlaceholder(obj map[string]any) bool {
	b, ok := obj[placeholderKey].(bool)
	if !ok || !b {
		return false
	}
	_, ok = obj[placeholderIndex].(json.Number)
	return ok
}

// checkNumber returns a problem with a JSON number, "" when it is fine: it
// must be a finite double; an integer literal (or, with integer, any
// whole value) must be within ±MaxSafeInteger.
func checkNumber(n json.Number, integer bool) string {
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return msgNumberRange
	}
	literalInt := !strings.ContainsAny(string(n), ".eE")
	if (integer || literalInt) && math.Abs(f) > MaxSafeInteger {
		return msgIntegerRange
	}
	if literalInt {
		// A literal near the limit may round to it as a double.
		if i, err := strconv.ParseInt(string(n), 10, 64); err != nil || i > MaxSafeInteger || i < -MaxSafeInteger {
			return msgIntegerRange
		}
	}
	return ""
}
