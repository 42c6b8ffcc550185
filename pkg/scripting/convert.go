package scripting

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"

	"github.com/dop251/goja"
)

// maxDepth bounds the nesting of inputs and results; it also stops cycles.
const maxDepth = 64

// Fields is an object value given as its members, in order: cheaper to
// build than a map for the few fixed members of a context object (the
// hub's message). Scripts see a plain object whose members come in the
// order given, so give them in key order to match a map's (whose members
// are sorted by key); names must be distinct.
type Fields []Field

// Field is one member of Fields.
type Field struct {
	Name  string
	Value any
}

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
	case *Frozen:
		if x == nil {
			return 4, nil
		}
		return x.size, x.err
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
	case Fields:
		n := 2
		for _, f := range x {
			m, err := inputSize(f.Value, limit-n, depth+1)
			if err != nil {
				return 0, err
			}
			n += len(f.Name) + 4 + m
			if n > limit {
				return n, nil
			}
		}
		return n, nil
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
	case *Frozen:
		if x == nil {
			return goja.Null(), nil
		}
		return rt.frozenJS(x)
	case bool, string, float64, float32, int, int64, int32, int16, int8, uint, uint32, uint16, uint8:
		return vm.ToValue(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return vm.ToValue(float64(x)), nil
		}
		return vm.ToValue(int64(x)), nil
	case json.RawMessage:
		return rt.decodeJSON(x)
	case map[string]any:
		var small [16]string // the keys of a small map, sorted without a heap slice
		keys := small[:0]
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		o := vm.NewObject()
		for _, k := range keys {
			if err := rt.defineJS(o, k, x[k], depth); err != nil {
				return nil, err
			}
		}
		return o, nil
	case Fields:
		o := vm.NewObject()
		for _, f := range x {
			if err := rt.defineJS(o, f.Name, f.Value, depth); err != nil {
				return nil, err
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

// defineJS defines the member name of o, the object at depth, as v
// converted.
func (rt *jsRuntime) defineJS(o *goja.Object, name string, v any, depth int) error {
	e, err := rt.toJS(v, depth+1)
	if err != nil {
		return err
	}
	// DefineDataProperty, not Set: a "__proto__" key stays an own property.
	if err := o.DefineDataProperty(name, e, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE); err != nil {
		return fmt.Errorf("key %q: %w", name, err)
	}
	return nil
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

// export turns a value returned by a script into plain Go values, following
// JSON.stringify (toJSON is used, object properties holding undefined are
// dropped, undefined elsewhere is nil) but refusing functions, promises,
// symbols, bigints and nesting deeper than maxDepth instead of dropping them.
// Objects are walked inside a native function called through goja, because
// reading them can run script code (getters, proxies, toJSON): exceptions and
// interrupts from that code come back as errors. Call it only while the call
// deadline is armed.
func (rt *jsRuntime) export(v goja.Value) (any, error) {
	if _, ok := v.(*goja.Object); !ok {
		return exportPrimitive(v, nil)
	}
	rt.exported, rt.exportErr, rt.exportBudget = nil, nil, maxExportValues
	if _, err := rt.exportFn(goja.Undefined(), v); err != nil {
		return nil, err
	}
	out, err := rt.exported, rt.exportErr
	rt.exported, rt.exportErr = nil, nil
	return out, err
}

// maxExportValues bounds the number of values in one result.
const maxExportValues = 100_000

// errExportInterrupted stops an export whose call deadline passed: the walk
// runs in Go, where goja's interrupt is not checked.
var errExportInterrupted = errors.New("result export interrupted")

var promiseType = reflect.TypeOf((*goja.Promise)(nil))

// exportPath is the way to a value inside a result, kept as a chain so the
// string is built only for an error message.
type exportPath struct {
	parent *exportPath
	key    string
	index  int // used when key is ""
}

func (p *exportPath) String() string {
	if p == nil {
		return "result"
	}
	if p.key == "" {
		return p.parent.String() + "[" + strconv.Itoa(p.index) + "]"
	}
	return p.parent.String() + "." + p.key
}

// refusal is why a value cannot leave the script.
type refusal struct {
	path *exportPath
	what string
}

func (r *refusal) Error() string {
	return r.path.String() + " is " + r.what + ", which cannot leave the script"
}

func exportPrimitive(v goja.Value, path *exportPath) (any, error) {
	if v == nil || goja.IsUndefined(v) || goja.IsNull(v) {
		return nil, nil
	}
	if _, ok := v.(*goja.Symbol); ok {
		return nil, &refusal{path, "a symbol"}
	}
	switch x := v.Export().(type) {
	case bool, string, int64:
		return x, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) <= 1<<53 {
			return int64(x), nil
		}
		return x, nil
	case *big.Int:
		return nil, &refusal{path, "a bigint"}
	default:
		return nil, &refusal{path, fmt.Sprintf("a %T", x)}
	}
}

// exportNative is the body of rt.exportFn. It runs inside goja, so script
// exceptions and interrupts raised while reading the value propagate to the
// caller of exportFn; its own outcome goes back through rt.
func (rt *jsRuntime) exportNative(call goja.FunctionCall) goja.Value {
	rt.exported, rt.exportErr = rt.walk(call.Argument(0), 0, nil)
	return goja.Undefined()
}

func (rt *jsRuntime) walk(v goja.Value, depth int, path *exportPath) (any, error) {
	rt.exportBudget--
	if rt.exportBudget < 0 {
		return nil, &refusal{path, fmt.Sprintf("beyond %d values", maxExportValues)}
	}
	if rt.exportBudget%1024 == 0 && rt.call.err() != nil {
		return nil, errExportInterrupted
	}
	obj, ok := v.(*goja.Object)
	if !ok {
		return exportPrimitive(v, path)
	}
	if depth >= maxDepth {
		return nil, &refusal{path, "nested too deeply (a cycle?)"}
	}
	if obj.ClassName() == "Function" {
		return nil, &refusal{path, "a function"}
	}
	if obj.ExportType() == promiseType {
		return nil, &refusal{path, "a promise"}
	}
	if tj, ok := goja.AssertFunction(obj.Get("toJSON")); ok {
		j, err := tj(obj)
		if err != nil {
			panic(err) // rethrow the script's exception or interrupt
		}
		return rt.walk(j, depth+1, path)
	}
	if obj.ClassName() == "Array" {
		n := obj.Get("length").ToInteger()
		out := make([]any, 0, min(n, 1024))
		for i := int64(0); i < n; i++ {
			e, err := rt.walk(obj.Get(strconv.FormatInt(i, 10)), depth+1, &exportPath{parent: path, index: int(i)})
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	keys := obj.Keys()
	out := make(map[string]any, len(keys))
	for _, k := range keys {
		ev := obj.Get(k)
		if ev == nil || goja.IsUndefined(ev) {
			continue
		}
		e, err := rt.walk(ev, depth+1, &exportPath{parent: path, key: k})
		if err != nil {
			return nil, err
		}
		out[k] = e
	}
	return out, nil
}
