package scripting

import (
	"fmt"
	"math"

	"github.com/dop251/goja"
)

// Frozen is a variable value that does not change once frozen, such as a
// session's claims or a room record that many calls share. Pass the same
// *Frozen to Eval again and again: each runtime converts it to JavaScript
// once, deep-frozen (scripts cannot change it, so sharing it between calls
// is invisible to them), and reuses that value for later calls; its JSON
// size is measured once, by Freeze. The wrapped value must not be modified
// after Freeze.
type Frozen struct {
	v    any
	size int
	err  error
}

// maxFrozenPerRuntime bounds the converted values one runtime keeps; when it
// is reached the runtime forgets them all and converts again as needed.
const maxFrozenPerRuntime = 4096

// Freeze wraps v (a plain value, as for Eval vars) for reuse across calls.
func Freeze(v any) *Frozen {
	n, err := inputSize(v, math.MaxInt32, 0)
	return &Frozen{v: v, size: n, err: err}
}

// Value returns the wrapped value.
func (f *Frozen) Value() any { return f.v }

// frozenJS returns the runtime's JavaScript value of f, converting and
// deep-freezing it on first use.
func (rt *jsRuntime) frozenJS(f *Frozen) (goja.Value, error) {
	if f.err != nil {
		return nil, f.err
	}
	if v, ok := rt.frozen[f]; ok {
		return v, nil
	}
	v, err := rt.toJS(f.v, 0)
	if err != nil {
		return nil, err
	}
	if err := rt.deepFreeze(v, 0); err != nil {
		return nil, err
	}
	if rt.frozen == nil || len(rt.frozen) >= maxFrozenPerRuntime {
		rt.frozen = make(map[*Frozen]goja.Value)
	}
	rt.frozen[f] = v
	return v, nil
}

// deepFreeze freezes v and every object and array inside it.
func (rt *jsRuntime) deepFreeze(v goja.Value, depth int) error {
	o, ok := v.(*goja.Object)
	if !ok {
		return nil
	}
	if depth > maxDepth {
		return fmt.Errorf("nested deeper than %d levels", maxDepth)
	}
	for _, k := range o.Keys() {
		if err := rt.deepFreeze(o.Get(k), depth+1); err != nil {
			return err
		}
	}
	if _, err := rt.freeze(goja.Undefined(), o); err != nil {
		return fmt.Errorf("freeze: %w", err)
	}
	return nil
}
