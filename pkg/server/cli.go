package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/authz"
)

const usage = `hubd serves realtime hubs over Socket.IO.

Usage:
  hubd serve [flags]    run the daemon (SIGHUP reloads the hub directory)
  hubd check [flags]    validate the hub directory exactly as a reload would
  hubd token [flags]    print an HS256 development token
  hubd gen ts [flags]   write TypeScript types for the hub specs
  hubd version          print the version (also --version)
  hubd help             show this help

Run "hubd <command> --help" for the flags of a command.
`

// Main runs the hubd command line and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stdout, stderr)
	case "check":
		return runCheck(args[1:], stdout, stderr)
	case "token":
		return runToken(args[1:], stdout, stderr)
	case "gen":
		return runGen(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, ReadBuildInfo())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "hubd: unknown command %q\n\n%s", args[0], usage)
	return 2
}

// planArgs parses the serve/check flags, reads the configuration (file,
// environment, flags) and plans the start. Warnings go to stderr. On any
// problem it prints every one to stderr and returns the exit code (0 for
// --help).
func planArgs(name string, args []string, stdout, stderr io.Writer) (*Plan, ConfigSource, int) {
	fs := newFlagSet(name, args, stdout, stderr)
	AddFlags(fs)
	if code, ok := parseFlags(fs, args); !ok {
		return nil, nil, code
	}
	// A reload reads the same inputs again: the file, the environment and
	// the flags of this start.
	source := func() (Config, error) {
		cfg, _, err := loadConfig(fs, os.Environ())
		return cfg, err
	}
	cfg, warnings, cerr := loadConfig(fs, os.Environ())
	for _, w := range warnings {
		fmt.Fprintf(stderr, "hubd %s: warning: %s\n", name, w)
	}
	var rerr *readConfigError
	if errors.As(cerr, &rerr) {
		fmt.Fprintf(stderr, "hubd %s: %v\n", name, cerr)
		return nil, nil, 2
	}
	p, perr := NewPlan(cfg)
	err := errors.Join(cerr, perr)
	if err == nil {
		return p, source, 0
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(stderr, line)
	}
	if !dirExists(cfg.Hubs) {
		fmt.Fprintf(stderr, nothingToServe, cfg.Hubs)
	}
	fmt.Fprintf(stderr, "hubd %s: the configuration is not valid (%d problem(s) above)\n", name, len(strings.Split(err.Error(), "\n")))
	return nil, nil, 1
}

// nothingToServe explains how to give hubd its hubs.
const nothingToServe = `
hubd has no hubs to serve: the directory %s does not exist.
Name the directory of hub spec files (*.yaml, *.yml, *.json) with one of
  hubd serve --hubs DIR [--records DIR] [--lib DIR]
  HUBD_HUBS=DIR hubd serve
  hubd serve --config hubd.yaml   (hubs: DIR, relative to the file)
From the repository root, the examples run with
  hubd serve --hubs configs/hubs --records configs/records --lib configs/lib --jwt-secret dev-secret
docs/configuration.md lists every key, flag and variable.

`

func runServe(args []string, stdout, stderr io.Writer) int {
	p, source, code := planArgs("serve", args, stdout, stderr)
	if p == nil {
		return code
	}
	log, level, err := newLogger(p.Config.Log)
	if err != nil {
		fmt.Fprintf(stderr, "hubd serve: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	applyMemoryLimit(p.Config.MemoryLimitRatio, log)
	srv, err := Start(p, log)
	if err != nil {
		log.Error("start failed", zap.Strings("errors", strings.Split(err.Error(), "\n")))
		return 1
	}
	srv.SetConfigSource(source)
	srv.SetLogLevel(level)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	srv.ReloadOn(hup)
	if err := srv.Run(ctx); err != nil {
		log.Error("serve failed", zap.Error(err))
		return 1
	}
	return 0
}

// runCheck runs exactly the plan of `hubd serve` with the same inputs
// (flags, environment, --config) and prints the hubs it would serve.
func runCheck(args []string, stdout, stderr io.Writer) int {
	p, _, code := planArgs("check", args, stdout, stderr)
	if p == nil {
		return code
	}
	for _, h := range p.Specs {
		fmt.Fprintf(stdout, "ok  %-24s %s (namespace /hub/%s)\n", h.Name(), h.File, h.Name())
		for _, w := range h.Warnings() {
			fmt.Fprintf(stdout, "warning: %s: %s\n", h.File, w)
		}
	}
	fmt.Fprintf(stdout, "%d hub(s) valid in %s\n", len(p.Specs), p.Config.Hubs)
	return 0
}

func runToken(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("token", args, stdout, stderr)
	user := fs.String("user", "", "user id (claim userId)")
	role := fs.String("role", "", "role id (claim roleId)")
	claims := fs.StringArray("claim", nil, "extra claim key=value (repeatable)")
	secret := fs.String("jwt-secret", os.Getenv("HUBD_JWT_SECRET"), "HS256 secret (default $HUBD_JWT_SECRET)")
	ttl := fs.Duration("ttl", time.Hour, "token lifetime")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *user == "" || *secret == "" {
		fmt.Fprintln(stderr, "hubd token: --user and --jwt-secret are required")
		return 2
	}
	c := map[string]any{"userId": *user}
	if *role != "" {
		c["roleId"] = *role
	}
	for _, kv := range *claims {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			fmt.Fprintf(stderr, "hubd token: --claim %q is not key=value\n", kv)
			return 2
		}
		c[k] = v
	}
	tok, err := authz.IssueHS256(*secret, c, *ttl)
	if err != nil {
		fmt.Fprintf(stderr, "hubd token: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// newFlagSet makes the flag set of a subcommand. Its usage (its own flags
// only) goes to stdout when asked for with -h/--help, else to stderr.
func newFlagSet(name string, args []string, stdout, stderr io.Writer) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	out := stderr
	if slices.Contains(args, "-h") || slices.Contains(args, "--help") {
		out = stdout
	}
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: hubd %s [flags]\n\nFlags:\n%s", name, fs.FlagUsages())
	}
	return fs
}

// parseFlags parses args; when it returns false the command ends with
// code (0 after --help).
func parseFlags(fs *pflag.FlagSet, args []string) (code int, ok bool) {
	err := fs.Parse(args)
	switch {
	case err == nil:
		return 0, true
	case errors.Is(err, pflag.ErrHelp):
		return 0, false
	}
	fmt.Fprintf(fs.Output(), "hubd %s: %v\n", fs.Name(), err)
	fs.Usage()
	return 2, false
}
