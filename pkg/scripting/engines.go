package scripting

import "time"

// Engines holds one Engine per hub, by hub name. Each hub runs its scripts
// on runtimes of its own, so nothing one hub's scripts do to their global
// scope, lib module state or (already frozen) built-ins reaches another
// hub's scripts; see docs/scripting.md.
type Engines map[string]*Engine

// SetObserver sets the observer of every engine (see Engine.SetObserver).
func (es Engines) SetObserver(fn func(kind string, d time.Duration, err error)) {
	for _, e := range es {
		e.SetObserver(fn)
	}
}

// Close closes every engine.
func (es Engines) Close() {
	for _, e := range es {
		e.Close()
	}
}

// Retire retires every engine (see Engine.Retire): each closes when its
// last call returns.
func (es Engines) Retire() {
	for _, e := range es {
		e.Retire()
	}
}
