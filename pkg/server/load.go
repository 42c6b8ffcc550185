package server

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/spec"
)

// Loaded is the result of reading a hub directory: every hub compiled and
// ready to swap in, and the script engine of each hub.
type Loaded struct {
	Specs   []*spec.Hub
	Defs    map[string]*hub.Definition
	Scripts scripting.Engines
}

// Close releases the script engines of a load that was not swapped in.
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
	specs, specErrs, err := spec.LoadDirAll(cfg.Hubs, spec.LoadOptions{
		CompileScript: func(src string) error {
			_, err := scripting.Compile(src)
			return err
		},
		ReservedNames: reservedNames(cfg.SocketIO.Path),
	})
	if err != nil {
		return nil, err
	}
	lib, err := scripting.LoadLibrary(cfg.Lib)
	if err != nil {
		err = fmt.Errorf("load service library %s: %w", cfg.Lib, err)
		if len(specErrs) > 0 {
			return nil, errors.Join(specErrs, err)
		}
		return nil, err
	}
	l := &Loaded{Specs: specs, Defs: make(map[string]*hub.Definition, len(specs)), Scripts: make(scripting.Engines, len(specs))}
	// Every problem of every file in one run: the spec's own, then what
	// fails to compile and what would fail at every call (unknown names,
	// missing lib paths), also in files with spec errors as far as their
	// scripts could be read.
	var errs []error
	if len(specErrs) > 0 {
		errs = append(errs, specErrs)
	}
	for _, s := range specs {
		eng, err := scripting.NewEngine(scriptOptions(cfg, log, hosts, lib, s))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: load service library %s: %w", s.File, cfg.Lib, err))
			continue
		}
		for _, err := range hub.CheckScripts(s, eng) {
			errs = append(errs, fmt.Errorf("%s: %w", s.File, err))
		}
		if s.Partial() {
			eng.Close()
			continue
		}
		l.Scripts[s.Name()] = eng
		for _, w := range s.Warnings() {
			log.Warn("hub spec warning", zap.String("file", s.File), zap.String("warning", w))
		}
		d, err := hub.NewDefinition(s, eng)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s.File, err))
			continue
		}
		l.Defs[s.Name()] = d
	}
	if err := errors.Join(errs...); err != nil {
		l.Scripts.Close()
		return nil, err
	}
	return l, nil
}

// scriptOptions are the engine options of hub h: its own runtimes, its own
// kv namespace (and the shared one when scripting.kvShared lists it).
func scriptOptions(cfg Config, log *zap.Logger, hosts HostServices, lib *scripting.Library, h *spec.Hub) scripting.Options {
	return scripting.Options{
		Library:      lib,
		Hub:          h.Name(),
		Runtimes:     cfg.Scripting.Runtimes,
		CallTimeout:  cfg.Scripting.CallTimeout,
		MemoryBudget: cfg.Scripting.MemoryBudget,
		Logger:       log.With(zap.String("hub", h.Name())),
		KV:           hosts.KV,
		KVShared:     slices.Contains(cfg.Scripting.KVShared, h.Name()),
		SQL:          hosts.SQL,
		HTTPAllow:    hosts.HTTPAllow,
		HTTPTimeout:  hosts.HTTPTimeout,
	}
}
