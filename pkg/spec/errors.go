package spec

import (
	"fmt"
	"strings"
)

// FieldError is one problem in a spec file, located by its field path
// (for example hubRoles[1].canSend).
type FieldError struct {
	File string
	Path string
	Msg  string
}

// Error formats the problem as "FILE: PATH: MSG"; empty parts are left out.
func (e *FieldError) Error() string {
	parts := make([]string, 0, 3)
	if e.File != "" {
		parts = append(parts, e.File)
	}
	if e.Path != "" {
		parts = append(parts, e.Path)
	}
	parts = append(parts, e.Msg)
	return strings.Join(parts, ": ")
}

// ErrorList collects every problem found while loading specs.
type ErrorList []*FieldError

// Error lists the problems, one per line.
func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Err returns nil for an empty list and the list otherwise, so callers never
// hold a non-nil error interface wrapping an empty list.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// collector accumulates the errors of one file.
type collector struct {
	file string
	errs ErrorList
}

func (c *collector) add(path, format string, args ...any) {
	c.errs = append(c.errs, &FieldError{File: c.file, Path: path, Msg: fmt.Sprintf(format, args...)})
}
