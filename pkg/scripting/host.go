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
	kv := vm.NewObject()
	for name, fn := range map[string]func(goja.FunctionCall) goja.Value{
		"get": rt.kvGet, "set": rt.kvSet, "del": rt.kvDel, "incr": rt.kvIncr,
	} {
		if err := kv.Set(name, fn); err != nil {
			return err
		}
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

func (rt *jsRuntime) kvKey(call goja.FunctionCall, fn string) string {
	arg := call.Argument(0)
	if goja.IsUndefined(arg) || goja.IsNull(arg) {
		rt.throw(fmt.Errorf("kv.%s: key is required", fn))
	}
	key := arg.String()
	if key == "" || len(key) > maxKeyBytes {
		rt.throw(fmt.Errorf("kv.%s: key must be 1 to %d bytes", fn, maxKeyBytes))
	}
	return rt.e.opts.KVPrefix + key
}

// kv.get(key): the stored value, or null.
func (rt *jsRuntime) kvGet(call goja.FunctionCall) goja.Value {
	key := rt.kvKey(call, "get")
	b, ok, err := rt.e.opts.KV.Get(rt.ctx, key)
	if err != nil {
		rt.throw(fmt.Errorf("kv.get: %w", err))
	}
	if !ok {
		return goja.Null()
	}
	v, err := rt.parseJSON(b)
	if err != nil {
		rt.throw(fmt.Errorf("kv.get: %w", err))
	}
	return v
}

// kv.set(key, value, ttlSeconds?): stores JSON.stringify(value).
func (rt *jsRuntime) kvSet(call goja.FunctionCall) goja.Value {
	key := rt.kvKey(call, "set")
	s, err := rt.jsonStr(goja.Undefined(), call.Argument(1))
	if err != nil {
		panic(err)
	}
	if goja.IsUndefined(s) {
		rt.throw(fmt.Errorf("kv.set: value cannot be stored as JSON"))
	}
	var ttl time.Duration
	if t := call.Argument(2); !goja.IsUndefined(t) && !goja.IsNull(t) {
		secs := t.ToFloat()
		if math.IsNaN(secs) || secs < 0 || secs > 10*365*24*3600 {
			rt.throw(fmt.Errorf("kv.set: ttlSeconds must be a number from 0 to ten years"))
		}
		ttl = time.Duration(secs * float64(time.Second))
	}
	if err := rt.e.opts.KV.Set(rt.ctx, key, []byte(s.String()), ttl); err != nil {
		rt.throw(fmt.Errorf("kv.set: %w", err))
	}
	return goja.Undefined()
}

// kv.del(key)
func (rt *jsRuntime) kvDel(call goja.FunctionCall) goja.Value {
	key := rt.kvKey(call, "del")
	if err := rt.e.opts.KV.Del(rt.ctx, key); err != nil {
		rt.throw(fmt.Errorf("kv.del: %w", err))
	}
	return goja.Undefined()
}

// kv.incr(key, by?): adds by (default 1) and returns the new value.
func (rt *jsRuntime) kvIncr(call goja.FunctionCall) goja.Value {
	key := rt.kvKey(call, "incr")
	by := int64(1)
	if a := call.Argument(1); !goja.IsUndefined(a) && !goja.IsNull(a) {
		f := a.ToFloat()
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			rt.throw(fmt.Errorf("kv.incr: by must be an integer"))
		}
		by = int64(f)
	}
	n, err := rt.e.opts.KV.Incr(rt.ctx, key, by)
	if err != nil {
		rt.throw(fmt.Errorf("kv.incr: %w", err))
	}
	return rt.vm.ToValue(n)
}
