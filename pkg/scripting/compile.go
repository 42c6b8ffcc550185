package scripting

import (
	"errors"
	"strings"

	"github.com/dop251/goja"
	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/file"
	"github.com/dop251/goja/parser"
)

// Program is a compiled MScript. It is immutable and can be evaluated by any
// Engine, from any goroutine.
type Program struct {
	// Src is the MScript source as written in the spec.
	Src string
	// Name is an optional bounded label (for example "stateScript" or
	// "handler:chessMove") passed to Options.Observer; "mscript" when empty.
	Name string
	// Body reports whether Src was compiled as a statement body (one that uses
	// return) rather than as a single expression.
	Body bool

	// fn evaluates to the wrapper function itself, uncalled: each runtime
	// creates it once and calls it for every evaluation (see programFn).
	fn *goja.Program
}

// The source is wrapped in a function so both forms can be run the same way.
// Each prefix ends with a newline so that line numbers in Src are the wrapped
// line numbers minus one and columns are unchanged.
const (
	exprPrefix = "(function () { return (\n"
	exprSuffix = "\n); })()"
	bodyPrefix = "(function () {\n"
	bodySuffix = "\n})()"
)

// Compile compiles an MScript. A plain expression (`user.tier == "gold"`) is
// tried first; if that does not parse, src is compiled as a function body that
// returns its result with `return`. A script that parses in neither form
// returns a *ScriptError of kind "syntax" naming the line and column in src.
func Compile(src string) (*Program, error) {
	if strings.TrimSpace(src) == "" {
		return nil, newError(KindSyntax, nil, "empty script")
	}
	if fn, err := compileWrapped(src, exprPrefix, exprSuffix); err == nil {
		return &Program{Src: src, fn: fn}, nil
	}
	fn, err := compileWrapped(src, bodyPrefix, bodySuffix)
	if err != nil {
		return nil, err
	}
	return &Program{Src: src, Body: true, fn: fn}, nil
}

// MustCompile is like Compile but panics on error. For tests and constants.
func MustCompile(src string) *Program {
	p, err := Compile(src)
	if err != nil {
		panic(err)
	}
	return p
}

// compileWrapped checks that src inside prefix and suffix is one call of
// the wrapper function and compiles the wrapper function alone (the same
// text without the final call), which runtimes create once and call for
// every evaluation.
func compileWrapped(src, prefix, suffix string) (*goja.Program, error) {
	tree, err := parser.ParseFile(nil, "mscript", prefix+src+suffix, 0, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, syntaxError(src, err)
	}
	// The wrapper must still be one call of one function whose body ends where
	// the suffix starts: src like `1) }); x = (function () {` would otherwise
	// parse by closing the wrapper early.
	closeIdx := len(prefix) + len(src) + strings.IndexByte(suffix, '}') + 1 // file.Idx is 1-based
	if !wrapperIntact(tree, closeIdx) {
		return nil, newError(KindSyntax, nil, "script is not one expression or function body")
	}
	fnTree, err := parser.ParseFile(nil, "mscript", prefix+src+strings.TrimSuffix(suffix, "()"), 0, parser.WithDisableSourceMaps)
	if err != nil || !functionAt(fnTree, closeIdx) {
		return nil, newError(KindSyntax, nil, "script is not one expression or function body")
	}
	prg, err := goja.CompileAST(fnTree, false)
	if err != nil {
		return nil, syntaxError(src, err)
	}
	return prg, nil
}

// functionAt reports whether p is one function literal (the expression of
// its only statement) whose body ends at closeIdx.
func functionAt(p *ast.Program, closeIdx int) bool {
	e, ok := soleExpression(p)
	return ok && functionEndsAt(e, closeIdx)
}

// wrapperIntact reports whether p is one call, without arguments, of a
// function literal whose body ends at closeIdx.
func wrapperIntact(p *ast.Program, closeIdx int) bool {
	e, ok := soleExpression(p)
	if !ok {
		return false
	}
	call, ok := e.(*ast.CallExpression)
	return ok && len(call.ArgumentList) == 0 && functionEndsAt(call.Callee, closeIdx)
}

// soleExpression returns the expression of p's only statement.
func soleExpression(p *ast.Program) (ast.Expression, bool) {
	if len(p.Body) != 1 {
		return nil, false
	}
	stmt, ok := p.Body[0].(*ast.ExpressionStatement)
	if !ok {
		return nil, false
	}
	return stmt.Expression, true
}

// functionEndsAt reports whether e is a function literal whose body ends at
// closeIdx.
func functionEndsAt(e ast.Expression, closeIdx int) bool {
	fn, ok := e.(*ast.FunctionLiteral)
	return ok && fn.Body != nil && int(fn.Body.RightBrace) == closeIdx
}

// syntaxError turns a goja parse or compile error into a ScriptError whose
// position refers to src rather than to the wrapped source.
func syntaxError(src string, err error) *ScriptError {
	var list parser.ErrorList
	if errors.As(err, &list) && len(list) > 0 {
		return positioned(src, list[0].Position, list[0].Message, err)
	}
	var ce *goja.CompilerSyntaxError
	if errors.As(err, &ce) {
		msg := ce.Message
		if ce.File != nil {
			return positioned(src, ce.File.Position(ce.Offset), msg, err)
		}
		return newError(KindSyntax, err, "%s", msg)
	}
	var cre *goja.CompilerReferenceError
	if errors.As(err, &cre) {
		return newError(KindSyntax, err, "%s", cre.Message)
	}
	return newError(KindSyntax, err, "%v", err)
}

func positioned(src string, pos file.Position, msg string, err error) *ScriptError {
	lines := strings.Split(src, "\n")
	line, col := pos.Line-1, pos.Column
	switch {
	case line < 1:
		line, col = 1, 1
	case line > len(lines):
		line = len(lines)
		col = len(lines[line-1]) + 1
		return newError(KindSyntax, err, "line %d column %d (end of script): %s", line, col, msg)
	}
	return newError(KindSyntax, err, "line %d column %d: %s", line, col, msg)
}
