// Package records reads the DataObject records hubd authorizes against:
// rooms, memberships and any other object named by a hub spec. Backends sit
// behind Source; Embedded (JSON files on disk) is the default.
package records

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Record is one DataObject record, as decoded from JSON. Records returned by
// a Source belong to the caller.
type Record = map[string]any

// Errors of every Source. Backend failures wrap ErrUnavailable so callers can
// tell "no such record" from "could not ask".
var (
	ErrNotFound      = errors.New("records: not found")
	ErrUnavailable   = errors.New("records: backend unavailable")
	ErrUnknownObject = fmt.Errorf("records: unknown object: %w", ErrNotFound)
)

// Source looks records up.
//
// Get finds the record whose "id" equals id. FindOne finds a record whose
// fields all equal the given values, comparing with ValueString; when several
// match, the one with the smallest id (string order) is returned, so the
// answer is the same on every call and on every backend. An empty match
// selects the record with the smallest id. Both return an error wrapping
// ErrNotFound when nothing matches or the object is unknown.
type Source interface {
	Get(ctx context.Context, object, id string) (Record, error)
	FindOne(ctx context.Context, object string, match map[string]string) (Record, error)
}

// ValueString renders a record field for comparison with a match value:
// strings as they are, numbers in plain decimal without a trailing ".0"
// (3.0 -> "3", 2.5 -> "2.5"), booleans as "true"/"false". ok is false for
// null, objects and arrays, which never match anything.
func ValueString(v any) (s string, ok bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float64:
		return formatFloat(x), true
	case float32:
		return formatFloat(float64(x)), true
	case json.Number:
		if f, err := x.Float64(); err == nil && !isInteger(x.String()) {
			return formatFloat(f), true
		}
		return x.String(), true
	default:
		return "", false
	}
}

// formatFloat prints f without exponent or trailing zeros.
func formatFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// isInteger reports whether a JSON number literal is a plain integer.
func isInteger(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}
