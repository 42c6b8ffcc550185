package msgstore

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/zap"
)

var (
	_ Store         = (*Postgres)(nil)
	_ SchemaManager = (*Postgres)(nil)
)

// PostgresOptions configures OpenPostgres.
type PostgresOptions struct {
	// DSN is a libpq connection string or URL. Ignored when Pool is set.
	DSN string
	// Pool is an existing pool to use instead of DSN; Close leaves it open.
	Pool *pgxpool.Pool
	// Schema holds hubd's tables and types; created when missing. Default
	// "public".
	Schema string
	// MaxConns caps the pool opened from DSN. Default 16.
	MaxConns int32
	// WriteTimeout bounds each write transaction (and each read on top of
	// the caller's context); exceeding it is ErrUnavailable. Default 5s.
	WriteTimeout time.Duration
	// MaxBatch caps the appends group-committed in one transaction.
	// Default 500.
	MaxBatch int
	// MaxBatchDelay caps how long a writer waits for more appends after its
	// previous transaction held several (a lone append never waits).
	// Default 2ms; negative disables waiting.
	MaxBatchDelay time.Duration
	// Writers is the number of append transactions in flight at once; each
	// takes every append queued when it starts. Default 1: on the machines
	// measured, one writer's larger batches beat overlapping smaller ones
	// (the commit's WAL flush is the bound; see docs/storage.md).
	Writers int
	// Outbox records an event of every committed message change for the
	// Kafka bridge (see Outbox).
	Outbox bool
	// Logger receives the store's logs. Default: none.
	Logger *zap.Logger
	// OnCommit, if set, receives the size and duration of every group
	// commit of appends (hubd_msgstore_batch_size, _commit_duration_seconds).
	OnCommit CommitObserver
}

func (o PostgresOptions) withDefaults() PostgresOptions {
	if o.Schema == "" {
		o.Schema = "public"
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 16
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Second
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 500
	}
	if o.MaxBatchDelay == 0 {
		o.MaxBatchDelay = 2 * time.Millisecond
	}
	if o.Writers <= 0 {
		o.Writers = 1
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}

// PostgresStats counts the PostgreSQL store's append transactions.
type PostgresStats struct {
	Commits   uint64 // committed append transactions
	Appends   uint64 // appends committed (a transaction holds one or more)
	Fallbacks uint64 // batches that failed and were retried one append at a time
}

// Postgres is the PostgreSQL Store: one message table per hub, generated
// from the hub's spec by EnsureSchema, plus shared tables for sequences,
// receipts, moderation and room settings (see docs/storage.md).
type Postgres struct {
	pool    *pgxpool.Pool
	ownPool bool
	opts    PostgresOptions
	log     *zap.Logger
	schema  string // quoted schema identifier

	closed atomic.Bool

	mu     sync.RWMutex
	tables map[string]*pgTable // hub -> its message table

	app *pgAppender

	appliedMarks atomic.Uint64 // MarkEventApplied calls, to prune now and then
}

// OpenPostgres connects (DSN or Pool), creates the schema and the shared
// tables when missing, and starts the append writers. A database that cannot
// be reached gives an error wrapping ErrUnavailable.
func OpenPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	opts = opts.withDefaults()
	p := &Postgres{
		opts:   opts,
		log:    opts.Logger.Named("msgstore"),
		schema: quoteIdent(opts.Schema),
		tables: map[string]*pgTable{},
		pool:   opts.Pool,
	}
	if p.pool == nil {
		cfg, err := pgxpool.ParseConfig(opts.DSN)
		if err != nil {
			return nil, fmt.Errorf("open postgres message store: %w", invalid("dsn", err.Error()))
		}
		cfg.MaxConns = opts.MaxConns
		// A write that times out is cancelled on the server too (pgx's
		// default only closes the socket, and a pipelined statement then
		// still runs and commits when the server gets to it).
		cfg.ConnConfig.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
			return &pgconn.CancelRequestContextWatcherHandler{Conn: c, DeadlineDelay: time.Second}
		}
		if p.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
			return nil, fmt.Errorf("open postgres message store: %w", pgErr(err))
		}
		p.ownPool = true
	}
	if err := p.initShared(ctx); err != nil {
		if p.ownPool {
			p.pool.Close()
		}
		return nil, fmt.Errorf("open postgres message store: %w", err)
	}
	p.app = newPgAppender(p)
	p.log.Info("message store opened", zap.String("backend", "postgres"), zap.String("schema", opts.Schema))
	return p, nil
}

// Pool returns the connection pool.
func (p *Postgres) Pool() *pgxpool.Pool { return p.pool }

// Stats returns the append transaction counters.
func (p *Postgres) Stats() PostgresStats {
	return PostgresStats{Commits: p.app.commits.Load(), Appends: p.app.appends.Load(), Fallbacks: p.app.fallbacks.Load()}
}

// Close finishes the queued appends and closes the pool it opened. It is
// idempotent.
func (p *Postgres) Close() error {
	if p.closed.Swap(true) {
		return nil
	}
	p.app.close()
	if p.ownPool {
		p.pool.Close()
	}
	return nil
}

// sharedDDL creates the tables every hub shares. %[1]s is the schema.
const sharedDDL = `
CREATE SCHEMA IF NOT EXISTS %[1]s;
CREATE TABLE IF NOT EXISTS %[1]s.hubd_schema (
	hub           text PRIMARY KEY,
	data_object   text NOT NULL UNIQUE,
	message_types text[] NOT NULL,
	columns       text[] NOT NULL,
	spec_hash     text NOT NULL DEFAULT '',
	version       integer NOT NULL DEFAULT 1,
	updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS %[1]s.hubd_schema_log (
	id          bigserial PRIMARY KEY,
	hub         text NOT NULL,
	applied_at  timestamptz NOT NULL DEFAULT now(),
	statements  text[] NOT NULL
);
CREATE TABLE IF NOT EXISTS %[1]s.hubd_room_seq (
	data_object text NOT NULL,
	room        text NOT NULL,
	seq         bigint NOT NULL,
	PRIMARY KEY (data_object, room)
);
CREATE TABLE IF NOT EXISTS %[1]s.hubd_room_rev (
	data_object text NOT NULL,
	room        text NOT NULL,
	rev         bigint NOT NULL,
	PRIMARY KEY (data_object, room)
);
CREATE TABLE IF NOT EXISTS %[1]s.hubd_read_marks (
	hub     text NOT NULL,
	room    text NOT NULL,
	user_id text NOT NULL,
	at      timestamptz NOT NULL,
	PRIMARY KEY (hub, room, user_id)
);
CREATE TABLE IF NOT EXISTS %[1]s.hubd_deliveries (
	hub        text NOT NULL,
	message_id text NOT NULL,
	room       text NOT NULL,
	user_id    text NOT NULL,
	at         timestamptz NOT NULL,
	PRIMARY KEY (hub, message_id, user_id)
);
CREATE TABLE IF NOT EXISTS %[1]s.hubd_moderation (
	hub           text NOT NULL,
	room          text NOT NULL,
	user_id       text NOT NULL,
	blocked       boolean NOT NULL DEFAULT false,
	blocked_until timestamptz,
	silenced      boolean NOT NULL DEFAULT false,
	reason        text NOT NULL DEFAULT '',
	by_user       text NOT NULL DEFAULT '',
	updated_at    timestamptz NOT NULL,
	PRIMARY KEY (hub, room, user_id)
);
CREATE TABLE IF NOT EXISTS %[1]s.hubd_outbox (
	pos      bigserial PRIMARY KEY,
	event_id uuid NOT NULL DEFAULT gen_random_uuid(),
	hub      text NOT NULL,
	op       text NOT NULL,
	message  jsonb NOT NULL,
	at       timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS %[1]s.hubd_applied_events (
	key     text PRIMARY KEY,
	expires timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS hubd_applied_events_expires ON %[1]s.hubd_applied_events (expires);
CREATE TABLE IF NOT EXISTS %[1]s.hubd_room_settings (
	hub      text NOT NULL,
	room     text NOT NULL,
	settings jsonb NOT NULL,
	PRIMARY KEY (hub, room)
);`

// ddlLockKey serializes DDL of every hubd process on the database.
var ddlLockKey = lockKey("hubd", "ddl")

// ddlTimeout bounds opening and EnsureSchema, which may wait for other
// processes' DDL.
func (p *Postgres) ddlTimeout() time.Duration { return max(4*p.opts.WriteTimeout, 30*time.Second) }

func (p *Postgres) initShared(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.ddlTimeout())
	defer cancel()
	return p.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", ddlLockKey); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, fmt.Sprintf(sharedDDL, p.schema))
		return err
	})
}

// inTx runs fn in a transaction and commits it; errors are mapped by pgErr.
func (p *Postgres) inTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	if p.closed.Load() {
		return ErrClosed
	}
	err := pgx.BeginFunc(ctx, p.pool, fn)
	return pgErr(err)
}

// readCtx bounds a read by WriteTimeout on top of the caller's context.
func (p *Postgres) readCtx(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if p.closed.Load() {
		return nil, nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	c, cancel := context.WithTimeout(ctx, p.opts.WriteTimeout)
	return c, cancel, nil
}

// shared returns the qualified name of a shared table.
func (p *Postgres) shared(table string) string { return p.schema + "." + table }

// PostgreSQL error codes the store tells apart.
const (
	pgUniqueViolation = "23505"
)

// pgErr maps driver errors: lost connections, timeouts and server
// unavailability wrap ErrUnavailable, data errors ErrInvalid; a closed pool
// is ErrClosed. Context errors of the caller pass through unchanged, as do
// errors that are not the driver's.
func pgErr(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case strings.HasPrefix(pe.Code, "08"), // connection exception
			strings.HasPrefix(pe.Code, "53"), // insufficient resources
			strings.HasPrefix(pe.Code, "57"), // operator intervention (shutdown, statement timeout)
			strings.HasPrefix(pe.Code, "58"), // system error (I/O)
			pe.Code == "40001", pe.Code == "40P01":
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		case pe.Code == pgUniqueViolation && strings.HasSuffix(pe.ConstraintName, "_pkey"):
			// two appends with the same explicit id raced
			return fmt.Errorf("%w: %w", ErrDuplicateID, err)
		case strings.HasPrefix(pe.Code, "22"): // data exception
			return &InvalidError{Field: "value", Reason: pe.Message}
		}
		return err
	}
	if errors.Is(err, ErrClosed) || errors.Is(err, ErrInvalid) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrOutcomeUnknown) ||
		errors.Is(err, ErrUnavailable) || errors.Is(err, ErrDuplicateID) || errors.Is(err, ErrNoSchema) ||
		errors.Is(err, ErrUnsafeMigration) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		// The caller's own context: leave it recognizable as such, and
		// also as unavailable when it was the store's timeout that fired.
		if pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		return err
	}
	if strings.Contains(err.Error(), "closed pool") {
		return ErrClosed
	}
	var ne net.Error
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) || errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		pgconn.SafeToRetry(err) || strings.Contains(err.Error(), "conn closed") {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// quoteIdent quotes a PostgreSQL identifier, keeping its exact case.
func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// lockKey hashes parts into an advisory lock key.
func lockKey(parts ...string) int64 {
	h := fnv.New64a()
	for _, s := range parts {
		_, _ = io.WriteString(h, s)
		_, _ = h.Write([]byte{0})
	}
	return int64(h.Sum64())
}
