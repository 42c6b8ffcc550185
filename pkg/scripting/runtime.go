package scripting

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
)

// jsRuntime is one goja runtime with the host functions and its own instance
// of every lib module. It is used by one goroutine at a time (its worker); only
// the interrupt guard is touched from other goroutines.
type jsRuntime struct {
	vm        *goja.Runtime
	e         *Engine
	jsonParse goja.Callable
	jsonStr   goja.Callable
	freeze    goja.Callable
	exportFn  goja.Callable
	// exported, exportErr carry the outcome of exportFn back to Go;
	// exportBudget counts down the values one result may hold.
	exported     any
	exportErr    error
	exportBudget int
	// frozen holds the converted values of Frozen vars (see Frozen).
	frozen map[*Frozen]goja.Value
	// fns holds the wrapper function of each Program this runtime ran.
	fns map[*Program]goja.Callable
	// varNames is the names of the globals the last call's variables
	// defined (see setVars).
	varNames []string

	// call is the call in progress (see callWindow); host functions take
	// their context from callCtx.
	call callWindow
	// label names the program in progress, for logs.
	label string

	// guard serialises Interrupt against the end of a call, so that an
	// interrupt can never land after ClearInterrupt and hit the next call.
	guard   sync.Mutex
	running bool
	// refused is why the call in progress was stopped by a limit (memory
	// budget), under guard.
	refused error
	// deadline is when the call in progress times out (zero: never), under
	// guard; timer interrupts it then (see guarded).
	deadline time.Time
	timer    *time.Timer

	// budget is the memory budget of the call in progress (0: none),
	// heapBase the heap size when it started and liveBase what a completed
	// GC has since shown of it still live (see memwatch.go).
	budget   int64
	heapBase atomic.Uint64
	liveBase atomic.Uint64
	gcCycles atomic.Uint64 // completed GC cycles when the call started
}

// interruptCause is what the runtime is interrupted with.
type interruptCause struct{ err error }

// newRuntime builds a runtime, captures the built-ins the host relies on
// before any module can replace them, installs the host functions and loads
// every lib module under a deadline of loadTimeout.
func newRuntime(e *Engine, loadTimeout time.Duration) (*jsRuntime, error) {
	vm := goja.New()
	vm.SetMaxCallStackSize(e.opts.MaxCallStackSize)
	rt := &jsRuntime{vm: vm, e: e, call: callWindow{parent: context.Background()}}

	var err error
	if rt.jsonParse, err = builtin(vm, "JSON.parse"); err != nil {
		return nil, err
	}
	if rt.jsonStr, err = builtin(vm, "JSON.stringify"); err != nil {
		return nil, err
	}
	if rt.freeze, err = builtin(vm, "Object.freeze"); err != nil {
		return nil, err
	}
	rt.exportFn, _ = goja.AssertFunction(vm.ToValue(rt.exportNative))
	if err := rt.installHost(); err != nil {
		return nil, err
	}
	if err := rt.installGuards(); err != nil {
		return nil, err
	}

	ctx, cancel := context.WithTimeout(context.Background(), loadTimeout)
	defer cancel()
	var lib *goja.Object
	err = rt.guarded(ctx, time.Time{}, func() error {
		var err error
		lib, err = (&modules{rt: rt, lib: e.lib, cache: make(map[string]*goja.Object)}).build()
		return err
	})
	if err != nil {
		se := classify(context.Background(), ctx.Err() != nil, err)
		var le *libLoadError
		if errors.As(err, &le) {
			se.Msg = "lib " + le.file + ": " + se.Msg
		}
		return nil, se
	}
	if err := vm.GlobalObject().DefineDataProperty("lib", lib, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_TRUE); err != nil {
		return nil, fmt.Errorf("install lib: %w", err)
	}
	if err := rt.harden(); err != nil {
		return nil, err
	}
	return rt, nil
}

func builtin(vm *goja.Runtime, expr string) (goja.Callable, error) {
	v, err := vm.RunString(expr)
	if err != nil {
		return nil, fmt.Errorf("init %.40s: %w", expr, err)
	}
	fn, ok := goja.AssertFunction(v)
	if !ok {
		return nil, fmt.Errorf("init %.40s: not a function", expr)
	}
	return fn, nil
}

// guarded runs f with the runtime armed: when ctx ends or the deadline
// (zero: none) passes, the running script is interrupted. The deadline is
// kept by the runtime's own timer, armed again for every call, rather than
// by a context and a timer made for each call. After f returns no
// interrupt can arrive and the flag is clear, so the runtime is ready for
// the next call whatever happened.
func (rt *jsRuntime) guarded(ctx context.Context, deadline time.Time, f func() error) error {
	rt.guard.Lock()
	rt.running = true
	rt.refused = nil
	rt.deadline = deadline
	rt.guard.Unlock()
	if !deadline.IsZero() {
		rt.armDeadline(time.Until(deadline))
	}
	var stop func() bool
	if ctx.Done() != nil {
		stop = context.AfterFunc(ctx, func() { rt.interrupt(context.Cause(ctx)) })
	}
	defer func() {
		if stop != nil {
			stop()
		}
		if rt.timer != nil {
			rt.timer.Stop()
		}
		rt.guard.Lock()
		rt.running = false
		rt.guard.Unlock()
		rt.vm.ClearInterrupt()
	}()
	return f()
}

// armDeadline has the runtime's timer fire in d.
func (rt *jsRuntime) armDeadline(d time.Duration) {
	if rt.timer == nil {
		rt.timer = time.AfterFunc(d, rt.deadlinePassed)
		return
	}
	rt.timer.Reset(d)
}

// deadlinePassed interrupts the running call if its deadline has passed. A
// firing meant for an earlier call finds the flag clear or a later
// deadline, and does nothing.
func (rt *jsRuntime) deadlinePassed() {
	rt.guard.Lock()
	defer rt.guard.Unlock()
	if rt.running && !rt.deadline.IsZero() && !time.Now().Before(rt.deadline) {
		rt.vm.Interrupt(interruptCause{err: context.DeadlineExceeded})
	}
}

// interrupt interrupts the running call, if any, with cause.
func (rt *jsRuntime) interrupt(cause error) {
	rt.guard.Lock()
	defer rt.guard.Unlock()
	if rt.running {
		rt.vm.Interrupt(interruptCause{err: cause})
	}
}

// classify maps an error from goja (or from our own conversions) to a
// ScriptError. parent is the caller's context; timedOut tells whether the
// call's own deadline passed.
func classify(parent context.Context, timedOut bool, err error) *ScriptError {
	var se *ScriptError
	if errors.As(err, &se) {
		return se
	}
	var ie *goja.InterruptedError
	if errors.As(err, &ie) || errors.Is(err, errExportInterrupted) {
		if c, ok := interruptOf(err); ok && errors.Is(c.err, ErrMemoryBudget) {
			return newError(KindMemory, c.err, "%v", c.err)
		}
		if perr := parent.Err(); perr != nil {
			return newError(KindCanceled, perr, "script call canceled: %v", perr)
		}
		if timedOut {
			return newError(KindTimeout, ErrTimeout, "script call timed out")
		}
		return newError(KindRuntime, err, "interrupted: %v", err)
	}
	var so *goja.StackOverflowError
	if errors.As(err, &so) {
		return newError(KindRuntime, ErrStackOverflow, "%s", so.Error())
	}
	var ex *goja.Exception
	if errors.As(err, &ex) {
		return newError(KindRuntime, err, "%s", ex.Error())
	}
	return newError(KindRuntime, err, "%v", err)
}

// interruptOf returns the cause a runtime was interrupted with.
func interruptOf(err error) (interruptCause, bool) {
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		c, ok := ie.Value().(interruptCause)
		return c, ok
	}
	return interruptCause{}, false
}

// maxProgramsPerRuntime bounds the wrapper functions one runtime keeps; when
// it is reached the runtime forgets them all and creates them again as
// needed.
const maxProgramsPerRuntime = 4096

// programFn returns this runtime's instance of p's wrapper function,
// creating it on first use. Calling it (with this undefined) runs p as the
// wrapped source reads, without creating a new function object every time.
func (rt *jsRuntime) programFn(p *Program) (goja.Callable, error) {
	if fn, ok := rt.fns[p]; ok {
		return fn, nil
	}
	v, err := rt.vm.RunProgram(p.fn)
	if err != nil {
		return nil, err
	}
	fn, ok := goja.AssertFunction(v)
	if !ok {
		return nil, fmt.Errorf("script wrapper is not a function")
	}
	if rt.fns == nil || len(rt.fns) >= maxProgramsPerRuntime {
		rt.fns = make(map[*Program]goja.Callable)
	}
	rt.fns[p] = fn
	return fn, nil
}
