package server

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/sio"
)

// Config is the daemon configuration. It is read, in increasing priority,
// from the defaults below, a YAML file (--config), HUBD_* environment
// variables and command-line flags. docs/configuration.md lists every key.
type Config struct {
	Listen          string        `koanf:"listen"`
	Admin           AdminConfig   `koanf:"admin"`
	Hubs            string        `koanf:"hubs"`
	Records         string        `koanf:"records"`
	Lib             string        `koanf:"lib"`
	Data            string        `koanf:"data"`
	ShutdownTimeout time.Duration `koanf:"shutdownTimeout"`
	// ShutdownDrain is how long /-/ready answers 503 on SIGTERM before the
	// transports close, so that load balancers stop routing here first.
	ShutdownDrain time.Duration `koanf:"shutdownDrain"`
	OpTimeout     time.Duration `koanf:"opTimeout"`
	// MemoryLimitRatio sets the Go runtime's soft memory limit to this
	// share of the container's memory limit (cgroup), unless GOMEMLIMIT is
	// set; 0 turns it off.
	MemoryLimitRatio float64 `koanf:"memoryLimitRatio"`

	// Store selects the message store: "auto" (PostgreSQL when
	// postgres.dsn is set, else embedded), "embedded" or "postgres".
	Store        string             `koanf:"store"`
	RecordSource RecordSourceConfig `koanf:"recordSource"`
	Postgres     PostgresConfig     `koanf:"postgres"`
	Redis        RedisConfig        `koanf:"redis"`
	Kafka        KafkaConfig        `koanf:"kafka"`

	Log       LogConfig       `koanf:"log"`
	Auth      AuthConfig      `koanf:"auth"`
	SocketIO  SocketIOConfig  `koanf:"socketio"`
	Scripting ScriptingConfig `koanf:"scripting"`
	Console   ConsoleConfig   `koanf:"console"`
}

// ConsoleConfig configures the web console of the admin listener.
type ConsoleConfig struct {
	// Enabled serves the console at /-/console on the admin listener.
	Enabled bool `koanf:"enabled"`
	// DevTokens shows a form that mints tokens for any user id and role,
	// signed with auth.jwtSecret (development only; needs that secret).
	DevTokens bool `koanf:"devTokens"`
	// PublicURL is the base URL browsers reach the public listener at
	// (behind a proxy, or when the admin and public hosts differ); empty:
	// the console page's own host name with the public port.
	PublicURL string `koanf:"publicURL"`
}

// AdminConfig configures the admin listener: metrics, reload, profiles and
// health, kept off the public address (docs/security.md).
type AdminConfig struct {
	// Listen is the admin HTTP address; "" turns the admin listener off.
	Listen string `koanf:"listen"`
}

// RecordSourceConfig selects where rooms and memberships are read.
type RecordSourceConfig struct {
	// Kind is "embedded" (the records directory), "postgres" or
	// "elasticsearch".
	Kind string `koanf:"kind"`
	// TablePattern / Tables / Schema name the PostgreSQL table of each
	// DataObject ("%s" by default: table chatMember for chatMember).
	TablePattern string            `koanf:"tablePattern"`
	Tables       map[string]string `koanf:"tables"`
	Schema       string            `koanf:"schema"`
	// Elasticsearch (also OpenSearch and compatible servers).
	Elasticsearch ElasticConfig `koanf:"elasticsearch"`
	// QueryTimeout bounds one lookup.
	QueryTimeout time.Duration `koanf:"queryTimeout"`
}

// ElasticConfig locates an Elasticsearch-compatible cluster.
type ElasticConfig struct {
	URLs         []string          `koanf:"urls"`
	Username     string            `koanf:"username"`
	Password     string            `koanf:"password"`
	IndexPattern string            `koanf:"indexPattern"`
	Indices      map[string]string `koanf:"indices"`
}

// PostgresConfig locates the PostgreSQL database.
type PostgresConfig struct {
	DSN      string `koanf:"dsn"`
	Schema   string `koanf:"schema"` // hubd's message tables
	MaxConns int32  `koanf:"maxConns"`
	// WriteTimeout bounds each message store write; MaxBatch caps the
	// appends grouped into one transaction.
	WriteTimeout time.Duration `koanf:"writeTimeout"`
	MaxBatch     int           `koanf:"maxBatch"`
}

// RedisConfig locates the Redis server shared by hubd nodes.
type RedisConfig struct {
	Addr     string `koanf:"addr"`
	Username string `koanf:"username"`
	Password string `koanf:"password"`
	DB       int    `koanf:"db"`
	// Prefix starts every key and channel hubd uses.
	Prefix string `koanf:"prefix"`
	// Timeout bounds one Redis command; after one that fails the node is
	// degraded and stops waiting for Redis until it answers a
	// probe again (pkg/redisguard).
	Timeout time.Duration `koanf:"timeout"`
	// EmitterKey is the key of @socket.io/redis-emitter publications the
	// nodes deliver to their sockets; "" turns that off.
	EmitterKey string `koanf:"emitterKey"`
}

// KafkaConfig turns on the Kafka bridge (data events in and out,
// kafkaEvents) when Brokers is set.
type KafkaConfig struct {
	Brokers []string `koanf:"brokers"`
	// Service is the <service> of topic names
	// (<service>-dbevent-<dataObject>-<op>).
	Service      string `koanf:"service"`
	TopicPattern string `koanf:"topicPattern"`
	Group        string `koanf:"group"`
}

// LogConfig selects the log level and encoding.
type LogConfig struct {
	Level  string `koanf:"level"`  // debug, info, warn, error
	Format string `koanf:"format"` // console or json
}

// AuthConfig configures handshake token verification.
type AuthConfig struct {
	JWTSecret      string        `koanf:"jwtSecret"`
	JWTSecrets     []string      `koanf:"jwtSecrets"`
	PublicKeyFiles []string      `koanf:"publicKeyFiles"`
	JWKSFile       string        `koanf:"jwksFile"`
	Algorithms     []string      `koanf:"algorithms"`
	Issuer         string        `koanf:"issuer"`
	Audience       string        `koanf:"audience"`
	Leeway         time.Duration `koanf:"leeway"`
	MaxTokenBytes  int           `koanf:"maxTokenBytes"`
	// CacheMaxEntries bounds the in-memory auth cache (without Redis).
	CacheMaxEntries int           `koanf:"cacheMaxEntries"`
	Session         SessionConfig `koanf:"session"`
}

// SessionConfig selects how a verified token becomes a session.
type SessionConfig struct {
	// Resolver is "claims" (the token's claims), "redis" (a session record
	// under RedisKey, e.g. "session:{sessionId}") or "introspection" (an
	// HTTP endpoint called with the bearer token).
	Resolver            string        `koanf:"resolver"`
	RedisKey            string        `koanf:"redisKey"`
	IntrospectionURL    string        `koanf:"introspectionURL"`
	IntrospectionMethod string        `koanf:"introspectionMethod"`
	TTL                 time.Duration `koanf:"ttl"`
}

// SocketIOConfig configures the Socket.IO endpoint.
type SocketIOConfig struct {
	Path           string        `koanf:"path"`
	PingInterval   time.Duration `koanf:"pingInterval"`
	PingTimeout    time.Duration `koanf:"pingTimeout"`
	MaxPayload     int64         `koanf:"maxPayload"`
	AllowedOrigins []string      `koanf:"allowedOrigins"`
	WriteQueueSize int           `koanf:"writeQueueSize"`
	// MaxAttachments, AttachmentTimeout and MaxNamespaces bound one
	// connection (see docs/security.md, "Transport limits").
	MaxAttachments    int           `koanf:"maxAttachments"`
	AttachmentTimeout time.Duration `koanf:"attachmentTimeout"`
	MaxNamespaces     int           `koanf:"maxNamespaces"`
	// MaxDisconnectionDuration is how long a disconnected client may
	// resume its session (connection state recovery); 0 turns it off.
	MaxDisconnectionDuration time.Duration `koanf:"maxDisconnectionDuration"`
	// Netpoll reads established WebSockets on the network poller (no
	// goroutine per idle connection, Linux); false gives each one a
	// reader goroutine.
	Netpoll bool `koanf:"netpoll"`
	// Compression (docs/sio.md, "Compression"): polling responses of at
	// least HTTPCompressionThreshold bytes in gzip or deflate when the
	// client accepts it; WebSocket permessage-deflate when turned on.
	HTTPCompression            bool `koanf:"httpCompression"`
	HTTPCompressionThreshold   int  `koanf:"httpCompressionThreshold"`
	PerMessageDeflate          bool `koanf:"perMessageDeflate"`
	PerMessageDeflateThreshold int  `koanf:"perMessageDeflateThreshold"`
}

// ScriptingConfig configures the MScript engine.
type ScriptingConfig struct {
	Runtimes    int           `koanf:"runtimes"`
	CallTimeout time.Duration `koanf:"callTimeout"`
	// HTTPAllow lists the hosts scripts may call with http.get/post.
	HTTPAllow   []string      `koanf:"httpAllow"`
	HTTPTimeout time.Duration `koanf:"httpTimeout"`
	// SQL enables sql.query (read-only) on postgres.dsn.
	SQL bool `koanf:"sql"`
	// MemoryBudget caps what one script call may allocate, in bytes; a
	// negative value turns the cap off.
	MemoryBudget int64 `koanf:"memoryBudget"`
	// KVShared lists the hubs whose scripts may use kv.shared.*, the one
	// kv namespace several hubs can read and write.
	KVShared []string `koanf:"kvShared"`
}

// DefaultConfig returns the defaults: the embedded backends under ./data
// and the example configs.
func DefaultConfig() Config {
	return Config{
		Listen:           "127.0.0.1:8080",
		Admin:            AdminConfig{Listen: "127.0.0.1:9090"},
		Hubs:             "configs/hubs",
		Records:          "configs/records",
		Lib:              "configs/lib",
		Data:             "data",
		ShutdownTimeout:  10 * time.Second,
		ShutdownDrain:    2 * time.Second,
		OpTimeout:        5 * time.Second,
		MemoryLimitRatio: 0.9,
		Store:            "auto",
		RecordSource:     RecordSourceConfig{Kind: "embedded", QueryTimeout: 2 * time.Second},
		Postgres:         PostgresConfig{Schema: "public", MaxConns: 16},
		Redis:            RedisConfig{Prefix: "hubd:", Timeout: 500 * time.Millisecond, EmitterKey: "socket.io"},
		Log:              LogConfig{Level: "info", Format: "console"},
		Auth: AuthConfig{Leeway: 60 * time.Second, MaxTokenBytes: 8192, CacheMaxEntries: 100_000,
			Session: SessionConfig{Resolver: "claims", TTL: 300 * time.Second}},
		SocketIO: SocketIOConfig{
			Path: "/socket.io/", PingInterval: 25 * time.Second, PingTimeout: 20 * time.Second,
			MaxPayload: 1_000_000, WriteQueueSize: 1024,
			MaxAttachments: sio.DefaultMaxAttachments, AttachmentTimeout: sio.DefaultAttachmentTimeout,
			MaxNamespaces: sio.DefaultMaxNamespaces, MaxDisconnectionDuration: 2 * time.Minute,
			Netpoll:         true,
			HTTPCompression: true, HTTPCompressionThreshold: sio.DefaultCompressThreshold,
			PerMessageDeflateThreshold: sio.DefaultCompressThreshold,
		},
		Scripting: ScriptingConfig{CallTimeout: 500 * time.Millisecond, HTTPTimeout: 5 * time.Second,
			MemoryBudget: scripting.DefaultMemoryBudget},
		Console: ConsoleConfig{Enabled: true},
	}
}

// flagKeys maps command-line flags to config keys.
var flagKeys = map[string]string{
	"listen":       "listen",
	"admin-listen": "admin.listen",
	"hubs":         "hubs",
	"records":      "records",
	"lib":          "lib",
	"data":         "data",
	"jwt-secret":   "auth.jwtSecret",
	"log-level":    "log.level",
	"log-format":   "log.format",
}

// AddFlags registers the serve/check flags on fs.
func AddFlags(fs *pflag.FlagSet) {
	d := DefaultConfig()
	fs.String("config", "", "YAML config file")
	fs.String("listen", d.Listen, "HTTP listen address (host:port; port 0 picks a free one)")
	fs.String("admin-listen", d.Admin.Listen, "admin listen address: /metrics, /-/reload, /debug/pprof/ (\"\" turns it off)")
	fs.String("hubs", d.Hubs, "directory of hub spec files (*.yaml, *.yml, *.json)")
	fs.String("records", d.Records, "directory of embedded records (<DataObject>.json)")
	fs.String("lib", d.Lib, "directory of service library JavaScript modules")
	fs.String("data", d.Data, "directory of the embedded message store")
	fs.String("jwt-secret", "", "HS256 secret for handshake tokens (development)")
	fs.String("log-level", d.Log.Level, "log level: debug, info, warn, error")
	fs.String("log-format", d.Log.Format, "log format: console or json")
}

// Validate checks the configuration for values the daemon cannot use.
func (c Config) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, errors.New("listen: must be set"))
	}
	if c.Hubs == "" {
		errs = append(errs, errors.New("hubs: must be set"))
	}
	if c.Admin.Listen != "" && c.Admin.Listen == c.Listen && !strings.HasSuffix(c.Listen, ":0") {
		errs = append(errs, fmt.Errorf("admin.listen: %s is also listen; the admin endpoints need an address of their own", c.Listen))
	}
	if c.ShutdownDrain < 0 {
		errs = append(errs, fmt.Errorf("shutdownDrain: %s is negative", c.ShutdownDrain))
	}
	if c.MemoryLimitRatio < 0 || c.MemoryLimitRatio > 1 {
		errs = append(errs, fmt.Errorf("memoryLimitRatio: %g is not between 0 and 1", c.MemoryLimitRatio))
	}
	switch c.Store {
	case "auto", "embedded":
	case "postgres":
		if c.Postgres.DSN == "" {
			errs = append(errs, errors.New("store: postgres needs postgres.dsn"))
		}
	default:
		errs = append(errs, fmt.Errorf("store: %q is not auto, embedded or postgres", c.Store))
	}
	switch c.RecordSource.Kind {
	case "embedded":
	case "postgres":
		if c.Postgres.DSN == "" {
			errs = append(errs, errors.New("recordSource.kind: postgres needs postgres.dsn"))
		}
	case "elasticsearch":
		if len(c.RecordSource.Elasticsearch.URLs) == 0 {
			errs = append(errs, errors.New("recordSource.kind: elasticsearch needs recordSource.elasticsearch.urls"))
		}
	default:
		errs = append(errs, fmt.Errorf("recordSource.kind: %q is not embedded, postgres or elasticsearch", c.RecordSource.Kind))
	}
	errs = append(errs, c.Console.validate(c.Auth)...)
	if len(c.Kafka.Brokers) > 0 && c.Kafka.Service == "" {
		errs = append(errs, errors.New("kafka.service: required with kafka.brokers"))
	}
	if c.Log.Format != "console" && c.Log.Format != "json" {
		errs = append(errs, fmt.Errorf("log.format: %q is not console or json", c.Log.Format))
	}
	if !strings.HasPrefix(c.SocketIO.Path, "/") {
		errs = append(errs, fmt.Errorf("socketio.path: %q must start with /", c.SocketIO.Path))
	}
	if c.SocketIO.MaxPayload <= 0 {
		errs = append(errs, errors.New("socketio.maxPayload: must be positive"))
	}
	if c.SocketIO.MaxAttachments <= 0 {
		errs = append(errs, errors.New("socketio.maxAttachments: must be positive"))
	}
	if c.SocketIO.AttachmentTimeout <= 0 {
		errs = append(errs, errors.New("socketio.attachmentTimeout: must be positive"))
	}
	if c.SocketIO.HTTPCompressionThreshold < 0 {
		errs = append(errs, errors.New("socketio.httpCompressionThreshold: must not be negative"))
	}
	if c.SocketIO.PerMessageDeflateThreshold < 0 {
		errs = append(errs, errors.New("socketio.perMessageDeflateThreshold: must not be negative"))
	}
	if c.SocketIO.MaxNamespaces <= 0 {
		errs = append(errs, errors.New("socketio.maxNamespaces: must be positive"))
	}
	return errors.Join(errs...)
}
