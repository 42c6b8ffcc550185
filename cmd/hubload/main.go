// Command hubload generates Socket.IO load against hubd (or any server
// speaking the same hub protocol) and reports throughput, latency, memory per
// connection and connection rate. It speaks Engine.IO 4 / Socket.IO 5 over
// WebSocket itself, one reader goroutine per connection.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// config is every flag of hubload.
type config struct {
	URL         string
	Path        string
	Namespace   string
	TokenSecret string
	Scenario    string
	Clients     int
	Rooms       int
	Senders     int
	Members     int
	Rate        float64
	ClosedLoop  bool
	Inflight    int
	Duration    time.Duration
	Warmup      time.Duration
	Drain       time.Duration
	Settle      time.Duration
	Timeout     time.Duration
	Concurrency int
	RoomPrefix  string
	ServerPID   int
	SourceAddrs string
	AdminURL    string
	GCSignal    string
	JSON        bool
	CPUProfile  string
}

var errUsage = errors.New("usage")

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("hubload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", "ws://127.0.0.1:8080", "server base URL (ws://, wss://, http:// or https://)")
	fs.StringVar(&c.Path, "path", "/socket.io/", "Socket.IO handshake path")
	fs.StringVar(&c.Namespace, "namespace", "/hub/chatHub", "Socket.IO namespace of the hub")
	fs.StringVar(&c.TokenSecret, "token-secret", "", "HS256 secret; each client gets a token with userId u<i>, roleId user")
	fs.StringVar(&c.Scenario, "scenario", "fanout", "fanout | rooms | idle | connect | crowd")
	fs.IntVar(&c.Clients, "clients", 100, "number of client connections")
	fs.IntVar(&c.Rooms, "rooms", 1, "rooms (rooms: clients are spread evenly; idle: joined round-robin)")
	fs.IntVar(&c.Senders, "senders", 1, "fanout, crowd: how many of the room's members send")
	fs.IntVar(&c.Members, "members", 1000,
		"crowd: members of the fan-out room, connected after the --clients idle ones (room <prefix><rooms>)")
	fs.Float64Var(&c.Rate, "rate", 100, "messages/s in total across all senders (open loop)")
	fs.BoolVar(&c.ClosedLoop, "closed-loop", false,
		"fanout, rooms: each sender keeps --inflight sends unacked and sends the next when one is acked (--rate is ignored)")
	fs.IntVar(&c.Inflight, "inflight", 1, "closed loop: sends in flight per sender")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measurement window")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "sending before the window opens (not counted)")
	fs.DurationVar(&c.Drain, "drain", 5*time.Second, "max wait after the window for outstanding deliveries and acks")
	fs.DurationVar(&c.Settle, "settle", 2*time.Second, "idle: wait before the final server RSS reading")
	fs.DurationVar(&c.Timeout, "timeout", 15*time.Second, "per-client dial, handshake and join timeout")
	fs.IntVar(&c.Concurrency, "concurrency", 64, "max connection attempts in flight")
	fs.StringVar(&c.RoomPrefix, "room-prefix", "bench-", "room ids are <prefix><n>, n from 0")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "server process id; idle reports its VmRSS growth per connection")
	fs.StringVar(&c.AdminURL, "admin-url", "",
		"hubd's admin listener (http://host:port): POST /-/gc before each memory reading, heap and stack from /metrics")
	fs.StringVar(&c.GCSignal, "gc-signal", "",
		"USR1 or USR2: signal --server-pid to collect garbage before each memory reading (the ceiling, the Node baseline)")
	fs.StringVar(&c.SourceAddrs, "source-addrs", "",
		"local addresses to dial from, spread round-robin (127.0.0.2-127.0.0.5,127.0.0.9): about 28k connections each")
	fs.BoolVar(&c.JSON, "json", false, "print the report as JSON")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write hubload's own CPU profile to this file")
	if err := fs.Parse(args); err != nil {
		return c, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	return c, c.validate()
}

func (c config) validate() error {
	var problems []string
	switch c.Scenario {
	case "fanout", "rooms", "idle", "connect", "crowd":
	default:
		problems = append(problems, fmt.Sprintf("--scenario %q: want fanout, rooms, idle, connect or crowd", c.Scenario))
	}
	if c.Clients < 1 {
		problems = append(problems, "--clients must be at least 1")
	}
	if c.Rooms < 1 {
		problems = append(problems, "--rooms must be at least 1")
	}
	if c.Concurrency < 1 {
		problems = append(problems, "--concurrency must be at least 1")
	}
	if c.Scenario == "fanout" && (c.Senders < 1 || c.Senders > c.Clients) {
		problems = append(problems, "--senders must be between 1 and --clients")
	}
	if c.Scenario == "crowd" && (c.Members < 1 || c.Senders < 1 || c.Senders > c.Members) {
		problems = append(problems, "crowd: --members must be at least 1 and --senders between 1 and --members")
	}
	if _, err := parseSources(c.SourceAddrs); err != nil {
		problems = append(problems, strings.TrimPrefix(err.Error(), errUsage.Error()+": "))
	}
	if c.Scenario == "rooms" && c.Clients%c.Rooms != 0 {
		problems = append(problems, "--clients must be a multiple of --rooms")
	}
	traffic := c.Scenario == "fanout" || c.Scenario == "rooms" || c.Scenario == "crowd"
	if traffic && ((!c.ClosedLoop && c.Rate <= 0) || c.Duration <= 0) {
		problems = append(problems, "--rate and --duration must be positive")
	}
	if (c.AdminURL != "" || c.GCSignal != "") && c.ServerPID <= 0 {
		problems = append(problems, "--admin-url and --gc-signal need --server-pid")
	}
	if _, ok := gcSignals[c.GCSignal]; c.GCSignal != "" && !ok {
		problems = append(problems, fmt.Sprintf("--gc-signal %q: want USR1 or USR2", c.GCSignal))
	}
	if c.ClosedLoop && !traffic {
		problems = append(problems, "--closed-loop applies to fanout, rooms and crowd only")
	}
	if c.ClosedLoop && (c.Inflight < 1 || c.Inflight > maxInflight) {
		problems = append(problems, fmt.Sprintf("--inflight must be between 1 and %d", maxInflight))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", errUsage, strings.Join(problems, "; "))
	}
	return nil
}

// totalClients is how many clients a run opens (and signs tokens for).
func (c config) totalClients() int {
	if c.Scenario == "crowd" {
		return c.Clients + c.Members
	}
	return c.Clients
}

// socketURL turns the base URL into the Engine.IO WebSocket endpoint.
func socketURL(base, path string) (string, error) {
	switch {
	case strings.HasPrefix(base, "http://"):
		base = "ws://" + strings.TrimPrefix(base, "http://")
	case strings.HasPrefix(base, "https://"):
		base = "wss://" + strings.TrimPrefix(base, "https://")
	case strings.HasPrefix(base, "ws://"), strings.HasPrefix(base, "wss://"):
	default:
		return "", fmt.Errorf("%w: --url %q: want ws://, wss://, http:// or https://", errUsage, base)
	}
	base = strings.TrimRight(base, "/")
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	if !strings.HasSuffix(path, "/") {
		path += "/"
	}
	return base + path + "?EIO=4&transport=websocket", nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr)
	defer func() { _ = log.Sync() }()
	r, err := newRunner(cfg, log.Named("hubload"))
	if err != nil {
		return err
	}
	if cfg.CPUProfile != "" {
		stopProfile, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer stopProfile()
	}
	start := time.Now()
	var rep *Report
	switch cfg.Scenario {
	case "fanout":
		rep, err = r.runFanout(ctx)
	case "rooms":
		rep, err = r.runRooms(ctx)
	case "idle":
		rep, err = r.runIdle(ctx)
	case "connect":
		rep, err = r.runConnect(ctx)
	case "crowd":
		rep, err = r.runCrowd(ctx)
	}
	if err != nil {
		return fmt.Errorf("scenario %s: %w", cfg.Scenario, err)
	}
	rep.Scenario = cfg.Scenario
	rep.URL = cfg.URL
	rep.Namespace = cfg.Namespace
	rep.Clients = cfg.Clients
	rep.Seconds = cfg.Duration.Seconds()
	if cfg.Scenario == "idle" || cfg.Scenario == "connect" {
		rep.Seconds = time.Since(start).Seconds()
	}
	rep.Errors = r.errs.snapshot()
	rep.LoadAverage = loadAverage()
	if cfg.JSON {
		return rep.writeJSON(stdout)
	}
	return rep.writeText(stdout)
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}, nil
}

func newLogger(w io.Writer) *zap.Logger {
	enc := zap.NewDevelopmentEncoderConfig()
	enc.TimeKey = ""
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.AddSync(w), zapcore.InfoLevel)
	return zap.New(core)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "hubload:", err)
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
