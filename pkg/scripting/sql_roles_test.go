package scripting

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"
)

// sqlRolesEnv creates the tables of two hubs (a message table each, one
// shared record table) and a secret table, and returns the admin pool and
// a SQLRoles on it.
func sqlRolesEnv(t *testing.T) (*pgxpool.Pool, *SQLRoles) {
	t.Helper()
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(testenv.DatabaseURL(t))
	require.NoError(t, err)
	admin, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	for _, q := range []string{
		`CREATE TABLE IF NOT EXISTS "reachAMessage" (id int PRIMARY KEY, body text)`,
		`CREATE TABLE IF NOT EXISTS "reachBMessage" (id int PRIMARY KEY, body text)`,
		`CREATE TABLE IF NOT EXISTS "reachRoom" (id text PRIMARY KEY, title text)`,
		`CREATE TABLE IF NOT EXISTS reach_secret (id int PRIMARY KEY, token text)`,
		`INSERT INTO "reachAMessage" VALUES (1, 'a says hi') ON CONFLICT DO NOTHING`,
		`INSERT INTO "reachBMessage" VALUES (1, 'b private') ON CONFLICT DO NOTHING`,
		`INSERT INTO "reachRoom" VALUES ('r1', 'Lobby') ON CONFLICT DO NOTHING`,
		`INSERT INTO reach_secret VALUES (1, 'hunter2') ON CONFLICT DO NOTHING`,
	} {
		_, err := admin.Exec(ctx, q)
		require.NoError(t, err, q)
	}
	roles, err := NewSQLRoles(admin, cfg, 1)
	require.NoError(t, err)
	t.Cleanup(roles.Close)
	return admin, roles
}

// TestSQLReachPerHub: a hub's sql.query reads its own message table and the
// record tables its spec names, and nothing else: not another hub's
// messages, not other tables, not by switching roles.
func TestSQLReachPerHub(t *testing.T) {
	ctx := context.Background()
	_, roles := sqlRolesEnv(t)
	dbA, err := roles.ForHub(ctx, "reachA", []Table{{"public", "reachAMessage"}, {"", "reachRoom"}, {"public", "notCreatedYet"}})
	require.NoError(t, err)
	dbB, err := roles.ForHub(ctx, "reachB", []Table{{"public", "reachBMessage"}})
	require.NoError(t, err)
	a := newEngine(t, Options{Runtimes: 1, Hub: "reachA", SQL: dbA, CallTimeout: 5 * time.Second})
	b := newEngine(t, Options{Runtimes: 1, Hub: "reachB", SQL: dbB, CallTimeout: 5 * time.Second})

	got, err := a.Eval(ctx, MustCompile(`return [sql.query('select body from "reachAMessage"')[0].body, sql.query('select title from "reachRoom" where id = $1', "r1")[0].title]`), "", nil)
	require.NoError(t, err)
	require.Equal(t, []any{"a says hi", "Lobby"}, got)
	got, err = b.Eval(ctx, MustCompile(`sql.query('select body from "reachBMessage"')[0].body`), "", nil)
	require.NoError(t, err)
	require.Equal(t, "b private", got)

	refused := []struct{ name, src, want string }{
		{"another hub's messages", `sql.query('select * from "reachBMessage"')`, "permission denied"},
		{"a table no spec names", `sql.query('select * from reach_secret')`, "permission denied"},
		{"hub b cannot read a's records", `sql.query('select * from "reachRoom"')`, "permission denied"},
		{"no role switch", `sql.query("select set_config('role', 'hubd_test', true)")`, "permission denied"},
		{"no session authorization", `sql.query("select set_config('session_authorization', 'hubd_test', true)")`, "permission denied"},
		{"no server files", `sql.query("select pg_read_file('PG_VERSION')")`, "permission denied"},
		{"no writes", `sql.query("select nextval('x')")`, ""},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			e := a
			if tc.name == "hub b cannot read a's records" {
				e = b
			}
			_, err := e.Eval(ctx, MustCompile(tc.src), "", nil)
			se := requireKind(t, err, KindRuntime)
			require.Contains(t, se.Msg, tc.want)
		})
	}

	t.Run("a spec that no longer names a table loses it", func(t *testing.T) {
		_, err := roles.ForHub(ctx, "reachA", []Table{{"public", "reachAMessage"}})
		require.NoError(t, err)
		_, err = a.Eval(ctx, MustCompile(`sql.query('select * from "reachRoom"')`), "", nil)
		se := requireKind(t, err, KindRuntime)
		require.Contains(t, se.Msg, "permission denied")
	})
}

// TestSQLSessionReset: a connection goes back to the hub's pool only after
// DISCARD ALL, so an advisory lock or a session setting taken by one call
// is gone before the next call (the pool has one connection, so both calls
// use the same one).
func TestSQLSessionReset(t *testing.T) {
	ctx := context.Background()
	admin, roles := sqlRolesEnv(t)
	db, err := roles.ForHub(ctx, "resetHub", []Table{{"public", "reachAMessage"}})
	require.NoError(t, err)
	e := newEngine(t, Options{Runtimes: 1, Hub: "resetHub", SQL: db, CallTimeout: 5 * time.Second})

	const lockKey = 774411
	got, err := e.Eval(ctx, MustCompile(`var r = sql.query("select pg_backend_pid() as pid, pg_advisory_lock($1) is not null as locked, set_config('hubd.leak', 'yes', false) as s", key)[0]; return [r.pid, r.locked, r.s]`), "", map[string]any{"key": int64(lockKey)})
	require.NoError(t, err)
	first := got.([]any)
	require.Equal(t, true, first[1])
	require.Equal(t, "yes", first[2])

	held := func() int {
		var n int
		require.NoError(t, admin.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1`, lockKey).Scan(&n))
		return n
	}
	require.Eventually(t, func() bool { return held() == 0 }, 10*time.Second, 20*time.Millisecond, "the advisory lock outlived the call")

	got, err = e.Eval(ctx, MustCompile(`var r = sql.query("select pg_backend_pid() as pid, current_setting('hubd.leak', true) as s, current_setting('default_transaction_read_only') as ro")[0]; return [r.pid, r.s, r.ro]`), "", nil)
	require.NoError(t, err)
	second := got.([]any)
	require.Equal(t, first[0], second[0], "the same pooled connection served both calls")
	require.Contains(t, []any{nil, ""}, second[1], "the session setting did not leak")
	require.Equal(t, "on", second[2])
}
