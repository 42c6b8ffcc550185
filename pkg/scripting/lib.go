package scripting

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"
)

// library is the compiled content of Options.LibDir. It is shared by every
// runtime of an engine; each runtime instantiates its own module objects.
type library struct {
	modules map[string]*libModule // by id: "chess", "games/world"
	ids     []string              // sorted
}

type libModule struct {
	id   string // slash separated path below LibDir without ".js"
	file string // slash separated path below LibDir
	prg  *goja.Program
}

// The module source is wrapped like Node's CommonJS wrapper. The prefix has no
// newline so line numbers in errors match the file.
const moduleSuffix = "\n})"

var modulePrefix = "(function (exports, require, module, __filename, __dirname) {"

// loadLibrary reads and compiles every .js file below dir. Hidden entries and
// node_modules are skipped. An empty dir yields an empty library.
func loadLibrary(dir string) (*library, error) {
	lib := &library{modules: make(map[string]*libModule)}
	if dir == "" {
		return lib, nil
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if p != dir && (strings.HasPrefix(name, ".") || name == "node_modules") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() || !strings.HasSuffix(name, ".js") {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		src, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("read lib %s: %w", rel, err)
		}
		prg, err := compileModule(rel, string(src))
		if err != nil {
			return err
		}
		id := strings.TrimSuffix(rel, ".js")
		lib.modules[id] = &libModule{id: id, file: rel, prg: prg}
		lib.ids = append(lib.ids, id)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load lib dir %s: %w", dir, err)
	}
	sort.Strings(lib.ids)
	for _, id := range lib.ids {
		parts := strings.Split(id, "/")
		for i := 1; i < len(parts); i++ {
			if other, ok := lib.modules[strings.Join(parts[:i], "/")]; ok {
				return nil, fmt.Errorf("load lib dir %s: lib %s: lib.%s is both module %s and a directory",
					dir, lib.modules[id].file, strings.Join(parts[:i], "."), other.file)
			}
		}
	}
	return lib, nil
}

func compileModule(file, src string) (*goja.Program, error) {
	wrapped := modulePrefix + src + moduleSuffix
	tree, err := parser.ParseFile(nil, file, wrapped, 0, parser.WithDisableSourceMaps)
	if err != nil {
		var list parser.ErrorList
		if errors.As(err, &list) && len(list) > 0 {
			pos := list[0].Position
			line, col := pos.Line, pos.Column
			if line == 1 {
				col -= len(modulePrefix)
			}
			where := fmt.Sprintf("line %d column %d", line, col)
			if lines := strings.Count(src, "\n") + 1; line > lines || (line == lines && col > len(src)-strings.LastIndexByte(src, '\n')) {
				where = "end of file"
			}
			return nil, &ScriptError{Kind: KindSyntax, Err: err,
				Msg: fmt.Sprintf("lib %s: %s: %s", file, where, list[0].Message)}
		}
		return nil, &ScriptError{Kind: KindSyntax, Err: err, Msg: fmt.Sprintf("lib %s: %v", file, err)}
	}
	closeIdx := len(modulePrefix) + len(src) + len(moduleSuffix) - 1 // the final '}', 1-based
	if !functionAt(tree, closeIdx) {
		return nil, &ScriptError{Kind: KindSyntax, Msg: fmt.Sprintf("lib %s: unbalanced braces close the module wrapper", file)}
	}
	prg, err := goja.CompileAST(tree, false)
	if err != nil {
		return nil, &ScriptError{Kind: KindSyntax, Err: err, Msg: fmt.Sprintf("lib %s: %v", file, err)}
	}
	return prg, nil
}

// modules is the per-runtime module registry: module objects by id, filled
// in dependency order, with Node's behaviour for cycles (a module being loaded
// is visible to require with its exports so far).
type modules struct {
	rt    *jsRuntime
	lib   *library
	cache map[string]*goja.Object // module objects
}

// load returns module.exports of id, running the module the first time.
func (m *modules) load(id string) (goja.Value, error) {
	if mod, ok := m.cache[id]; ok {
		return mod.Get("exports"), nil
	}
	lm, ok := m.lib.modules[id]
	if !ok {
		return nil, fmt.Errorf("cannot find module %q", id)
	}
	vm := m.rt.vm
	exports := vm.NewObject()
	mod := vm.NewObject()
	if err := mod.Set("exports", exports); err != nil {
		return nil, err
	}
	if err := mod.Set("id", lm.file); err != nil {
		return nil, err
	}
	m.cache[id] = mod
	fnv, err := vm.RunProgram(lm.prg)
	if err != nil {
		return nil, err
	}
	fn, ok := goja.AssertFunction(fnv)
	if !ok {
		return nil, fmt.Errorf("lib %s: wrapper is not a function", lm.file)
	}
	dir := path.Dir(lm.id)
	req := vm.ToValue(func(call goja.FunctionCall) goja.Value {
		return m.require(dir, call.Argument(0).String())
	})
	if _, err := fn(exports, exports, req, mod, vm.ToValue(lm.file), vm.ToValue(path.Dir(lm.file))); err != nil {
		return nil, err
	}
	return mod.Get("exports"), nil
}

// require is the require() given to modules: relative specifiers only,
// resolved against the requiring module's directory and confined to LibDir.
// "./x" finds x.js, or x/index.js.
func (m *modules) require(fromDir, spec string) goja.Value {
	vm := m.rt.vm
	if !strings.HasPrefix(spec, "./") && !strings.HasPrefix(spec, "../") {
		panic(vm.NewGoError(fmt.Errorf("require(%q): only relative paths within the lib directory are supported", spec)))
	}
	target := path.Join(fromDir, spec)
	if target == ".." || strings.HasPrefix(target, "../") {
		panic(vm.NewGoError(fmt.Errorf("require(%q): path leaves the lib directory", spec)))
	}
	target = strings.TrimSuffix(target, ".js")
	for _, id := range []string{target, target + "/index"} {
		if _, ok := m.lib.modules[id]; !ok {
			continue
		}
		v, err := m.load(id)
		if err != nil {
			// Rethrow script exceptions and interrupts unchanged.
			panic(err)
		}
		return v
	}
	panic(vm.NewGoError(fmt.Errorf("require(%q): cannot find module", spec)))
}

// libLoadError names the module whose loading failed.
type libLoadError struct {
	file string
	err  error
}

func (e *libLoadError) Error() string { return fmt.Sprintf("lib %s: %v", e.file, e.err) }
func (e *libLoadError) Unwrap() error { return e.err }

// build loads every module and returns the frozen lib namespace object:
// lib/chess.js is lib.chess, lib/games/world.js is lib.games.world.
func (m *modules) build() (*goja.Object, error) {
	vm := m.rt.vm
	root := vm.NewObject()
	namespaces := map[string]*goja.Object{"": root}
	var order []*goja.Object
	for _, id := range m.lib.ids {
		exports, err := m.load(id)
		if err != nil {
			return nil, &libLoadError{file: m.lib.modules[id].file, err: err}
		}
		parts := strings.Split(id, "/")
		parent := root
		for i := 1; i < len(parts); i++ {
			key := strings.Join(parts[:i], "/")
			ns, ok := namespaces[key]
			if !ok {
				ns = vm.NewObject()
				namespaces[key] = ns
				order = append(order, ns)
				if err := parent.Set(parts[i-1], ns); err != nil {
					return nil, err
				}
			}
			parent = ns
		}
		if err := parent.Set(parts[len(parts)-1], exports); err != nil {
			return nil, err
		}
	}
	order = append(order, root)
	for _, ns := range order {
		if _, err := m.rt.freeze(goja.Undefined(), ns); err != nil {
			return nil, err
		}
	}
	return root, nil
}
