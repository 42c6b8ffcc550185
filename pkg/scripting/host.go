package scripting

import (
	"fmt"
	"math"
	"time"

	"github.com/dop251/goja"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// maxKeyBytes bounds kv keys written by scripts.
const maxKeyBytes = 1024

// hostNames are the globals the host installs; Eval vars may not use them.
var hostNames = []string{"lib", "log", "kv", "console", "sql", "http"}

// installHost defines log, console, kv, sql and http as read-only globals.
func (rt *jsRuntime) installHost() error {
	vm := rt.vm
	logObj := vm.NewObject()
	for name, lvl := range map[string]zapcore.Level{"info": zap.DebugLevel, "warn": zap.WarnLevel, "error": zap.ErrorLevel} {
		if err := logObj.Set(name, rt.logFunc(lvl)); err != nil {
			return err
		}
	}
	console := vm.NewObject()
	for name, lvl := range map[string]zapcore.Level{"log": zap.DebugLevel, "info": zap.DebugLevel, "debug": zap.DebugLevel, "warn": zap.WarnLevel, "error": zap.ErrorLevel} {
		if err := console.Set(name, rt.logFunc(lvl)); err != nil {
			return err
		}
	}
	kv, err := rt.kvObject(rt.e.kv, "kv")
	if err != nil {
		return err
	}
	shared, err := rt.kvObject(rt.e.sharedKV, "kv.shared")
	if err != nil {
		return err
	}
	if _, err := rt.freeze(goja.Undefined(), shared); err != nil {
		return err
	}
	if err := kv.Set("shared", shared); err != nil {
		return err
	}
	sqlObj := vm.NewObject()
	if err := sqlObj.Set("query", rt.sqlQuery); err != nil {
		return err
	}
	httpObj := vm.NewObject()
	for name, method := range map[string]string{"get": "GET", "post": "POST"} {
		if err := httpObj.Set(name, rt.httpFunc(method)); err != nil {
			return err
		}
	}
	for name, obj := range map[string]*goja.Object{"log": logObj, "console": console, "kv": kv, "sql": sqlObj, "http": httpObj} {
		if _, err := rt.freeze(goja.Undefined(), obj); err != nil {
			return err
		}
		if err := vm.GlobalObject().DefineDataProperty(name, obj, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE); err != nil {
			return fmt.Errorf("install %s: %w", name, err)
		}
	}
	return nil
}

// logFunc returns log.<level>(msg, obj?): msg as the message, obj as plain
// data in the "data" field. log.info goes out at debug level, so script
// payloads never reach info logs.
func (rt *jsRuntime) logFunc(lvl zapcore.Level) func(goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value {
		ce := rt.e.scriptLog.Check(lvl, call.Argument(0).String())
		if ce == nil {
			return goja.Undefined()
		}
		fields := []zap.Field{zap.String("script", rt.label)}
		if len(call.Arguments) > 1 {
			arg := call.Argument(1)
			if data, err := rt.export(arg); err == nil {
				fields = append(fields, zap.Any("data", data))
			} else {
				fields = append(fields, zap.String("data", arg.String()))
			}
		}
		ce.Write(fields...)
		return goja.Undefined()
	}
}

// throw raises err as a JavaScript Error the script can catch.
func (rt *jsRuntime) throw(err error) {
	panic(rt.vm.NewGoError(err))
}

// kvObject builds the get/set/del/incr functions of one namespace. A nil
// store (the shared namespace of a hub not allowed in it) throws.
func (rt *jsRuntime) kvObject(store KV, name string) (*goja.Object, error) {
	obj := rt.vm.NewObject()
	h := kvHost{rt: rt, store: store, name: name}
	for fn, f := range map[string]func(goja.FunctionCall) goja.Value{
		"get": h.get, "set": h.set, "del": h.del, "incr": h.incr,
	} {
		if err := obj.Set(fn, f); err != nil {
			return nil, err
		}
	}
	return obj, nil
}

// kvHost is the kv functions of one namespace.
type kvHost struct {
	rt    *jsRuntime
	store KV
	name  string // "kv" or "kv.shared", for errors
}

func (h kvHost) key(call goja.FunctionCall, fn string) string {
	if h.store == nil {
		h.rt.throw(fmt.Errorf("%s.%s: hub %q may not use the shared namespace (scripting.kvShared)", h.name, fn, h.rt.e.opts.Hub))
	}
	arg := call.Argument(0)
	if goja.IsUndefined(arg) || goja.IsNull(arg) {
		h.rt.throw(fmt.Errorf("%s.%s: key is required", h.name, fn))
	}
	key := arg.String()
	if key == "" || len(key) > maxKeyBytes {
		h.rt.throw(fmt.Errorf("%s.%s: key must be 1 to %d bytes", h.name, fn, maxKeyBytes))
	}
	return h.rt.e.opts.KVPrefix + key
}

// get(key): the stored value, or null.
func (h kvHost) get(call goja.FunctionCall) goja.Value {
	rt := h.rt
	key := h.key(call, "get")
	b, ok, err := h.store.Get(rt.callCtx(), key)
	if err != nil {
		rt.throw(fmt.Errorf("%s.get: %w", h.name, err))
	}
	if !ok {
		return goja.Null()
	}
	v, err := rt.parseJSON(b)
	if err != nil {
		rt.throw(fmt.Errorf("%s.get: %w", h.name, err))
	}
	return v
}

// set(key, value, ttlSeconds?): stores JSON.stringify(value).
func (h kvHost) set(call goja.FunctionCall) goja.Value {
	rt := h.rt
	key := h.key(call, "set")
	s, err := rt.jsonStr(goja.Undefined(), call.Argument(1))
	if err != nil {
		panic(err)
	}
	if goja.IsUndefined(s) {
		rt.throw(fmt.Errorf("%s.set: value cannot be stored as JSON", h.name))
	}
	var ttl time.Duration
	if t := call.Argument(2); !goja.IsUndefined(t) && !goja.IsNull(t) {
		secs := t.ToFloat()
		if math.IsNaN(secs) || secs < 0 || secs > 10*365*24*3600 {
			rt.throw(fmt.Errorf("%s.set: ttlSeconds must be a number from 0 to ten years", h.name))
		}
		ttl = time.Duration(secs * float64(time.Second))
	}
	if err := h.store.Set(rt.callCtx(), key, []byte(s.String()), ttl); err != nil {
		rt.throw(fmt.Errorf("%s.set: %w", h.name, err))
	}
	return goja.Undefined()
}

// del(key)
func (h kvHost) del(call goja.FunctionCall) goja.Value {
	key := h.key(call, "del")
	if err := h.store.Del(h.rt.callCtx(), key); err != nil {
		h.rt.throw(fmt.Errorf("%s.del: %w", h.name, err))
	}
	return goja.Undefined()
}

// incr(key, by?): adds by (default 1) and returns the new value.
func (h kvHost) incr(call goja.FunctionCall) goja.Value {
	rt := h.rt
	key := h.key(call, "incr")
	by := int64(1)
	if a := call.Argument(1); !goja.IsUndefined(a) && !goja.IsNull(a) {
		f := a.ToFloat()
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			rt.throw(fmt.Errorf("%s.incr: by must be an integer", h.name))
		}
		by = int64(f)
	}
	n, err := h.store.Incr(rt.callCtx(), key, by)
	if err != nil {
		rt.throw(fmt.Errorf("%s.incr: %w", h.name, err))
	}
	return rt.vm.ToValue(n)
}
