package scripting

// An engine replaced by a reload is retired rather than closed: calls that
// already hold it run to their end, and it closes when the last of them
// returns (at once when none runs). The state packs a retired bit, a
// closing bit and the number of calls in flight, so Eval pays one atomic
// add on the way in and one on the way out.
const (
	stateRetired = 1 << iota
	stateClosing
	stateCall // one call in flight
)

// enter counts a call in; false when the engine is closing or closed.
func (e *Engine) enter() bool {
	for {
		s := e.state.Load()
		if s&stateClosing != 0 {
			return false
		}
		if e.state.CompareAndSwap(s, s+stateCall) {
			return true
		}
	}
}

// leave counts a call out and closes a retired engine left idle.
func (e *Engine) leave() {
	if s := e.state.Add(-stateCall); s == stateRetired && e.state.CompareAndSwap(s, s|stateClosing) {
		e.Close()
	}
}

// Retire closes the engine once no call runs on it: calls in flight and
// calls that enter before the last of them leaves finish normally. Safe
// to call more than once and after Close.
func (e *Engine) Retire() {
	for {
		s := e.state.Load()
		if s&(stateRetired|stateClosing) != 0 {
			return
		}
		next := s | stateRetired
		if s < stateCall {
			next |= stateClosing
		}
		if e.state.CompareAndSwap(s, next) {
			if next&stateClosing != 0 {
				e.Close()
			}
			return
		}
	}
}

// InFlight returns the number of calls running or queued on the engine.
func (e *Engine) InFlight() int { return int(e.state.Load() / stateCall) }

// Closed reports whether Close has stopped the engine.
func (e *Engine) Closed() bool {
	select {
	case <-e.quit:
		return true
	default:
		return false
	}
}
