package scripting

import (
	"reflect"
	"sort"
	"strings"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
)

// Names is what a script refers to, found without running it: the free
// identifiers it reads (neither declared in the script nor JavaScript
// built-ins nor host objects) and the lib paths it reads (lib.a.b as
// ["a", "b"]).
type Names struct {
	Free []string
	Lib  [][]string
}

// Analyze lists the free identifiers and lib paths of a compiled script.
func Analyze(p *Program) Names {
	prefix, suffix := exprPrefix, exprSuffix
	if p.Body {
		prefix, suffix = bodyPrefix, bodySuffix
	}
	tree, err := parser.ParseFile(nil, "mscript", prefix+p.Src+suffix, 0, parser.WithDisableSourceMaps)
	if err != nil {
		return Names{}
	}
	w := &nameWalker{declared: map[string]bool{}, used: map[string]bool{}, lib: map[string][]string{}}
	w.walk(reflect.ValueOf(tree), "")
	var out Names
	for name := range w.used {
		if !w.declared[name] && !builtinNames[name] && !hostName(name) {
			out.Free = append(out.Free, name)
		}
	}
	sort.Strings(out.Free)
	keys := make([]string, 0, len(w.lib))
	for k := range w.lib {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out.Lib = append(out.Lib, w.lib[k])
	}
	return out
}

func hostName(name string) bool {
	for _, h := range hostNames {
		if h == name {
			return true
		}
	}
	return false
}

// builtinNames are the global names of the JavaScript runtime.
var builtinNames = map[string]bool{
	"undefined": true, "NaN": true, "Infinity": true, "globalThis": true, "arguments": true,
	"Object": true, "Function": true, "Array": true, "String": true, "Number": true, "Boolean": true,
	"Symbol": true, "BigInt": true, "Math": true, "JSON": true, "Date": true, "RegExp": true,
	"Error": true, "TypeError": true, "RangeError": true, "SyntaxError": true, "ReferenceError": true,
	"EvalError": true, "URIError": true, "Map": true, "Set": true, "WeakMap": true, "WeakSet": true,
	"Promise": true, "Proxy": true, "Reflect": true, "ArrayBuffer": true, "DataView": true,
	"Int8Array": true, "Uint8Array": true, "Uint8ClampedArray": true, "Int16Array": true, "Uint16Array": true,
	"Int32Array": true, "Uint32Array": true, "Float32Array": true, "Float64Array": true,
	"parseInt": true, "parseFloat": true, "isNaN": true, "isFinite": true, "encodeURIComponent": true,
	"decodeURIComponent": true, "encodeURI": true, "decodeURI": true, "escape": true, "unescape": true,
	"eval": true,
}

type nameWalker struct {
	declared, used map[string]bool
	lib            map[string][]string
}

var (
	identType = reflect.TypeOf(&ast.Identifier{})
	dotType   = reflect.TypeOf(&ast.DotExpression{})
)

// walk visits every node under v. field is the name of the struct field v
// was found in, which tells a declaration (a binding target, a function
// name, a label) from a use.
func (w *nameWalker) walk(v reflect.Value, field string) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			w.walk(v.Elem(), field)
		}
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		if v.Type() == identType {
			name := string(v.Interface().(*ast.Identifier).Name)
			switch field {
			case "Target", "Name", "Label", "Parameter":
				w.declared[name] = true
			default:
				w.used[name] = true
			}
			return
		}
		if v.Type() == dotType {
			if path, ok := libPath(v.Interface().(*ast.DotExpression)); ok {
				w.lib[strings.Join(path, ".")] = path
			}
		}
		w.walk(v.Elem(), field)
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < v.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			// A property name (a.b, {b: 1}) is not a variable.
			if f.Type == reflect.TypeOf(ast.Identifier{}) {
				continue
			}
			w.walk(v.Field(i), f.Name)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			w.walk(v.Index(i), field)
		}
	}
}

// libPath reads lib.a.b... from a member expression (the longest one is
// kept: lib.a.b.c records a, b, c and, through its left side, a, b).
func libPath(d *ast.DotExpression) ([]string, bool) {
	var rev []string
	var e ast.Expression = d
	for {
		switch x := e.(type) {
		case *ast.DotExpression:
			rev = append(rev, string(x.Identifier.Name))
			e = x.Left
			continue
		case *ast.Identifier:
			if x.Name != "lib" {
				return nil, false
			}
			out := make([]string, len(rev))
			for i := range rev {
				out[i] = rev[len(rev)-1-i]
			}
			return out, true
		}
		return nil, false
	}
}
