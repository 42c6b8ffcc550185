package scripting

import (
	"errors"
	"fmt"
)

// Error kinds carried by ScriptError.Kind.
const (
	KindSyntax   = "syntax"   // the script does not parse
	KindRuntime  = "runtime"  // the script threw, or hit the call-stack cap
	KindTimeout  = "timeout"  // the per-call deadline (Options.CallTimeout) passed
	KindMemory   = "memory"   // the call went over its memory budget (Options.MemoryBudget)
	KindCanceled = "canceled" // the caller's context ended first
	KindPanic    = "panic"    // a Go panic, usually from a host function
	KindInput    = "input"    // the variables or the program handed to Eval are unusable
	KindResult   = "result"   // the result cannot be exported (function, promise, cycle)
	KindClosed   = "closed"   // the engine is closed
)

var (
	// ErrTimeout is wrapped by every error caused by the per-call deadline.
	ErrTimeout = errors.New("script call timed out")
	// ErrStackOverflow is wrapped when a call exceeds Options.MaxCallStackSize.
	ErrStackOverflow = errors.New("maximum call stack size exceeded")
	// ErrClosed is wrapped when Eval is called on a closed engine.
	ErrClosed = errors.New("script engine closed")
	// ErrMemoryBudget is wrapped when a call is stopped for allocating past
	// Options.MemoryBudget.
	ErrMemoryBudget = errors.New("script memory budget exceeded")
	// ErrInputTooLarge is wrapped when vars exceed Options.MaxInputBytes.
	ErrInputTooLarge = errors.New("script input too large")
)

// ScriptError is the error type of everything in this package that concerns a
// script: compiling it, feeding it, running it and reading its result.
type ScriptError struct {
	Kind string // one of the Kind* constants
	Msg  string // human readable, names the position for syntax errors
	Err  error  // the cause, if any; see ErrTimeout, ErrStackOverflow, ErrClosed
}

func (e *ScriptError) Error() string {
	if e.Msg == "" && e.Err != nil {
		return fmt.Sprintf("mscript %s error: %v", e.Kind, e.Err)
	}
	return fmt.Sprintf("mscript %s error: %s", e.Kind, e.Msg)
}

func (e *ScriptError) Unwrap() error { return e.Err }

func newError(kind string, err error, format string, args ...any) *ScriptError {
	return &ScriptError{Kind: kind, Msg: fmt.Sprintf(format, args...), Err: err}
}
