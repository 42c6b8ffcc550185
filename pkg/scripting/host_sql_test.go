package scripting

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"
)

func TestSQLDisabledWithoutDatabase(t *testing.T) {
	e := newEngine(t, Options{Runtimes: 1})
	_, err := e.Eval(context.Background(), MustCompile(`sql.query("select 1")`), "", nil)
	se := requireKind(t, err, KindRuntime)
	require.Contains(t, se.Msg, "no database is configured")
}

func TestSQLQuery(t *testing.T) {
	dsn := testenv.DatabaseURL(t)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS scripting_sql_test (id int PRIMARY KEY, name text, meta jsonb)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO scripting_sql_test VALUES (1, 'alice', '{"tier":"gold"}'), (2, 'bob', null) ON CONFLICT DO NOTHING`)
	require.NoError(t, err)

	e := newEngine(t, Options{Runtimes: 1, SQL: pool, SQLMaxRows: 5, CallTimeout: 300 * time.Millisecond})
	got, err := e.Eval(ctx, MustCompile(`sql.query("select id, name, meta from scripting_sql_test where id <= $1 order by id", n)`), "", map[string]any{"n": int64(2)})
	require.NoError(t, err)
	require.Equal(t, []any{
		map[string]any{"id": int64(1), "name": "alice", "meta": map[string]any{"tier": "gold"}},
		map[string]any{"id": int64(2), "name": "bob", "meta": nil},
	}, got)

	got, err = e.Eval(ctx, MustCompile(`const r = sql.query("select '7c2b1b1e-5f4e-4a59-9d4f-1b2c3d4e5f60'::uuid as u, timestamptz '2026-01-02 03:04:05Z' as t, 1.5::float8 as f, true as b")[0]; return r`), "", nil)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"u": "7c2b1b1e-5f4e-4a59-9d4f-1b2c3d4e5f60", "t": "2026-01-02T03:04:05Z", "f": 1.5, "b": true}, got)

	failures := []struct {
		name, src, want string
	}{
		{"write refused", `sql.query("insert into scripting_sql_test values (3, 'mallory', null)")`, "read-only transaction"},
		{"ddl refused", `sql.query("drop table scripting_sql_test")`, "read-only transaction"},
		{"too many rows", `sql.query("select generate_series(1, 10) as n")`, "more than 5 rows"},
		{"bad sql", `sql.query("selec 1")`, "syntax error"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.Eval(ctx, MustCompile(tc.src), "", nil)
			se := requireKind(t, err, KindRuntime)
			require.Contains(t, se.Msg, tc.want)
		})
	}

	t.Run("statement bounded by the call deadline", func(t *testing.T) {
		start := time.Now()
		_, err := e.Eval(ctx, MustCompile(`sql.query("select pg_sleep(5)")`), "", nil)
		require.Error(t, err)
		require.Less(t, time.Since(start), 2*time.Second)
		// The pool and the runtime recover: the cancelled statement's
		// connection is cleaned up in the background, which can take longer
		// than one call's deadline on a busy machine.
		var got any
		deadline := time.Now().Add(10 * time.Second)
		for {
			got, err = e.Eval(ctx, MustCompile(`sql.query("select 2 as two")[0].two`), "", nil)
			if err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		require.NoError(t, err)
		require.Equal(t, int64(2), got)
	})
	var n int
	require.NoError(t, pool.QueryRow(ctx, `select count(*) from scripting_sql_test`).Scan(&n))
	require.Equal(t, 2, n, "nothing was written")
}
