// Package server wires hubd together: configuration, backends, the hub
// registry with its validate-then-swap reload, the Socket.IO endpoint and
// the HTTP endpoints.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/bridge"
	"github.com/hubd/hubd/pkg/console"
	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/lease"
	"github.com/hubd/hubd/pkg/metrics"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/origins"
	"github.com/hubd/hubd/pkg/presence"
	"github.com/hubd/hubd/pkg/rest"
	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/sio"
	"github.com/hubd/hubd/pkg/timerwheel"
)

// registry is the immutable set of running hubs; reloads swap it whole.
type registry struct {
	hubs    map[string]*hub.Hub
	scripts scripting.Engines
}

// Server is the hubd daemon.
type Server struct {
	cfg      Config
	log      *zap.Logger // named "server"
	root     *zap.Logger // the daemon logger, for the components to name theirs
	metrics  *metrics.Metrics
	sio      *sio.Server
	origins  *origins.Policy // socketio.allowedOrigins: CORS of Socket.IO and REST, set on reload
	back     *backends
	shared   *sharedServices
	verifier *liveVerifier
	// configSource re-reads the daemon config on reload (nil: hubs only);
	// logLevel is the level a reload may change.
	configSource ConfigSource
	logLevel     *zap.AtomicLevel
	reloads      <-chan os.Signal  // reload on each while Run runs (ReloadOn); nil: none
	wheel        *timerwheel.Wheel // scheduled actions of every hub
	leases       lease.Leaser      // picks the node running a room's scheduled actions; nil: this one
	presence     presence.Registry // room members of every node; nil: this node's only
	resume       sessionRecords    // session records for connection state recovery; zero: off
	bridge       *bridge.Bridge    // nil without kafka.brokers
	adapter      *sio.RedisAdapter // nil without redis.addr
	handler      http.Handler
	console      http.Handler // the web console of the admin listener; nil when off
	// extraAdmin are the admin routes added with HandleAdmin.
	extraAdmin []Route

	reloadMu    sync.Mutex
	releaseOnce sync.Once
	reg         atomic.Pointer[registry]
	// lastReload is the result of the latest load, for the console.
	lastReload atomic.Pointer[console.ReloadResult]
	ready      atomic.Bool
	addr       atomic.Value // net.Addr once listening
	adminAddr  atomic.Value // net.Addr of the admin listener once listening
}

// New plans the start (NewPlan), then opens the backends and loads the hub
// directory. Any problem is an error: the daemon does not start
// half-configured, and nothing is written before the plan holds.
func New(cfg Config, log *zap.Logger) (*Server, error) {
	p, err := NewPlan(cfg)
	if err != nil {
		return nil, err
	}
	return Start(p, log)
}

// Start opens what the plan needs and loads its hubs.
func Start(p *Plan, log *zap.Logger) (*Server, error) {
	cfg := p.Config
	// The daemon's own lines under "server"; each component names its own.
	s := &Server{cfg: cfg, log: log.Named("server"), root: log, metrics: metrics.New(), verifier: newLiveVerifier(p.Verifier)}
	s.metrics.Registry.MustRegister(buildInfoGauge(ReadBuildInfo()))
	scripting.SetRegexpTimeout(cfg.Scripting.CallTimeout)
	s.wheel = timerwheel.New(timerwheel.Options{OnPanic: func(v any) {
		log.Error("scheduled action panicked", zap.Any("panic", v))
	}, OnLag: s.metrics.ObserveTimerLag})
	var err error
	if s.back, err = openBackends(context.Background(), cfg, p.Records, log, s.metrics.ObserveCommit); err != nil {
		return nil, err
	}
	if s.shared, err = openShared(context.Background(), cfg, log, s.redisDegraded); err != nil {
		s.back.close()
		return nil, err
	}

	var adapter sio.Adapter
	if s.shared.redis != nil {
		ra, err := sio.NewRedisAdapter(sio.RedisAdapterOptions{
			Client: s.shared.redis, Prefix: cfg.Redis.Prefix + "sio:", Logger: log.Named("sio"),
			OnResubscribe: s.resync,
			EmitterKey:    cfg.Redis.EmitterKey, EmitterRoom: hub.ReadersRoom,
		})
		if err != nil {
			s.shared.close()
			s.back.close()
			return nil, fmt.Errorf("redis adapter: %w", err)
		}
		adapter = ra
		s.adapter = ra
		s.leases = lease.NewRedis(s.shared.redis, cfg.Redis.Prefix+"lease:", ra.NodeID())
		s.shared.closers = append(s.shared.closers, func() { _ = ra.Close() })
		pr, err := presence.NewRedis(context.Background(), presence.RedisOptions{
			Client: s.shared.redis, Prefix: cfg.Redis.Prefix + "presence:", Node: ra.NodeID(), Logger: log,
		})
		if err != nil {
			s.shared.close()
			s.back.close()
			return nil, fmt.Errorf("presence registry: %w", err)
		}
		s.presence = pr
		s.shared.closers = append(s.shared.closers, func() { _ = pr.Close() })
		s.shared.guard.OnRecover(func() { s.recovered(pr) })
	}
	node := newNodeID()
	if s.adapter != nil {
		node = s.adapter.NodeID()
	}
	if s.resume, err = openResume(cfg, s.shared.redis, node, s.back, log); err != nil {
		s.shared.close()
		s.back.close()
		return nil, err
	}
	s.origins = origins.New(cfg.SocketIO.AllowedOrigins)
	s.sio = sio.NewServer(sio.Options{
		Adapter: adapter,
		Path:    cfg.SocketIO.Path, PingInterval: cfg.SocketIO.PingInterval, PingTimeout: cfg.SocketIO.PingTimeout,
		MaxPayload: cfg.SocketIO.MaxPayload, Origins: s.origins,
		WriteQueueSize: cfg.SocketIO.WriteQueueSize, Logger: log.Named("sio"),
		MaxAttachments: cfg.SocketIO.MaxAttachments, AttachmentTimeout: cfg.SocketIO.AttachmentTimeout,
		MaxNamespaces: cfg.SocketIO.MaxNamespaces, OnRefuse: s.refusalCounter(),
		GoroutineReaders: !cfg.SocketIO.Netpoll,
		// A namespace CONNECT reads only the bearer token of the handshake.
		RequestHeaders:           []string{"Authorization"},
		HTTPCompressionThreshold: httpCompressionThreshold(cfg.SocketIO),
		PerMessageDeflate:        cfg.SocketIO.PerMessageDeflate,
		// sio reads 0 as its default: a configured 0 compresses everything.
		PerMessageDeflateThreshold: max(cfg.SocketIO.PerMessageDeflateThreshold, 1),
	})
	s.sio.SetNamespaceResolver(s.resolveNamespace)
	s.registerConnGauge()
	s.metrics.Registry.MustRegister(newStatsCollector(s))

	if len(cfg.Kafka.Brokers) > 0 {
		b, err := bridge.New(bridge.Options{
			Brokers: cfg.Kafka.Brokers, Service: cfg.Kafka.Service, TopicPattern: cfg.Kafka.TopicPattern,
			Group: cfg.Kafka.Group, Hubs: s.bridgeTargets, OpTimeout: cfg.OpTimeout,
			Outbox: outboxOf(s.back.store), Dedup: s.bridgeDedup(), Registerer: s.metrics.Registry,
			Observer: func(direction, kind, result string) {
				s.metrics.BridgeRecordsTotal.WithLabelValues(direction, kind, result).Inc()
			},
			Logger: log.Named("bridge"),
		})
		if err != nil {
			s.shared.close()
			s.back.close()
			return nil, fmt.Errorf("kafka: %w", err)
		}
		s.bridge = b
	}
	loaded, err := s.load(s.cfg, s.shared.hosts)
	if err != nil {
		if s.bridge != nil {
			s.bridge.Close()
		}
		s.shared.close()
		s.back.close()
		return nil, err
	}
	s.swap(loaded)
	s.metrics.ReloadLastSuccess.Set(1)
	s.metrics.ReloadSuccessTime.SetToCurrentTime()
	s.recordReload(nil, true)
	s.handler = mux(s.publicRoutes())
	s.console = s.newConsole()
	return s, nil
}

func (s *Server) deps() hub.Deps {
	return hub.Deps{
		Store: s.back.store, Records: s.back.records, Verifier: s.verifier, Metrics: s.metrics,
		Logger: s.root, OpTimeout: s.cfg.OpTimeout, Wheel: s.wheel, Leases: s.leases, Presence: s.presence,
		Cache: s.shared.cache, Sessions: s.shared.sessions, Limiter: s.shared.limiter,
		DataEvents: s.dataEvents(), Resume: s.resume.store, MaxDisconnection: s.cfg.SocketIO.MaxDisconnectionDuration,
		Node: s.resume.node(),
	}
}

// dataEvents is the sink of message data events: the Kafka bridge when
// configured (never a nil *Bridge inside the interface).
func (s *Server) dataEvents() hub.DataEvents {
	if s.bridge == nil {
		return nil
	}
	return s.bridge
}

// outboxOf is the store's outbox of message events, nil when it has none.
func outboxOf(st msgstore.Store) msgstore.Outbox {
	ob, _ := st.(msgstore.Outbox)
	return ob
}

// bridgeDedup keeps the keys of applied inbound Kafka events, across
// restarts: in Redis when configured (shared by the nodes), else in the
// message store.
func (s *Server) bridgeDedup() bridge.Dedup {
	if s.shared.redis != nil {
		return bridge.NewRedisDedup(s.shared.redis, s.cfg.Redis.Prefix+"bridge:seen:", bridge.DefaultDedupWindow)
	}
	if ap, ok := s.back.store.(msgstore.AppliedEvents); ok {
		return bridge.NewStoreDedup(ap, bridge.DefaultDedupWindow)
	}
	return nil
}

// redisDegraded reports the node's Redis state in hubd_redis_degraded.
func (s *Server) redisDegraded(degraded bool) {
	v := 0.0
	if degraded {
		v = 1
	}
	s.metrics.RedisDegraded.Set(v)
}

// recovered resynchronizes the node with Redis after it was degraded: its
// presence records are written again as they are now, and every room
// catches up with the message store.
func (s *Server) recovered(pr *presence.Redis) {
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.OpTimeout)
	defer cancel()
	if err := pr.Resync(ctx); err != nil {
		s.log.Warn("presence records not written again after redis came back", zap.Error(err))
	}
	if reg := s.reg.Load(); reg != nil {
		for _, h := range reg.hubs {
			h.ResyncCluster()
		}
	}
}

// resync makes every hub's rooms catch up with the message store after
// the node missed the other nodes' publications.
func (s *Server) resync() {
	if reg := s.reg.Load(); reg != nil {
		for _, h := range reg.hubs {
			h.Resync()
		}
	}
}

// bridgeTargets lists the running hubs for the Kafka bridge.
func (s *Server) bridgeTargets() []bridge.Target {
	reg := s.reg.Load()
	if reg == nil {
		return nil
	}
	out := make([]bridge.Target, 0, len(reg.hubs))
	for _, h := range reg.hubs {
		out = append(out, h)
	}
	return out
}

// swap applies a validated load; it cannot fail. Unchanged and changed
// hubs keep their live rooms and sockets, new hubs start, removed hubs
// disconnect their sockets.
func (s *Server) swap(l *Loaded) {
	old := s.reg.Load()
	next := &registry{hubs: make(map[string]*hub.Hub, len(l.Defs)), scripts: l.Scripts}
	l.Scripts.SetObserver(s.observeScript)
	for name, def := range l.Defs {
		if old != nil {
			if h, ok := old.hubs[name]; ok {
				// Roles, rules or the records a reload re-read (memberships)
				// may have changed: cached grants go.
				ctx, cancel := context.WithTimeout(context.Background(), s.cfg.OpTimeout)
				if err := h.InvalidateAuthCache(ctx); err != nil {
					s.log.Warn("invalidate auth cache", zap.String("hub", name), zap.Error(err))
				}
				cancel()
				h.Update(def)
				next.hubs[name] = h
				continue
			}
		}
		h := hub.New(def, s.deps())
		if err := s.sio.Attach(h.Namespace()); err != nil {
			s.log.Warn("attach hub to the cluster adapter", zap.String("hub", name), zap.Error(err))
		}
		next.hubs[name] = h
	}
	s.reg.Store(next)
	s.metrics.HubsLoaded.Set(float64(len(next.hubs)))
	if s.bridge != nil {
		s.bridge.Update()
	}
	if old == nil {
		return
	}
	for name, h := range old.hubs {
		if _, ok := next.hubs[name]; !ok {
			h.Close("hub removed")
			s.metrics.DeleteHub(name)
			s.sio.Detach(h.Namespace())
		}
	}
	// Each old engine closes when the last call already holding it returns.
	old.scripts.Retire()
}

// Reload re-reads the records and the hub directory; on any error the
// running hubs stay as they are and every error is returned.
func (s *Server) Reload() error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	pc, err := s.rereadConfig()
	var loaded *Loaded
	if err == nil {
		loaded, err = s.load(s.loadInputs(pc))
	}
	if err == nil && s.back.embedded != nil {
		if err = s.back.embedded.Reload(); err != nil {
			loaded.Close()
			err = fmt.Errorf("records: %w", err)
		}
	}
	if err != nil {
		s.metrics.ReloadsTotal.WithLabelValues("failure").Inc()
		s.metrics.ReloadLastSuccess.Set(0)
		s.recordReload(err, false)
		s.log.Error("reload failed", zap.Strings("errors", strings.Split(err.Error(), "\n")))
		return err
	}
	s.applyConfig(pc)
	s.swap(loaded)
	s.metrics.ReloadsTotal.WithLabelValues("success").Inc()
	s.metrics.ReloadLastSuccess.Set(1)
	s.metrics.ReloadSuccessTime.SetToCurrentTime()
	s.recordReload(nil, false)
	s.log.Info("reload complete", zap.Strings("hubs", s.HubNames()))
	return nil
}

// load runs the reload path up to the swap: read and compile the hub
// directory, then create or migrate each hub's message schema when the
// store has one. Any error leaves everything as it was.
func (s *Server) load(cfg Config, hosts HostServices) (*Loaded, error) {
	loaded, err := Load(cfg, s.root, hosts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sm, pgStore := s.back.store.(msgstore.SchemaManager)
	if pgStore {
		for _, h := range loaded.Specs {
			if err := sm.EnsureSchema(ctx, h); err != nil {
				loaded.Close()
				return nil, fmt.Errorf("%s: message schema: %w", h.File, err)
			}
		}
	}
	s.grantScriptSQL(ctx, loaded, pgStore)
	return loaded, nil
}

// HubNames lists the running hubs.
func (s *Server) HubNames() []string {
	reg := s.reg.Load()
	names := make([]string, 0, len(reg.hubs))
	for n := range reg.hubs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// hubByName returns a running hub.
func (s *Server) hubByName(name string) (*hub.Hub, bool) {
	h, ok := s.reg.Load().hubs[name]
	return h, ok
}

// resolveNamespace maps /hub/<name> and <prefix>/hub/<name> to the hub.
func (s *Server) resolveNamespace(name string) *sio.Namespace {
	parts := strings.Split(strings.TrimRight(name, "/"), "/")
	if len(parts) < 3 || parts[len(parts)-2] != "hub" {
		return nil
	}
	if h, ok := s.hubByName(parts[len(parts)-1]); ok {
		return h.Namespace()
	}
	return nil
}

var _ rest.Hub = (*hub.Hub)(nil)

// restVerifier resolves REST tokens exactly as socket handshakes are.
type restVerifier struct{ s *Server }

func (v restVerifier) Verify(token string) (*authz.Session, error) {
	ctx, cancel := context.WithTimeout(context.Background(), v.s.cfg.OpTimeout)
	defer cancel()
	return hub.ResolveSession(ctx, v.s.deps(), token)
}

// Handler returns the daemon's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Addr returns the bound address once Run listens, else nil.
func (s *Server) Addr() net.Addr {
	a, _ := s.addr.Load().(net.Addr)
	return a
}

// AdminAddr returns the bound admin address once Run listens, else nil
// (also when admin.listen is empty).
func (s *Server) AdminAddr() net.Addr {
	a, _ := s.adminAddr.Load().(net.Addr)
	return a
}

// listen binds the public and the admin address.
func (s *Server) listen() (pub, admin net.Listener, err error) {
	pub, err = net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("listen %s: %w", s.cfg.Listen, err)
	}
	if s.cfg.Admin.Listen == "" {
		return pub, nil, nil
	}
	admin, err = net.Listen("tcp", s.cfg.Admin.Listen)
	if err != nil {
		_ = pub.Close()
		return nil, nil, fmt.Errorf("admin.listen %s: %w", s.cfg.Admin.Listen, err)
	}
	return pub, admin, nil
}

// Run serves until ctx is done, then shuts down in order: stop accepting,
// disconnect sockets, close the store.
func (s *Server) Run(ctx context.Context) error {
	ln, aln, err := s.listen()
	if err != nil {
		return err
	}
	s.addr.Store(ln.Addr())
	if aln != nil {
		s.adminAddr.Store(aln.Addr())
	}
	// Started in this order, stopped in the reverse one.
	var sctx context.Context = context.Background()
	shutdownCtx := func() context.Context { return sctx }
	g := newRunGroup(s.log)
	g.start(component{name: "timer wheel", run: s.wheel.Run})
	if s.bridge != nil {
		// Unpublished message events stay in the outbox for the next start.
		g.start(component{name: "kafka bridge", run: s.bridge.Run})
	}
	if s.resume.liveness != nil {
		// Stopped after the sockets closed: their records are written.
		g.start(component{name: "node liveness", run: s.resume.liveness.Run})
	}
	g.start(onStop("hubs", s.closeHubs))
	if aln != nil {
		as := &http.Server{Handler: s.AdminHandler(), ReadHeaderTimeout: 10 * time.Second}
		g.start(httpComponent("admin http", as, aln, shutdownCtx))
		s.log.Info("admin listening", zap.String("addr", aln.Addr().String()))
	}
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	g.start(httpComponent("http", hs, ln, shutdownCtx))
	g.start(onStop("sockets", func() { s.closeSockets(sctx) }))
	if s.reloads != nil {
		g.start(component{name: "reload on signal", run: s.reloadLoop})
	}
	s.ready.Store(true)
	s.log.Info("listening", zap.String("addr", ln.Addr().String()), zap.Strings("hubs", s.HubNames()))

	select {
	case err = <-g.failed():
	case <-ctx.Done():
	}
	s.drain()
	var cancel context.CancelFunc
	sctx, cancel = context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	s.log.Info("shutting down")
	g.stop(sctx)
	s.release()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	s.log.Info("stopped")
	return err
}

// closeSockets closes every transport without a namespace DISCONNECT, so
// that clients reconnect by themselves (to another node, or to the next
// process here), and stops the scheduled actions: their rooms' leases are
// given up so that another node takes them over at once.
func (s *Server) closeSockets(ctx context.Context) {
	_ = s.sio.Shutdown(ctx)
	if reg := s.reg.Load(); reg != nil {
		for _, h := range reg.hubs {
			h.StopSchedules(ctx)
		}
	}
}

// release closes what Start opened, after the hubs: a hub's Close waits
// for its background work, so none of it runs when the bridge, the shared
// services (Redis, the script kv) and then the store close. Run calls it
// on its way out; it is idempotent, for a server that never ran.
func (s *Server) release() {
	s.releaseOnce.Do(func() {
		s.closeHubs()
		if s.bridge != nil {
			s.bridge.Close()
		}
		s.shared.close()
		s.back.close()
		if reg := s.reg.Load(); reg != nil {
			reg.scripts.Close()
		}
	})
}

// closeHubs stops every hub's own loops (its sockets are gone by then).
func (s *Server) closeHubs() {
	if reg := s.reg.Load(); reg != nil {
		for _, h := range reg.hubs {
			h.Close("server shutting down")
		}
	}
}

// drain turns /-/ready to 503 and keeps serving for shutdownDrain, so
// that load balancers stop sending new clients here before the transports
// close.
func (s *Server) drain() {
	s.ready.Store(false)
	if s.cfg.ShutdownDrain <= 0 {
		return
	}
	s.log.Info("draining", zap.Duration("for", s.cfg.ShutdownDrain))
	time.Sleep(s.cfg.ShutdownDrain)
}

// scriptKinds are the script metric labels; other program names count as
// "mscript".
var scriptKinds = map[string]bool{
	hub.ScriptKindState: true, hub.ScriptKindHandler: true, hub.ScriptKindScheduled: true,
}

// refusalCounter returns the sio refusal hook: every reason counts in
// hubd_refusals_total, each present from the start at zero.
func (s *Server) refusalCounter() func(reason string) {
	for _, r := range sio.RefusalReasons() {
		s.metrics.Refusals.WithLabelValues(r)
	}
	return func(reason string) { s.metrics.Refusals.WithLabelValues(reason).Inc() }
}

// observeScript records one MScript call in the script metrics.
func (s *Server) observeScript(kind string, d time.Duration, err error) {
	if !scriptKinds[kind] {
		kind = "mscript"
	}
	s.metrics.ScriptDuration.WithLabelValues(kind).Observe(d.Seconds())
	if err != nil {
		s.metrics.ScriptErrorsTotal.WithLabelValues(kind).Inc()
		if reason := scriptRefusal(err); reason != "" {
			s.metrics.Refusals.WithLabelValues(reason).Inc()
		}
	}
}

// scriptRefusals are the refusal reasons of script calls stopped by a
// limit, by error kind. A runaway regular expression ends as a timeout.
var scriptRefusals = map[string]string{
	scripting.KindMemory:  "script_memory",
	scripting.KindTimeout: "script_timeout",
}

// scriptRefusal is the refusal reason of a failed script call, "" when the
// failure was not a limit.
func scriptRefusal(err error) string {
	var se *scripting.ScriptError
	if errors.As(err, &se) {
		return scriptRefusals[se.Kind]
	}
	return ""
}

// publicRoutes is what the public listener (listen) serves: Socket.IO,
// the health checks and the hubs' REST APIs. Admin paths answer 404.
func (s *Server) publicRoutes() []Route {
	routes := []Route{
		{s.cfg.SocketIO.Path, s.sio},
		{"GET /-/healthy", http.HandlerFunc(s.serveHealthy)},
		{"GET /-/ready", http.HandlerFunc(s.serveReady)},
	}
	for _, p := range adminOnly {
		routes = append(routes, Route{p, http.NotFoundHandler()})
	}
	// Everything else is a hub's REST API (/{hubName}/...).
	return append(routes, Route{"/", rest.NewHandler(rest.Options{
		Hubs: func(name string) (rest.Hub, bool) {
			h, ok := s.hubByName(name)
			if !ok {
				return nil, false
			}
			return h, true
		},
		Verifier: restVerifier{s},
		Observer: func(hub, route, code string, _ int, d time.Duration) {
			s.metrics.RESTRequestsTotal.WithLabelValues(hub, route, code).Inc()
			s.metrics.RESTDuration.WithLabelValues(hub, route).Observe(d.Seconds())
		},
		Logger:  s.root.Named("rest"),
		Origins: s.origins,
	})})
}

// httpCompressionThreshold maps the socketio config to sio's option:
// negative turns compression off, and a configured 0 (compress every
// response) is 1, since sio reads 0 as its default.
func httpCompressionThreshold(c SocketIOConfig) int {
	if !c.HTTPCompression {
		return -1
	}
	return max(c.HTTPCompressionThreshold, 1)
}
