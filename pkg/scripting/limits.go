package scripting

import (
	"fmt"
	"math"
	"time"

	"github.com/dlclark/regexp2/v2"
	"github.com/dop251/goja"
)

// DefaultMemoryBudget is the default of Options.MemoryBudget.
const DefaultMemoryBudget = 64 << 20

// Bytes one value of an array costs at least: a goja Value interface (16)
// plus the boxed number or pointer behind it.
const bytesPerElement = 24

func init() {
	SetRegexpTimeout(DefaultCallTimeout)
}

// SetRegexpTimeout bounds one regular expression match of every script in
// the process (goja matches backtracking patterns with regexp2, which the
// call deadline cannot interrupt). The daemon sets it to the call timeout
// before any engine starts: a match starts inside a call, so one stopped
// this way belongs to a call whose deadline has passed, and that call ends
// with a timeout error. Not safe to call while scripts run.
func SetRegexpTimeout(d time.Duration) {
	if d > 0 {
		regexp2.DefaultMatchTimeout = d
	}
}

// estimator returns the bytes a built-in call is about to allocate.
type estimator func(rt *jsRuntime, call goja.FunctionCall) float64

// guardedBuiltins are the built-ins that allocate a result whose size the
// arguments choose, in one step the call deadline cannot interrupt.
var guardedBuiltins = []struct {
	obj, name string
	est       estimator
}{
	{"String.prototype", "repeat", func(rt *jsRuntime, c goja.FunctionCall) float64 {
		return 2 * float64(strLen(c.This)) * c.Argument(0).ToFloat()
	}},
	{"String.prototype", "padStart", estPad},
	{"String.prototype", "padEnd", estPad},
	{"String.prototype", "concat", func(rt *jsRuntime, c goja.FunctionCall) float64 {
		n := strLen(c.This)
		for _, a := range c.Arguments {
			n += strLen(a)
		}
		return 2 * float64(n)
	}},
	{"Array.prototype", "fill", func(rt *jsRuntime, c goja.FunctionCall) float64 {
		n := rt.lengthOf(c.This)
		start, end := relIndex(c.Argument(1), n, 0), relIndex(c.Argument(2), n, n)
		return bytesPerElement * max(end-start, 0)
	}},
	{"Array.prototype", "join", estJoin},
	{"Array.prototype", "concat", func(rt *jsRuntime, c goja.FunctionCall) float64 {
		n := max(rt.lengthOf(c.This), 1)
		for _, a := range c.Arguments {
			n += max(rt.lengthOf(a), 1)
		}
		return bytesPerElement * n
	}},
	{"Array", "from", func(rt *jsRuntime, c goja.FunctionCall) float64 {
		return bytesPerElement * rt.lengthOf(c.Argument(0))
	}},
}

// guardedConstructors allocate their backing store at once: they are
// replaced by functions that check the size first and construct the
// original. The replacement shares the original's prototype and statics and
// each prototype's constructor points at it, so instanceof, subclassing and
// species constructors work as before.
var guardedConstructors = []string{
	"ArrayBuffer", "Int8Array", "Uint8Array", "Uint8ClampedArray", "Int16Array", "Uint16Array",
	"Int32Array", "Uint32Array", "Float32Array", "Float64Array",
}

const guardConstructorsSrc = `(function (g, names, charge) {
  "use strict";
  function wrap(name, C) {
    var per = C.BYTES_PER_ELEMENT || 1;
    var W = function () {
      if (new.target === undefined) throw new TypeError("Constructor " + name + " requires 'new'");
      var a = arguments[0], n = 0;
      if (typeof a === "number") n = a;
      else if (a !== null && typeof a === "object") n = (typeof a.length === "number" ? a.length : (typeof a.byteLength === "number" ? a.byteLength : 0));
      charge(name, n * per);
      return Reflect.construct(C, arguments, new.target === W ? C : new.target);
    };
    Object.setPrototypeOf(W, Object.getPrototypeOf(C));
    var keys = Reflect.ownKeys(C);
    for (var i = 0; i < keys.length; i++) {
      if (keys[i] === "prototype" || keys[i] === "length" || keys[i] === "name") continue;
      Object.defineProperty(W, keys[i], Object.getOwnPropertyDescriptor(C, keys[i]));
    }
    Object.defineProperty(W, "name", { value: name });
    Object.defineProperty(W, "length", { value: C.length });
    Object.defineProperty(W, "prototype", { value: C.prototype, writable: false });
    Object.defineProperty(C.prototype, "constructor", { value: W, writable: true, enumerable: false, configurable: true });
    Object.defineProperty(g, name, { value: W, writable: true, enumerable: false, configurable: true });
  }
  for (var i = 0; i < names.length; i++) if (typeof g[names[i]] === "function") wrap(names[i], g[names[i]]);
})`

func estPad(rt *jsRuntime, c goja.FunctionCall) float64 {
	return 2 * c.Argument(0).ToFloat()
}

// estJoin sums the lengths of the string elements and the separators;
// other elements count bytesPerElement. An array too long to fit even then
// is refused without reading its elements.
func estJoin(rt *jsRuntime, c goja.FunctionCall) float64 {
	n := rt.lengthOf(c.This)
	sep := 1
	if a := c.Argument(0); !goja.IsUndefined(a) {
		sep = strLen(a)
	}
	floor := n * float64(sep+1)
	o, ok := c.This.(*goja.Object)
	if !ok || floor > float64(rt.budget) {
		return 2 * floor
	}
	total := 2 * float64(sep) * n
	for i := 0; i < int(n); i++ {
		v := o.Get(fmt.Sprint(i))
		if l := strLen(v); l > 0 {
			total += 2 * float64(l)
		} else {
			total += bytesPerElement
		}
	}
	return total
}

// strLen is the length of a primitive string, 0 for anything else.
func strLen(v goja.Value) int {
	if s, ok := v.(goja.String); ok {
		return s.Length()
	}
	return 0
}

// lengthOf reads the length of an array or array-like object, 0 for
// anything else.
func (rt *jsRuntime) lengthOf(v goja.Value) float64 {
	o, ok := v.(*goja.Object)
	if !ok {
		return 0
	}
	l := o.Get("length")
	if l == nil {
		return 0
	}
	f := l.ToFloat()
	if math.IsNaN(f) || f < 0 {
		return 0
	}
	return f
}

// relIndex resolves a relative index argument as Array.prototype.fill does.
func relIndex(v goja.Value, n, def float64) float64 {
	if goja.IsUndefined(v) {
		return def
	}
	f := v.ToFloat()
	if math.IsNaN(f) {
		return 0
	}
	if f < 0 {
		return max(n+f, 0)
	}
	return min(f, n)
}

// installGuards replaces the guarded built-ins with checking wrappers. It
// runs before the intrinsics are frozen.
func (rt *jsRuntime) installGuards() error {
	vm := rt.vm
	for _, g := range guardedBuiltins {
		ov, err := vm.RunString(g.obj)
		if err != nil {
			return fmt.Errorf("guard %s.%s: %w", g.obj, g.name, err)
		}
		obj := ov.ToObject(vm)
		orig, ok := goja.AssertFunction(obj.Get(g.name))
		if !ok {
			return fmt.Errorf("guard %s.%s: not a function", g.obj, g.name)
		}
		length := obj.Get(g.name).ToObject(vm).Get("length")
		op, est := g.obj+"."+g.name, g.est
		wrapped := vm.ToValue(func(call goja.FunctionCall) goja.Value {
			if rt.budget > 0 && !rt.charge(op, est(rt, call)) {
				return goja.Undefined()
			}
			v, err := orig(call.This, call.Arguments...)
			if err != nil {
				panic(err)
			}
			return v
		}).ToObject(vm)
		if err := wrapped.DefineDataProperty("name", vm.ToValue(g.name), goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE); err != nil {
			return err
		}
		if err := wrapped.DefineDataProperty("length", length, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE); err != nil {
			return err
		}
		if err := obj.DefineDataProperty(g.name, wrapped, goja.FLAG_TRUE, goja.FLAG_FALSE, goja.FLAG_TRUE); err != nil {
			return fmt.Errorf("guard %s: %w", op, err)
		}
	}
	fn, err := builtin(vm, guardConstructorsSrc)
	if err != nil {
		return err
	}
	charge := func(op string, n float64) {
		if rt.budget > 0 {
			rt.charge(op, n)
		}
	}
	if _, err := fn(goja.Undefined(), vm.GlobalObject(), vm.ToValue(guardedConstructors), vm.ToValue(charge)); err != nil {
		return fmt.Errorf("guard constructors: %w", err)
	}
	return nil
}

// charge checks that n more bytes fit in what is left of the call's memory
// budget (the budget less the heap growth since the call started). If not,
// it interrupts the runtime with ErrMemoryBudget and returns false: the
// caller must not allocate, and the script stops at its next instruction.
func (rt *jsRuntime) charge(op string, n float64) bool {
	left := float64(rt.budget) - float64(heapGrowth(rt.heapBase.Load()))
	if n <= left {
		return true
	}
	rt.refuse(fmt.Errorf("%s would allocate about %d MiB: %w", op, int64(n)>>20, ErrMemoryBudget))
	return false
}

// refuse interrupts the running call with err, once.
func (rt *jsRuntime) refuse(err error) {
	rt.guard.Lock()
	defer rt.guard.Unlock()
	if rt.running && rt.refused == nil {
		rt.refused = err
		rt.vm.Interrupt(interruptCause{err: err})
	}
}
