package server

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
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
		return runServe(args[1:], stderr)
	case "check":
		return runCheck(args[1:], stdout, stderr)
	case "token":
		return runToken(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "hubd: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func parseConfig(name string, args []string, stderr io.Writer) (Config, bool) {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(stderr)
	AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		return Config{}, false
	}
	cfg, err := LoadConfig(fs, os.Environ())
	if err != nil {
		fmt.Fprintf(stderr, "hubd %s: %v\n", name, err)
		return cfg, false
	}
	return cfg, true
}

func runServe(args []string, stderr io.Writer) int {
	cfg, ok := parseConfig("serve", args, stderr)
	if !ok {
		return 2
	}
	log, err := NewLogger(cfg.Log)
	if err != nil {
		fmt.Fprintf(stderr, "hubd serve: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()
	applyMemoryLimit(cfg.MemoryLimitRatio, log)
	srv, err := New(cfg, log)
	if err != nil {
		log.Error("start failed", zap.Strings("errors", strings.Split(err.Error(), "\n")))
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-hup:
				_ = srv.Reload() // logs its own outcome
			case <-ctx.Done():
				return
			}
		}
	}()
	if err := srv.Run(ctx); err != nil {
		log.Error("serve failed", zap.Error(err))
		return 1
	}
	return 0
}

func runCheck(args []string, stdout, stderr io.Writer) int {
	cfg, ok := parseConfig("check", args, stderr)
	if !ok {
		return 2
	}
	loaded, err := Load(cfg, zap.NewNop(), HostServices{})
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, line)
		}
		fmt.Fprintf(stderr, "hubd check: %s is not valid\n", cfg.Hubs)
		return 1
	}
	defer loaded.Close()
	for _, h := range loaded.Specs {
		fmt.Fprintf(stdout, "ok  %-24s %s (namespace /hub/%s)\n", h.Name(), h.File, h.Name())
	}
	fmt.Fprintf(stdout, "%d hub(s) valid in %s\n", len(loaded.Specs), cfg.Hubs)
	return 0
}

func runToken(args []string, stdout, stderr io.Writer) int {
	fs := pflag.NewFlagSet("token", pflag.ContinueOnError)
	fs.SetOutput(stderr)
	user := fs.String("user", "", "user id (claim userId)")
	role := fs.String("role", "", "role id (claim roleId)")
	claims := fs.StringArray("claim", nil, "extra claim key=value (repeatable)")
	secret := fs.String("jwt-secret", os.Getenv("HUBD_JWT_SECRET"), "HS256 secret (default $HUBD_JWT_SECRET)")
	ttl := fs.Duration("ttl", time.Hour, "token lifetime")
	if err := fs.Parse(args); err != nil {
		return 2
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
