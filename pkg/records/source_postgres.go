package records

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultQueryTimeout bounds every backend query of the database sources on
// top of the caller's context.
const DefaultQueryTimeout = 2 * time.Second

// ErrUnknownField is returned by FindOne when a match names a field the
// object does not have. Such a match can select nothing, so it wraps
// ErrNotFound.
var ErrUnknownField = fmt.Errorf("records: unknown field: %w", ErrNotFound)

// PostgreSQL error codes the source tells apart.
const (
	pgUndefinedTable  = "42P01"
	pgUndefinedColumn = "42703"
)

// PostgresOptions configure a PostgreSQL record source.
type PostgresOptions struct {
	// DSN is a libpq connection string or URL. Ignored when Pool is set.
	DSN string
	// Pool is an existing pool to use; Close leaves it open.
	Pool *pgxpool.Pool
	// TablePattern maps an object name to its table name with one %s
	// (default "%s": table chatMember for object chatMember; "app_%s" gives
	// app_chatMember). Names are used verbatim, as quoted identifiers.
	TablePattern string
	// Tables names the table of individual objects, overriding TablePattern.
	Tables map[string]string
	// Schema qualifies the tables; empty means the connection's search_path.
	Schema string
	// QueryTimeout bounds each query (default DefaultQueryTimeout).
	QueryTimeout time.Duration
}

// Postgres reads records from PostgreSQL, one table per DataObject. Each
// table needs an "id" column; a record is the row as JSON (row_to_json):
// numbers become int64 or float64, timestamps RFC 3339 strings, json/jsonb
// columns decoded values.
//
// Lookups compare columns as text the way ValueString does: booleans
// "true"/"false", numeric columns without trailing zeros (trim_scale), other
// types by their PostgreSQL text form. When several rows match, the smallest
// id in byte order (COLLATE "C") wins. The column list of each table is read
// once and cached; a match on a column missing from the cached list, or a
// query failing on a missing table or column, reads it again.
type Postgres struct {
	pool    *pgxpool.Pool
	ownPool bool
	opts    PostgresOptions

	mu     sync.Mutex
	tables map[string]*pgTable // object -> resolved table
}

var _ Source = (*Postgres)(nil)

// pgTable is the resolved, immutable description of one object's table.
type pgTable struct {
	ident   string            // sanitized, schema-qualified table name
	columns map[string]string // column -> type name (format_type)
}

// NewPostgres opens a source. With a DSN it creates a pool, which connects
// lazily: a database that is down makes lookups fail with ErrUnavailable
// rather than NewPostgres. Use Ping to check the connection.
func NewPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	if opts.TablePattern == "" {
		opts.TablePattern = "%s"
	}
	if strings.Count(opts.TablePattern, "%s") != 1 || strings.Count(opts.TablePattern, "%") != 1 {
		return nil, fmt.Errorf("records: postgres: table pattern %q must contain exactly one %%s", opts.TablePattern)
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = DefaultQueryTimeout
	}
	opts.Tables = maps.Clone(opts.Tables)
	p := &Postgres{pool: opts.Pool, opts: opts, tables: map[string]*pgTable{}}
	if p.pool == nil {
		if opts.DSN == "" {
			return nil, errors.New("records: postgres: DSN or Pool required")
		}
		cfg, err := pgxpool.ParseConfig(opts.DSN)
		if err != nil {
			// The parse error may quote the DSN, password included.
			return nil, errors.New("records: postgres: invalid DSN")
		}
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("records: postgres: %w", err)
		}
		p.pool, p.ownPool = pool, true
	}
	return p, nil
}

// Close closes the pool the source created.
func (p *Postgres) Close() {
	if p.ownPool {
		p.pool.Close()
	}
}

// Ping checks that the database answers.
func (p *Postgres) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.opts.QueryTimeout)
	defer cancel()
	if err := p.pool.Ping(ctx); err != nil {
		return fmt.Errorf("records: postgres: ping: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// TableName returns the unqualified table name of object.
func (p *Postgres) TableName(object string) string {
	if t, ok := p.opts.Tables[object]; ok {
		return t
	}
	return fmt.Sprintf(p.opts.TablePattern, object)
}

// Get returns the row of object whose id, as text, equals id.
func (p *Postgres) Get(ctx context.Context, object, id string) (Record, error) {
	rec, err := p.findOne(ctx, object, map[string]string{"id": id})
	if err != nil {
		return nil, fmt.Errorf("records: get %s %q: %w", object, id, err)
	}
	return rec, nil
}

// FindOne returns the row of object with the smallest id whose columns
// equal every value of match. A field the table lacks gives ErrUnknownField.
func (p *Postgres) FindOne(ctx context.Context, object string, match map[string]string) (Record, error) {
	rec, err := p.findOne(ctx, object, match)
	if err != nil {
		return nil, fmt.Errorf("records: find %s: %w", object, err)
	}
	return rec, nil
}

func (p *Postgres) findOne(ctx context.Context, object string, match map[string]string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	qctx, cancel := context.WithTimeout(ctx, p.opts.QueryTimeout)
	defer cancel()
	tbl, err := p.table(qctx, object)
	if err != nil {
		return nil, p.mapErr(ctx, object, err)
	}
	sql, args, err := tbl.selectSQL(match)
	if errors.Is(err, ErrUnknownField) {
		// The column may have been added since the list was read.
		p.forget(object)
		if tbl, err = p.table(qctx, object); err != nil {
			return nil, p.mapErr(ctx, object, err)
		}
		sql, args, err = tbl.selectSQL(match)
	}
	if err != nil {
		return nil, err
	}
	var raw []byte
	err = p.pool.QueryRow(qctx, sql, args...).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, p.mapErr(ctx, object, err)
	}
	return decodeRecord(raw)
}

// selectSQL builds the lookup query. Identifiers are sanitized, values are
// parameters.
func (t *pgTable) selectSQL(match map[string]string) (string, []any, error) {
	idType, ok := t.columns["id"]
	if !ok {
		return "", nil, fmt.Errorf("table %s has no id column: %w", t.ident, ErrUnavailable)
	}
	fields := slices.Sorted(maps.Keys(match))
	var b strings.Builder
	args := make([]any, 0, len(fields))
	b.WriteString("SELECT row_to_json(t)::text FROM ")
	b.WriteString(t.ident)
	b.WriteString(" AS t")
	for i, field := range fields {
		typ, ok := t.columns[field]
		if !ok {
			return "", nil, fmt.Errorf("%w %q", ErrUnknownField, field)
		}
		if i == 0 {
			b.WriteString(" WHERE ")
		} else {
			b.WriteString(" AND ")
		}
		b.WriteString(textExpr(field, typ))
		fmt.Fprintf(&b, " = $%d", i+1)
		args = append(args, match[field])
	}
	b.WriteString(" ORDER BY ")
	b.WriteString(textExpr("id", idType))
	b.WriteString(` COLLATE "C" LIMIT 1`)
	return b.String(), args, nil
}

// textExpr renders a column as the text ValueString would give for it.
func textExpr(column, typ string) string {
	col := "t." + pgx.Identifier{column}.Sanitize()
	if typ == "numeric" {
		return "trim_scale(" + col + ")::text"
	}
	return "(" + col + ")::text"
}

// table resolves object to its table and column types, caching the answer.
func (p *Postgres) table(ctx context.Context, object string) (*pgTable, error) {
	p.mu.Lock()
	tbl, ok := p.tables[object]
	p.mu.Unlock()
	if ok {
		return tbl, nil
	}
	name := pgx.Identifier{p.TableName(object)}
	if p.opts.Schema != "" {
		name = pgx.Identifier{p.opts.Schema, p.TableName(object)}
	}
	ident := name.Sanitize()
	rows, err := p.pool.Query(ctx, `SELECT a.attname, format_type(a.atttypid, NULL)
		FROM pg_attribute a
		WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, ident)
	if err != nil {
		return nil, err
	}
	columns := map[string]string{}
	var col, typ string
	_, err = pgx.ForEachRow(rows, []any{&col, &typ}, func() error {
		columns[col] = typ
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(columns) == 0 {
		return nil, &pgconn.PgError{Code: pgUndefinedTable, Message: "relation " + ident + " does not exist"}
	}
	tbl = &pgTable{ident: ident, columns: columns}
	p.mu.Lock()
	p.tables[object] = tbl
	p.mu.Unlock()
	return tbl, nil
}

// forget drops the cached table of object so the next lookup reads it again.
func (p *Postgres) forget(object string) {
	p.mu.Lock()
	delete(p.tables, object)
	p.mu.Unlock()
}

// mapErr classifies a query error: a missing table is ErrUnknownObject, a
// missing column ErrUnknownField, a canceled caller context is returned as
// is, anything else wraps ErrUnavailable.
func (p *Postgres) mapErr(ctx context.Context, object string, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case pgUndefinedTable:
			p.forget(object)
			return fmt.Errorf("%w (table %s)", ErrUnknownObject, p.TableName(object))
		case pgUndefinedColumn:
			p.forget(object)
			return fmt.Errorf("%w: %s", ErrUnknownField, pgErr.Message)
		}
	}
	return fmt.Errorf("postgres: %w: %w", ErrUnavailable, err)
}

// decodeRecord decodes a JSON object, keeping integers exact.
func decodeRecord(raw []byte) (Record, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var rec Record
	if err := dec.Decode(&rec); err != nil {
		return nil, fmt.Errorf("decode record: %w: %w", ErrUnavailable, err)
	}
	if rec == nil {
		return nil, fmt.Errorf("decode record: not an object: %w", ErrUnavailable)
	}
	return Normalize(rec).(Record), nil
}
