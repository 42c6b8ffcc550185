package scripting

import (
	"context"
	"time"
)

// callWindow is the time limits of the call a runtime is running: the
// caller's context and the call's deadline (zero: none). No context of its
// own is made for a call unless a host function asks for one (ctx): most
// calls never do, and a context.WithTimeout per call costs a timer and its
// registration with the caller's context.
type callWindow struct {
	parent   context.Context
	deadline time.Time
	ctx      context.Context    // made by ctx on first use
	cancel   context.CancelFunc // releases ctx
}

// callCtx is the context of the call in progress, for host functions: it
// ends with the caller's context or at the call's deadline.
func (rt *jsRuntime) callCtx() context.Context {
	c := &rt.call
	if c.ctx == nil {
		if c.deadline.IsZero() {
			c.ctx = c.parent
		} else {
			c.ctx, c.cancel = context.WithDeadline(c.parent, c.deadline)
		}
	}
	return c.ctx
}

// err is why the call must stop (its caller's context ended or its
// deadline passed), or nil.
func (c *callWindow) err() error {
	if err := c.parent.Err(); err != nil {
		return err
	}
	if c.timedOut() {
		return context.DeadlineExceeded
	}
	return nil
}

// timedOut tells whether the call's deadline has passed.
func (c *callWindow) timedOut() bool {
	return !c.deadline.IsZero() && !time.Now().Before(c.deadline)
}

// end releases the call's context, if one was made, and leaves the runtime
// between calls (host functions then see context.Background).
func (c *callWindow) end() {
	if c.cancel != nil {
		c.cancel()
	}
	*c = callWindow{parent: context.Background()}
}
