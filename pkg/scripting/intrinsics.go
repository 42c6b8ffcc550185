package scripting

import (
	"fmt"

	"github.com/dop251/goja"
)

// hardenSrc freezes the intrinsics of a runtime once its host objects and
// lib are installed: every object reachable from the global bindings (except
// lib, whose modules keep their state) and from the hidden intrinsics
// (iterator, generator and async function prototypes), through own
// properties, accessors and prototypes, is frozen, and every global binding
// becomes read-only. New globals can still be created (context variables are
// defined as globals for one call).
//
// Freezing a prototype turns an assignment that would shadow one of its
// properties (Foo.prototype.toString = ..., err.name = ...) into a silent
// no-op: the "override mistake". The properties code commonly overrides are
// therefore turned into accessors first: reading gives the original value,
// assigning on any other object defines an own property there, assigning on
// the frozen prototype itself throws a TypeError.
const hardenSrc = `(function (g, skip) {
  "use strict";
  var getProto = Object.getPrototypeOf, ownKeys = Reflect.ownKeys, freeze = Object.freeze,
    define = Object.defineProperty, getOwn = Object.getOwnPropertyDescriptor;
  var tamed = ["constructor", "toString", "toLocaleString", "valueOf", "name", "message", "toJSON"];
  var seen = new Set(), list = [];
  function visit(o) {
    if (o === null || (typeof o !== "object" && typeof o !== "function") || o === g || seen.has(o)) return;
    seen.add(o);
    list.push(o);
    var keys = ownKeys(o);
    for (var i = 0; i < keys.length; i++) {
      var d = getOwn(o, keys[i]);
      if (!d) continue;
      if ("value" in d) visit(d.value); else { visit(d.get); visit(d.set); }
    }
    visit(getProto(o));
  }
  function tame(proto, name) {
    var d = getOwn(proto, name);
    if (!d || !("value" in d) || !d.configurable) return;
    var value = d.value;
    var acc = getOwn({
      get x() { return value; },
      set x(v) {
        if (this === proto) throw new TypeError("Cannot assign to read only property '" + String(name) + "' of a frozen built-in");
        define(this, name, { value: v, writable: true, enumerable: true, configurable: true });
      }
    }, "x");
    freeze(acc.get); freeze(acc.set);
    define(proto, name, { get: acc.get, set: acc.set, enumerable: d.enumerable, configurable: false });
  }
  var keys = ownKeys(g);
  for (var i = 0; i < keys.length; i++) if (skip.indexOf(keys[i]) < 0) visit(g[keys[i]]);
  visit(getProto([][Symbol.iterator]()));
  visit(getProto(new Map().entries()));
  visit(getProto(new Set().values()));
  visit(getProto(""[Symbol.iterator]()));
  visit(getProto(/x/[Symbol.matchAll]("")));
  visit(getProto(function* () {}));
  visit(getProto(async function () {}));
  for (var j = 0; j < list.length; j++) {
    var o = list[j];
    var isProto = o === Object.prototype || (typeof o.constructor === "function" && getOwn(o, "constructor") && o.constructor.prototype === o);
    if (isProto) for (var k = 0; k < tamed.length; k++) tame(o, tamed[k]);
  }
  for (var m = 0; m < list.length; m++) freeze(list[m]);
  for (var n = 0; n < keys.length; n++) {
    var gd = getOwn(g, keys[n]);
    if (gd && gd.configurable) define(g, keys[n], { writable: false, configurable: false });
  }
})`

// harden freezes the runtime's intrinsics (see hardenSrc). It runs after the
// host objects and the lib are installed and before any script.
func (rt *jsRuntime) harden() error {
	v, err := rt.vm.RunString(hardenSrc)
	if err != nil {
		return fmt.Errorf("freeze intrinsics: %w", err)
	}
	fn, ok := goja.AssertFunction(v)
	if !ok {
		return fmt.Errorf("freeze intrinsics: not a function")
	}
	if _, err := fn(goja.Undefined(), rt.vm.GlobalObject(), rt.vm.ToValue([]any{"lib"})); err != nil {
		return fmt.Errorf("freeze intrinsics: %w", err)
	}
	return nil
}
