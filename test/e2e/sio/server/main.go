// Command server is the Socket.IO test server used by the conformance suites
// and the socket.io-client end-to-end tests. It prints "listening <addr>" as
// its first line of output.
//
// Mode "sio" (default) serves namespaces "/" and "/custom" (and any name
// ending in "/custom" as an alias of it):
//   - on connect it emits "auth" with the CONNECT payload ({} if none);
//     auth {"fail":true} is refused with message "refused" and data {"reason":"test"};
//   - "message" is echoed as "message-back", "message-with-ack" is acked
//     with the same arguments (binary attachments included);
//   - "join" (room) joins a room; "broadcast" (room, event, ...args) emits
//     to the room except the sender;
//   - "server-ack" (event) makes the server emit event with an ack and emit
//     "server-ack-result" with what the client answered;
//   - "disconnect-me" makes the server disconnect the socket.
//
// With -redis, broadcasts are shared with the other servers using the same
// Redis and -redis-prefix (a cluster of test servers).
//
// Mode "eio" serves plain Engine.IO at /engine.io/ and echoes every message.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/sio"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func run() error {
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	mode := flag.String("mode", "sio", "sio or eio")
	path := flag.String("path", "", "Engine.IO path (default /socket.io/, /engine.io/ in eio mode)")
	pingInterval := flag.Duration("ping-interval", 25*time.Second, "ping interval")
	pingTimeout := flag.Duration("ping-timeout", 20*time.Second, "ping timeout")
	maxPayload := flag.Int64("max-payload", 1_000_000, "max payload bytes")
	connectTimeout := flag.Duration("connect-timeout", 45*time.Second, "namespace connect timeout")
	writeBatch := flag.Int("write-batch", 0, "WebSocket frames per write (0: default, 1: no coalescing)")
	verbose := flag.Bool("v", false, "debug logging")
	redisAddr := flag.String("redis", "", "Redis address: share broadcasts with the other servers on it (sio mode)")
	redisPrefix := flag.String("redis-prefix", sio.DefaultRedisPrefix, "Redis channel prefix")
	flag.Parse()

	log := zap.NewNop()
	if *verbose {
		log, _ = zap.NewDevelopment()
	}
	opts := sio.Options{
		Path:           *path,
		PingInterval:   *pingInterval,
		PingTimeout:    *pingTimeout,
		MaxPayload:     *maxPayload,
		ConnectTimeout: *connectTimeout,
		WriteBatch:     *writeBatch,
		Logger:         log,
	}
	var h http.Handler
	var closer func(context.Context) error
	switch *mode {
	case "sio":
		var ad *sio.RedisAdapter
		if *redisAddr != "" {
			client, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{*redisAddr}, DisableCache: true})
			if err != nil {
				return fmt.Errorf("redis: %w", err)
			}
			defer client.Close()
			if ad, err = sio.NewRedisAdapter(sio.RedisAdapterOptions{Client: client, Prefix: *redisPrefix, Logger: log}); err != nil {
				return err
			}
			defer func() { _ = ad.Close() }()
			opts.Adapter = ad
		}
		s := newSIO(opts)
		h, closer = s, s.Close
		if ad != nil {
			// Ready only once the subscriptions are live, so a test's
			// first broadcast crosses.
			deadline := time.Now().Add(10 * time.Second)
			for !ad.Subscribed("/") || !ad.Subscribed("/custom") {
				if time.Now().After(deadline) {
					return errors.New("redis: subscriptions not confirmed")
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	case "eio":
		if opts.Path == "" {
			opts.Path = "/engine.io/"
		}
		e := sio.NewEngine(opts, echo{})
		h, closer = e, e.Close
	default:
		return fmt.Errorf("unknown mode %q", *mode)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case <-sig:
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = closer(ctx)
	if err := srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

type echo struct{}

func (echo) OnOpen(*sio.EngineConn) {}
func (echo) OnMessage(c *sio.EngineConn, data []byte, binary bool) error {
	return c.SendMessage(data, binary)
}
func (echo) OnClose(*sio.EngineConn, string) {}

func newSIO(opts sio.Options) *sio.Server {
	s := sio.NewServer(opts)
	custom := s.Of("/custom")
	setup(s.Of("/"))
	setup(custom)
	s.SetNamespaceResolver(func(name string) *sio.Namespace {
		if strings.HasSuffix(name, "/custom") {
			return custom
		}
		return nil
	})
	return s
}

// args turns event arguments back into Emit arguments, restoring binary
// attachments.
func args(ev *sio.Event, from int) []any {
	out := make([]any, 0, len(ev.Args))
	for i := from; i < len(ev.Args); i++ {
		if b, ok := ev.Binary(i); ok {
			out = append(out, b)
			continue
		}
		out = append(out, ev.Args[i])
	}
	return out
}

func str(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

func setup(ns *sio.Namespace) {
	ns.OnConnect(func(s *sio.Socket, auth json.RawMessage) error {
		var a struct {
			Fail bool `json:"fail"`
		}
		if len(auth) > 0 {
			_ = json.Unmarshal(auth, &a)
		}
		if a.Fail {
			return &sio.ConnectError{Message: "refused", Payload: map[string]string{"reason": "test"}}
		}
		if len(auth) == 0 {
			auth = json.RawMessage("{}")
		}
		s.SetData(auth)
		return nil
	})
	ns.OnConnection(func(s *sio.Socket) {
		_ = s.Emit("auth", s.Data().(json.RawMessage))
	})
	ns.OnEvent(func(s *sio.Socket, ev *sio.Event) {
		switch ev.Name {
		case "message":
			_ = s.Emit("message-back", args(ev, 0)...)
		case "message-with-ack":
			_ = ev.Ack(args(ev, 0)...)
		case "join":
			if len(ev.Args) > 0 {
				s.Join(str(ev.Args[0]))
			}
			if ev.HasAck() {
				_ = ev.Ack(json.RawMessage(`{"ok":true}`))
			}
		case "broadcast":
			if len(ev.Args) < 2 {
				return
			}
			_ = ns.To(str(ev.Args[0])).Except(s.ID()).Emit(str(ev.Args[1]), args(ev, 2)...)
			if ev.HasAck() {
				_ = ev.Ack(json.RawMessage(`{"ok":true}`))
			}
		case "server-ack":
			if len(ev.Args) < 1 {
				return
			}
			name := str(ev.Args[0])
			rest := args(ev, 1)
			go func() {
				res, err := s.EmitWithAck(context.Background(), name, rest...)
				if err != nil {
					_ = s.Emit("server-ack-result", map[string]string{"error": err.Error()})
					return
				}
				out := make([]any, len(res))
				for i, r := range res {
					out[i] = r
				}
				_ = s.Emit("server-ack-result", out...)
			}()
		case "disconnect-me":
			s.Disconnect("")
		}
	})
}
