package scripting

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/http"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"
	"go.uber.org/zap"
)

// Options configures an Engine. Zero values take the defaults below.
type Options struct {
	// LibDir holds the service library: CommonJS modules (module.exports /
	// exports.x). lib/chess.js is lib.chess, lib/games/world.js is
	// lib.games.world. Empty means an empty lib.
	LibDir string
	// Runtimes is the number of runtimes (and goroutines). Default
	// runtime.GOMAXPROCS(0).
	Runtimes int
	// CallTimeout is the deadline of one Eval once it starts running.
	// Default 500ms.
	CallTimeout time.Duration
	// LoadTimeout bounds loading the whole lib into one runtime. Default the
	// larger of 5s and 10*CallTimeout.
	LoadTimeout time.Duration
	// MaxCallStackSize caps the JavaScript call depth. Default 1024.
	MaxCallStackSize int
	// MaxInputBytes caps the (estimated) JSON size of the vars of one Eval.
	// Default 1 MiB.
	MaxInputBytes int
	// Logger receives engine events and script logs (named "scripting").
	// Default zap.NewNop().
	Logger *zap.Logger
	// KV backs kv.get/set/del/incr: a RedisKV (NewRedisKV) when Redis is
	// configured, else a BoltKV (NewBoltKV, durable). Share one KV across
	// engines (reloads). Default a new MemoryKV, lost with the engine.
	KV KV
	// KVPrefix is prepended to every key a script uses, inside the
	// engine's namespace.
	KVPrefix string
	// Hub names the hub whose scripts the engine runs: its kv keys live in
	// the hub's own namespace (see Namespace). Empty: the namespace of the
	// empty name, for tests and single-hub use.
	Hub string
	// KVShared lets the hub's scripts use kv.shared.*, the one namespace
	// every hub allowed to may read and write.
	KVShared bool
	// MemoryBudget caps what one call may allocate, in bytes: guarded
	// built-ins refuse larger results and a watchdog stops calls whose heap
	// growth passes it (see limits.go, memwatch.go). Default
	// DefaultMemoryBudget; negative turns it off.
	MemoryBudget int64
	// Library is a lib already loaded with LoadLibrary, shared by the
	// engines of several hubs; it replaces LibDir.
	Library *Library
	// SQL backs sql.query: read-only queries (a pgx pool, for example
	// *pgxpool.Pool). Nil: sql.query throws "no database is configured".
	SQL SQLDB
	// SQLMaxRows caps the rows of one sql.query. Default 1000.
	SQLMaxRows int
	// HTTPAllow lists the hosts http.get/http.post may call: "host" (any
	// port), "host:port", or "*.example.com" (subdomains). Empty: every
	// http call throws.
	HTTPAllow []string
	// HTTPTimeout bounds one http call (scripts may ask for less with
	// {timeout}); the call deadline (CallTimeout) always applies too.
	// Default 2s.
	HTTPTimeout time.Duration
	// HTTPMaxBody caps a response body in bytes. Default 1 MiB.
	HTTPMaxBody int64
	// HTTPClient is the client to use (transport, proxies); redirects are
	// always limited to allowed hosts. Default a plain http.Client.
	HTTPClient *http.Client
	// Observer, if set, is called after every Eval with Program.Name (or
	// "mscript"), the time from the Eval call to its return, and the error.
	Observer func(kind string, d time.Duration, err error)
}

// Defaults.
const (
	DefaultCallTimeout      = 500 * time.Millisecond
	DefaultMaxCallStackSize = 1024
	DefaultMaxInputBytes    = 1 << 20
	// minLoadTimeout is the least default LoadTimeout.
	minLoadTimeout = 5 * time.Second
)

func (o Options) withDefaults() Options {
	if o.Runtimes <= 0 {
		o.Runtimes = runtime.GOMAXPROCS(0)
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.LoadTimeout <= 0 {
		o.LoadTimeout = max(minLoadTimeout, 10*o.CallTimeout)
	}
	if o.MaxCallStackSize <= 0 {
		o.MaxCallStackSize = DefaultMaxCallStackSize
	}
	if o.MaxInputBytes <= 0 {
		o.MaxInputBytes = DefaultMaxInputBytes
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.KV == nil {
		o.KV = NewMemoryKV()
	}
	if o.MemoryBudget == 0 {
		o.MemoryBudget = DefaultMemoryBudget
	}
	if o.SQLMaxRows <= 0 {
		o.SQLMaxRows = DefaultSQLMaxRows
	}
	if o.HTTPTimeout <= 0 {
		o.HTTPTimeout = DefaultHTTPTimeout
	}
	if o.HTTPMaxBody <= 0 {
		o.HTTPMaxBody = DefaultHTTPMaxBody
	}
	return o
}

// Engine runs compiled MScript programs on a fixed set of goja runtimes.
// Each runtime is owned by one goroutine that runs one call at a time; calls
// with the same affinity always go to the same runtime.
type Engine struct {
	opts      Options
	lib       *library
	log       *zap.Logger
	scriptLog *zap.Logger
	reserved  map[string]bool // globals vars may not shadow
	kv        KV              // Options.KV in the hub's namespace
	sharedKV  KV              // the shared namespace, nil unless Options.KVShared
	sql       atomic.Pointer[SQLDB]
	http      *http.Client

	workers  []*worker
	next     atomic.Uint32 // round robin for calls without affinity
	observer atomic.Pointer[func(kind string, d time.Duration, err error)]

	state     atomic.Int64 // retired and closing bits, calls in flight (retire.go)
	quit      chan struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

type worker struct {
	e    *Engine
	id   int
	rt   *jsRuntime // nil after a failed rebuild
	jobs chan *job
}

type job struct {
	ctx     context.Context
	p       *Program
	vars    Fields // sorted by name
	asBool  bool
	results chan result
}

// jobPool reuses jobs (and their result channels) across calls. A job
// goes back only after its result was received (the worker sends it last
// and then lets go of the job); a job that was never handed over, or whose
// result was abandoned because the engine closed, is simply dropped.
var jobPool = sync.Pool{New: func() any { return &job{results: make(chan result, 1)} }}

// recycle clears j's references and returns it to jobPool; its result
// channel is empty.
func (j *job) recycle() {
	j.ctx, j.p, j.vars, j.asBool = nil, nil, nil, false
	jobPool.Put(j)
}

type result struct {
	val any
	ok  bool
	err error
}

// NewEngine compiles the lib (unless Options.Library is given) and prepares
// Options.Runtimes runtimes, each with its own instance of every lib module
// and its own frozen intrinsics. The first runtime is built at once, so a
// module that fails to compile or to load fails NewEngine with an error
// naming its file; the others are built by their first call.
func NewEngine(opts Options) (*Engine, error) {
	opts = opts.withDefaults()
	var lib *library
	if opts.Library != nil {
		lib = opts.Library.lib
	} else {
		var err error
		if lib, err = loadLibrary(opts.LibDir); err != nil {
			return nil, err
		}
	}
	log := opts.Logger.Named("scripting")
	e := &Engine{
		opts:      opts,
		lib:       lib,
		log:       log,
		scriptLog: log.Named("script"),
		quit:      make(chan struct{}),
		http:      opts.httpClient(),
		kv:        Namespace(opts.KV, opts.Hub),
	}
	if opts.KVShared {
		e.sharedKV = SharedNamespace(opts.KV)
	}
	if opts.SQL != nil {
		e.sql.Store(&opts.SQL)
	}
	if opts.Observer != nil {
		e.observer.Store(&opts.Observer)
	}
	rt, err := newRuntime(e, e.opts.LoadTimeout)
	if err != nil {
		return nil, fmt.Errorf("build script runtime: %w", err)
	}
	if e.reserved, err = globalNames(rt.vm); err != nil {
		return nil, err
	}
	for i := 0; i < opts.Runtimes; i++ {
		e.workers = append(e.workers, &worker{e: e, id: i, jobs: make(chan *job, 64)})
	}
	e.workers[0].rt = rt
	for _, w := range e.workers {
		e.wg.Add(1)
		go w.loop()
	}
	log.Debug("script engine started", zap.Int("runtimes", len(e.workers)), zap.Strings("lib", lib.ids))
	return e, nil
}

// globalNames lists the global properties of a fresh runtime (built-ins and
// host objects), which Eval vars may not replace.
func globalNames(vm *goja.Runtime) (map[string]bool, error) {
	v, err := vm.RunString("Object.getOwnPropertyNames(globalThis)")
	if err != nil {
		return nil, fmt.Errorf("list globals: %w", err)
	}
	var names []string
	if err := vm.ExportTo(v, &names); err != nil {
		return nil, fmt.Errorf("list globals: %w", err)
	}
	out := make(map[string]bool, len(names)+len(hostNames))
	for _, n := range names {
		out[n] = true
	}
	for _, n := range hostNames {
		out[n] = true
	}
	return out, nil
}

// SetSQL replaces Options.SQL (nil: sql.query throws "no database is
// configured"); calls already running keep the database they started with.
func (e *Engine) SetSQL(db SQLDB) {
	if db == nil {
		e.sql.Store(nil)
		return
	}
	e.sql.Store(&db)
}

// SetObserver replaces Options.Observer; nil removes it. Calls already
// running report to the observer they started with.
func (e *Engine) SetObserver(fn func(kind string, d time.Duration, err error)) {
	if fn == nil {
		e.observer.Store(nil)
		return
	}
	e.observer.Store(&fn)
}

// Lib returns the module names of the lib ("chess", "games/world"), sorted.
func (e *Engine) Lib() []string {
	return append([]string(nil), e.lib.ids...)
}

// Eval runs p with vars as global variables for this call only and returns
// the result as plain Go values: map[string]any, []any, string, bool, int64
// (whole numbers), float64, or nil for undefined and null. The call runs on
// the runtime chosen by affinity (a room id); an empty affinity spreads calls
// over all runtimes. Every failure is a *ScriptError.
func (e *Engine) Eval(ctx context.Context, p *Program, affinity string, vars map[string]any) (any, error) {
	r := e.do(ctx, p, affinity, sortedVars(vars), false)
	return r.val, r.err
}

// EvalFields is Eval with the variables given in name order (names
// distinct), which saves building and sorting a map for a call whose
// variables are fixed.
func (e *Engine) EvalFields(ctx context.Context, p *Program, affinity string, vars Fields) (any, error) {
	for i := 1; i < len(vars); i++ {
		if vars[i-1].Name >= vars[i].Name {
			return nil, newError(KindInput, nil, "variables are not in name order: %q before %q", vars[i-1].Name, vars[i].Name)
		}
	}
	r := e.do(ctx, p, affinity, vars, false)
	return r.val, r.err
}

// EvalBool is Eval for conditions: the result's JavaScript truthiness.
func (e *Engine) EvalBool(ctx context.Context, p *Program, affinity string, vars map[string]any) (bool, error) {
	r := e.do(ctx, p, affinity, sortedVars(vars), true)
	return r.ok, r.err
}

// sortedVars gives a call's variables in name order.
func sortedVars(vars map[string]any) Fields {
	out := make(Fields, 0, len(vars))
	for name, v := range vars {
		out = append(out, Field{Name: name, Value: v})
	}
	slices.SortFunc(out, func(a, b Field) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (e *Engine) do(ctx context.Context, p *Program, affinity string, vars Fields, asBool bool) (r result) {
	start := time.Now()
	if obs := e.observer.Load(); obs != nil {
		defer func() {
			name := "mscript"
			if p != nil && p.Name != "" {
				name = p.Name
			}
			(*obs)(name, time.Since(start), r.err)
		}()
	}
	if err := e.checkInput(p, vars); err != nil {
		return result{err: err}
	}
	if !e.enter() {
		return result{err: newError(KindClosed, ErrClosed, "engine closed")}
	}
	defer e.leave()
	j := jobPool.Get().(*job)
	j.ctx, j.p, j.vars, j.asBool = ctx, p, vars, asBool
	w := e.pick(affinity)
	select {
	case <-e.quit:
		return result{err: newError(KindClosed, ErrClosed, "engine closed")}
	default:
	}
	select {
	case w.jobs <- j:
	case <-ctx.Done():
		return result{err: newError(KindCanceled, ctx.Err(), "script call canceled while queued: %v", ctx.Err())}
	case <-e.quit:
		return result{err: newError(KindClosed, ErrClosed, "engine closed")}
	}
	select {
	case r = <-j.results:
		j.recycle() // the worker is done with j: it sent its result last
		return r
	case <-e.quit:
		select {
		case r = <-j.results: // finished just before Close
			return r
		default:
			return result{err: newError(KindClosed, ErrClosed, "engine closed")}
		}
	}
}

func (e *Engine) checkInput(p *Program, vars Fields) error {
	if p == nil || p.fn == nil {
		return newError(KindInput, nil, "program is nil or not compiled")
	}
	total := 0
	for _, f := range vars {
		name, v := f.Name, f.Value
		if name == "" || e.reserved[name] {
			return newError(KindInput, nil, "variable name %q is reserved", name)
		}
		n, err := inputSize(v, e.opts.MaxInputBytes-total, 0)
		if err != nil {
			return newError(KindInput, err, "variable %s: %v", name, err)
		}
		total += n + len(name)
		if total > e.opts.MaxInputBytes {
			return newError(KindInput, ErrInputTooLarge, "variables exceed %d bytes of JSON", e.opts.MaxInputBytes)
		}
	}
	return nil
}

// pick returns the worker for affinity: a stable FNV-1a hash, or round robin
// when affinity is empty.
func (e *Engine) pick(affinity string) *worker {
	n := uint32(len(e.workers))
	if affinity == "" {
		return e.workers[e.next.Add(1)%n]
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(affinity))
	return e.workers[h.Sum32()%n]
}

// Close stops the workers after the calls they are running; queued and later
// calls fail with ErrClosed. It is safe to call more than once.
func (e *Engine) Close() {
	e.closeOnce.Do(func() {
		e.state.Or(stateClosing)
		close(e.quit)
		e.wg.Wait()
	})
}

func (w *worker) loop() {
	defer w.e.wg.Done()
	for {
		select {
		case <-w.e.quit:
			return
		case j := <-w.jobs:
			j.results <- w.run(j)
		}
	}
}

// run executes one job on the worker's runtime. A Go panic discards the
// runtime (its state may be inconsistent) and builds a fresh one, which loses
// that runtime's module state. So does a runtime on which an earlier script
// made one of its call's variables permanent (Object.defineProperty with
// configurable false): it could no longer give a call exactly its own vars,
// so the job runs again on a fresh runtime.
func (w *worker) run(j *job) result {
	r, held := w.runOn(j)
	if held {
		w.e.log.Warn("a script made a call variable permanent; rebuilding runtime",
			zap.String("script", j.p.Name), zap.Int("runtime", w.id))
		w.rt = nil
		r, _ = w.runOn(j)
	}
	return r
}

// runOn executes one job on the worker's runtime (built first when there
// is none); held reports a runtime whose earlier call variables could not
// be removed, on which nothing ran.
func (w *worker) runOn(j *job) (r result, held bool) {
	if err := j.ctx.Err(); err != nil {
		return result{err: newError(KindCanceled, err, "script call canceled while queued: %v", err)}, false
	}
	if w.rt == nil {
		rt, err := newRuntime(w.e, w.e.opts.LoadTimeout)
		if err != nil {
			return result{err: newError(KindPanic, err, "script runtime unavailable: %v", err)}, false
		}
		w.rt = rt
	}
	label := j.p.Name
	defer func() {
		if x := recover(); x != nil {
			w.e.log.Error("script panicked; rebuilding runtime",
				zap.String("script", label), zap.Int("runtime", w.id),
				zap.Any("panic", x), zap.ByteString("stack", debug.Stack()))
			w.rt = nil
			err, _ := x.(error)
			r = result{err: newError(KindPanic, err, "panic: %v", x)}
			if rt, rerr := newRuntime(w.e, w.e.opts.LoadTimeout); rerr == nil {
				w.rt = rt
			} else {
				w.e.log.Error("rebuild script runtime", zap.Error(rerr))
			}
		}
	}()
	rt := w.rt
	deadline := time.Now().Add(w.e.opts.CallTimeout)
	rt.call, rt.label = callWindow{parent: j.ctx, deadline: deadline}, j.p.Name
	defer func() { rt.call.end(); rt.label = "" }()

	if err := rt.setVars(j.vars); err != nil {
		return result{err: newError(KindInput, err, "%v", err)}, errors.Is(err, errVarsHeld)
	}
	if rt.budget = w.e.opts.MemoryBudget; rt.budget > 0 {
		memWatch.begin(rt)
		defer memWatch.end(rt)
	}
	err := rt.guarded(j.ctx, deadline, func() error {
		fn, err := rt.programFn(j.p)
		if err != nil {
			return err
		}
		v, err := fn(goja.Undefined())
		if err != nil {
			return err
		}
		if j.asBool {
			r.ok = v.ToBoolean()
			return nil
		}
		r.val, err = rt.export(v)
		if err != nil {
			return asResultError(err)
		}
		return nil
	})
	if rt.refused != nil {
		return result{err: newError(KindMemory, rt.refused, "%v", rt.refused)}, false
	}
	if err != nil {
		return result{err: classify(j.ctx, rt.call.timedOut(), err)}, false
	}
	return r, false
}

// asResultError marks a failed export as a result error unless the runtime
// was interrupted or overflowed while reading the result.
func asResultError(err error) error {
	var ex *goja.Exception
	switch {
	case errors.Is(err, errExportInterrupted):
		return err
	case errors.As(err, new(*goja.InterruptedError)), errors.As(err, new(*goja.StackOverflowError)):
		return err
	case errors.As(err, &ex):
		return newError(KindResult, err, "reading the result: %s", ex.Error())
	}
	return newError(KindResult, err, "%v", err)
}

// setVars defines vars as the globals of the call, in a stable order. The
// previous call's globals stay defined between calls (no script runs
// then) and are replaced here: a name this call does not pass is deleted
// and one it passes is given its new value, so a call sees exactly its
// own vars without a delete and a new global property per name and call.
// On an error no var is left defined.
func (rt *jsRuntime) setVars(vars Fields) error {
	g := rt.vm.GlobalObject()
	i := 0 // both lists are in name order
	for _, name := range rt.varNames {
		for i < len(vars) && vars[i].Name < name {
			i++
		}
		if i == len(vars) || vars[i].Name != name {
			if g.Delete(name) != nil {
				return fmt.Errorf("%w: %s", errVarsHeld, name)
			}
		}
	}
	names := rt.varNames[:0] // the runtime runs one call at a time
	for _, f := range vars {
		names = append(names, f.Name)
	}
	rt.varNames = names
	for _, f := range vars {
		name := f.Name
		v, err := rt.toJS(f.Value, 0)
		if err == nil {
			err = g.DefineDataProperty(name, v, goja.FLAG_TRUE, goja.FLAG_TRUE, goja.FLAG_TRUE)
		}
		if err != nil {
			if rt.clearVars() != nil {
				return fmt.Errorf("%w: %s", errVarsHeld, name)
			}
			return fmt.Errorf("variable %s: %w", name, err)
		}
	}
	return nil
}

// errVarsHeld: a global of an earlier call could not be removed or
// replaced (a script made it permanent).
var errVarsHeld = errors.New("a call variable of an earlier call is permanent")

// clearVars removes the globals setVars defined; an error when one of them
// could not be removed.
func (rt *jsRuntime) clearVars() error {
	g := rt.vm.GlobalObject()
	var held error
	for _, name := range rt.varNames {
		if err := g.Delete(name); err != nil {
			held = err
		}
	}
	rt.varNames = rt.varNames[:0]
	return held
}

// Library is a compiled service library, loaded once and shared by the
// engines of several hubs (Options.Library); each engine's runtimes still
// instantiate their own modules.
type Library struct{ lib *library }

// LoadLibrary reads and compiles every module below dir (see Options.LibDir).
func LoadLibrary(dir string) (*Library, error) {
	lib, err := loadLibrary(dir)
	if err != nil {
		return nil, err
	}
	return &Library{lib: lib}, nil
}
