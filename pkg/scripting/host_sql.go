package scripting

import (
	"context"
	"fmt"
	"time"

	"github.com/dop251/goja"
	"github.com/jackc/pgx/v5"
)

// SQLDB is what sql.query needs from a database: *pgxpool.Pool satisfies
// it.
type SQLDB interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// SQL defaults.
const (
	DefaultSQLMaxRows = 1000
)

// sql.query(text, ...args): runs text with positional parameters ($1, $2,
// ...) in a READ ONLY transaction with a statement_timeout of the call's
// remaining time, and returns the rows as plain objects keyed by column
// name. Writes fail in PostgreSQL itself ("cannot execute ... in a
// read-only transaction"). More than Options.SQLMaxRows rows throw.
func (rt *jsRuntime) sqlQuery(call goja.FunctionCall) goja.Value {
	o := &rt.e.opts
	db := rt.e.sql.Load()
	if db == nil {
		rt.throw(fmt.Errorf("sql.query: no database is configured"))
	}
	text := call.Argument(0)
	if goja.IsUndefined(text) || goja.IsNull(text) || text.String() == "" {
		rt.throw(fmt.Errorf("sql.query: query text is required"))
	}
	args := make([]any, 0, len(call.Arguments)-1)
	for _, a := range call.Arguments[1:] {
		v, err := rt.export(a)
		if err != nil {
			panic(err)
		}
		args = append(args, v)
	}
	rows, err := readOnlyQuery(rt.callCtx(), *db, text.String(), args, o.SQLMaxRows)
	if err != nil {
		rt.throw(fmt.Errorf("sql.query: %w", err))
	}
	v, err := rt.toJS(rows, 0)
	if err != nil {
		rt.throw(fmt.Errorf("sql.query: %w", err))
	}
	return v
}

// readOnlyQuery runs one query in a read-only transaction bounded by ctx.
func readOnlyQuery(ctx context.Context, db SQLDB, text string, args []any, maxRows int) ([]any, error) {
	tx, err := db.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	timeout := time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", timeout.Milliseconds()+1)); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, text, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	fields := rows.FieldDescriptions()
	out := []any{}
	for rows.Next() {
		if len(out) >= maxRows {
			return nil, fmt.Errorf("more than %d rows", maxRows)
		}
		vals, err := rows.Values()
		if err != nil {
			return nil, err
		}
		row := make(map[string]any, len(fields))
		for i, f := range fields {
			row[f.Name] = sqlValue(vals[i])
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// sqlValue turns a decoded column into something toJS maps naturally:
// UUIDs as their text form, times as RFC 3339 (via JSON), the rest as pgx
// decoded it (numbers, strings, bools, JSON values, arrays).
func sqlValue(v any) any {
	switch x := v.(type) {
	case [16]byte:
		return fmt.Sprintf("%x-%x-%x-%x-%x", x[0:4], x[4:6], x[6:8], x[8:10], x[10:16])
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = sqlValue(e)
		}
		return out
	}
	return v
}
