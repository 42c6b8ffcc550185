package server

import (
	"errors"
	"fmt"
	"path"
	"strings"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/spec"
)

// Loaded is the result of reading a hub directory: every hub compiled and
// ready to swap in, and the script engine they share.
type Loaded struct {
	Specs   []*spec.Hub
	Defs    map[string]*hub.Definition
	Scripts *scripting.Engine
}

// Close releases the script engine of a load that was not swapped in.
func (l *Loaded) Close() {
	if l != nil && l.Scripts != nil {
		l.Scripts.Close()
	}
}

// reservedNames are the first path segments the daemon itself serves; a hub
// may not take them as its REST prefix.
func reservedNames(socketPath string) []string {
	first := strings.Split(strings.Trim(path.Clean(socketPath), "/"), "/")[0]
	return []string{"-", "metrics", "hub", "socket.io", first}
}

// Load reads, validates and compiles the hub directory and the service
// library. It is the whole reload path short of the swap, and what
// `hubd check` runs. Errors list every problem found.
func Load(cfg Config, log *zap.Logger, hosts HostServices) (*Loaded, error) {
	specs, err := spec.LoadDir(cfg.Hubs, spec.LoadOptions{
		CompileScript: func(src string) error {
			_, err := scripting.Compile(src)
			return err
		},
		ReservedNames: reservedNames(cfg.SocketIO.Path),
	})
	if err != nil {
		return nil, err
	}
	eng, err := scripting.NewEngine(scripting.Options{
		LibDir:      cfg.Lib,
		Runtimes:    cfg.Scripting.Runtimes,
		CallTimeout: cfg.Scripting.CallTimeout,
		Logger:      log,
		KV:          hosts.KV,
		SQL:         hosts.SQL,
		HTTPAllow:   hosts.HTTPAllow,
		HTTPTimeout: hosts.HTTPTimeout,
	})
	if err != nil {
		return nil, fmt.Errorf("load service library %s: %w", cfg.Lib, err)
	}
	l := &Loaded{Specs: specs, Defs: make(map[string]*hub.Definition, len(specs)), Scripts: eng}
	var errs []error
	for _, s := range specs {
		d, err := hub.NewDefinition(s, eng)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.File, err))
			continue
		}
		l.Defs[s.Name()] = d
	}
	if err := errors.Join(errs...); err != nil {
		eng.Close()
		return nil, err
	}
	return l, nil
}
