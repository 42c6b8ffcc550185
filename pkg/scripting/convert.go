package scripting

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"

	"github.com/dop251/goja"
)

// maxDepth bounds the nesting of inputs and results; it also stops cycles.
const maxDepth = 64

// inputSize estimates the JSON size of v in bytes (exact for strings without
// escapes, numbers, booleans and raw JSON) and fails once it passes limit or
// nests deeper than maxDepth.
func inputSize(v any, limit, depth int) (int, error) {
	if depth > maxDepth {
		return 0, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	switch x := v.(type) {
	case nil:
		return 4, nil
	case bool:
		return 5, nil
	case string:
		return len(x) + 2, nil
	case json.RawMessage:
		return len(x), nil
	case float64:
		return len(strconv.FormatFloat(x, 'g', -1, 64)), nil
	case int, int64, int32, uint, uint64, uint32, float32, int8, int16, uint8, uint16:
		return len(fmt.Sprint(x)), nil
	case map[string]any:
		n := 2
		for k, e := range x {
			m, err := inputSize(e, limit-n, depth+1)
			if err != nil {
				return 0, err
			}
			n += len(k) + 4 + m
			if n > limit {
				return n, nil
			}
		}
		return n, nil
	case []any:
		n := 2
		for _, e := range x {
			m, err := inputSize(e, limit-n, depth+1)
			if err != nil {
				return 0, err
			}
			n += m + 1
			if n > limit {
				return n, nil
			}
		}
		return n, nil
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return 0, fmt.Errorf("value of type %T: %w", v, err)
		}
		return len(b), nil
	}
}

// toJS converts a plain Go value to a native JavaScript value of vm: objects
// and arrays are copies, so scripts never see or change the caller's maps.
func (rt *jsRuntime) toJS(v any, depth int) (goja.Value, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	vm := rt.vm
	switch x := v.(type) {
	case nil:
		return goja.Null(), nil
	case bool, string, float64, float32, int, int64, int32, int16, int8, uint, uint32, uint16, uint8:
		return vm.ToValue(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return vm.ToValue(float64(x)), nil
		}
		return vm.ToValue(int64(x)), nil
	case json.RawMessage:
		return rt.parseJSON(x)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o := vm.NewObject()
		for _, k := range keys {
			e, err := rt.toJS(x[k], depth+1)
			if err != nil {
				return nil, err
			}
			// DefineDataProperty, not Set: a "__proto__" key stays an own property.
			if err := o.DefineDataProperty(k, e, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
				return nil, fmt.Errorf("key %q: %w", k, err)
			}
		}
		return o, nil
	case []any:
		items := make([]any, len(x))
		for i, e := range x {
			jv, err := rt.toJS(e, depth+1)
			if err != nil {
				return nil, err
			}
			items[i] = jv
		}
		return vm.NewArray(items...), nil
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("value of type %T: %w", v, err)
		}
		return rt.parseJSON(b)
	}
}

// parseJSON runs the JSON.parse captured when the runtime was built (scripts
// cannot replace it).
func (rt *jsRuntime) parseJSON(b []byte) (goja.Value, error) {
	v, err := rt.jsonParse(goja.Undefined(), rt.vm.ToValue(string(b)))
	if err != nil {
		return nil, fmt.Errorf("parse json: %w", err)
	}
	return v, nil
}

// plainJS builds the function that turns a result into plain data inside the
// runtime, where getters, proxies and toJSON run under the call deadline. It
// follows JSON.stringify (toJSON, undefined properties dropped, undefined in
// arrays as null) but refuses functions, promises, symbols, bigints and
// structures deeper than maxDepth instead of dropping them silently.
var plainJS = `(function () {
	var isArray = Array.isArray, keys = Object.keys, define = Object.defineProperty, PromiseCtor = Promise;
	var maxDepth = ` + strconv.Itoa(maxDepth) + `;
	// Refusal carries the path of the offending value, built only on failure.
	function Refusal(what) { this.what = what; this.path = ""; }
	function plain(v, depth) {
		switch (typeof v) {
		case "undefined":
			return null;
		case "function":
			throw new Refusal("a function");
		case "symbol":
			throw new Refusal("a symbol");
		case "bigint":
			throw new Refusal("a bigint");
		case "object":
			break;
		default:
			return v;
		}
		if (v === null) {
			return null;
		}
		if (depth >= maxDepth) {
			throw new Refusal("nested too deeply (a cycle?)");
		}
		if (v instanceof PromiseCtor) {
			throw new Refusal("a promise");
		}
		if (typeof v.toJSON === "function") {
			return plain(v.toJSON(), depth + 1);
		}
		var out = [], i = 0;
		try {
			if (isArray(v)) {
				for (; i < v.length; i++) {
					out[i] = plain(v[i], depth + 1);
				}
				return out;
			}
			out = {};
			var ks = keys(v), k, e;
			for (; i < ks.length; i++) {
				k = ks[i];
				e = v[k];
				if (e === undefined) {
					continue;
				}
				if (k === "__proto__") {
					define(out, k, {value: plain(e, depth + 1), enumerable: true, writable: true, configurable: true});
				} else {
					out[k] = plain(e, depth + 1);
				}
			}
			return out;
		} catch (err) {
			if (err instanceof Refusal) {
				err.path = (isArray(v) ? "[" + i + "]" : "." + ks[i]) + err.path;
			}
			throw err;
		}
	}
	return function (v) {
		try {
			return plain(v, 0);
		} catch (err) {
			if (err instanceof Refusal) {
				throw new TypeError("result" + err.path + " is " + err.what + ", which cannot leave the script");
			}
			throw err;
		}
	};
})()`

// export turns a value returned by a script into plain Go values. Objects go
// through the runtime's plain function first; call it only while the call
// deadline is armed.
func (rt *jsRuntime) export(v goja.Value) (any, error) {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil, nil
	}
	if _, ok := v.(*goja.Symbol); ok {
		return nil, fmt.Errorf("result is a symbol, which cannot leave the script")
	}
	if _, ok := v.(*goja.Object); ok {
		pv, err := rt.plain(goja.Undefined(), v)
		if err != nil {
			return nil, err
		}
		v = pv
	}
	return normalize(v.Export())
}

// normalize walks exported plain data: integral floats become int64 so that
// callers see one type for whole numbers.
func normalize(v any) (any, error) {
	switch x := v.(type) {
	case nil, bool, string, int64:
		return x, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
			return int64(x), nil
		}
		return x, nil
	case map[string]any:
		for k, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			x[k] = n
		}
		return x, nil
	case []any:
		for i, e := range x {
			n, err := normalize(e)
			if err != nil {
				return nil, err
			}
			x[i] = n
		}
		return x, nil
	case *big.Int:
		return nil, fmt.Errorf("result is a bigint, which cannot leave the script")
	default:
		return nil, fmt.Errorf("result of type %T cannot leave the script", v)
	}
}
