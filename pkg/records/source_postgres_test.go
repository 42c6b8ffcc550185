package records_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"

	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/records/recordtest"
)

// pgPool connects to the integration database or skips the test.
func pgPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	dsn := testenv.DatabaseURL(t)
	pool, err := pgxpool.New(context.Background(), dsn)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

var schemaSeq atomic.Int64

// pgSchema creates a fresh schema dropped at the end of the test.
func pgSchema(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	name := fmt.Sprintf("hubd_rt_%d_%d", os.Getpid(), schemaSeq.Add(1))
	ctx := context.Background()
	_, err := pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{name}.Sanitize())
	require.NoError(t, err)
	t.Cleanup(func() {
		_, err := pool.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{name}.Sanitize()+" CASCADE")
		require.NoError(t, err)
	})
	return name
}

// columnType infers a PostgreSQL column type from the fixture values of one
// field: text, bigint, double precision, boolean, or jsonb for anything else.
func columnType(values []any) string {
	kinds := map[string]bool{}
	for _, v := range values {
		switch x := v.(type) {
		case nil:
		case string:
			kinds["text"] = true
		case bool:
			kinds["boolean"] = true
		case int, int64, int32:
			kinds["bigint"] = true
		case float64:
			if x == float64(int64(x)) {
				kinds["integral"] = true
			} else {
				kinds["double precision"] = true
			}
		default:
			kinds["jsonb"] = true
		}
	}
	switch {
	case len(kinds) == 0:
		return "text"
	case len(kinds) == 1 && kinds["integral"]:
		return "double precision"
	case len(kinds) == 1:
		for k := range kinds {
			return k
		}
	}
	delete(kinds, "integral")
	delete(kinds, "bigint")
	if len(kinds) == 0 || (len(kinds) == 1 && kinds["double precision"]) {
		return "double precision"
	}
	return "jsonb"
}

// createTables writes fixtures as tables of schema named by table(object).
func createTables(t *testing.T, pool *pgxpool.Pool, schema string, table func(string) string, fixtures map[string][]records.Record) {
	t.Helper()
	ctx := context.Background()
	for object, recs := range fixtures {
		values := map[string][]any{}
		var order []string
		for _, rec := range recs {
			for field, v := range rec {
				if _, ok := values[field]; !ok {
					order = append(order, field)
				}
				values[field] = append(values[field], v)
			}
		}
		cols := make([]string, 0, len(order))
		for _, field := range order {
			cols = append(cols, pgx.Identifier{field}.Sanitize()+" "+columnType(values[field]))
		}
		ident := pgx.Identifier{schema, table(object)}.Sanitize()
		_, err := pool.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (%s)", ident, strings.Join(cols, ", ")))
		require.NoError(t, err)
		for _, rec := range recs {
			doc, err := json.Marshal(rec)
			require.NoError(t, err)
			_, err = pool.Exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT * FROM jsonb_populate_record(NULL::%s, $1::jsonb)", ident, ident), string(doc))
			require.NoError(t, err)
		}
	}
}

func TestPostgresConformance(t *testing.T) {
	pool := pgPool(t)
	recordtest.Run(t, func(t *testing.T, fixtures map[string][]records.Record) records.Source {
		schema := pgSchema(t, pool)
		createTables(t, pool, schema, func(o string) string { return o }, fixtures)
		src, err := records.NewPostgres(context.Background(), records.PostgresOptions{Pool: pool, Schema: schema})
		require.NoError(t, err)
		t.Cleanup(src.Close)
		return src
	})
}

func TestPostgresOwnPool(t *testing.T) {
	pool := pgPool(t)
	schema := pgSchema(t, pool)
	recordtest.Run(t, func(t *testing.T, fixtures map[string][]records.Record) records.Source {
		createTables(t, pool, schema, func(o string) string { return "app_" + o }, fixtures)
		src, err := records.NewPostgres(context.Background(), records.PostgresOptions{
			DSN:          os.Getenv("HUBD_TEST_DATABASE_URL"),
			Schema:       schema,
			TablePattern: "app_%s",
		})
		require.NoError(t, err)
		t.Cleanup(src.Close)
		require.NoError(t, src.Ping(context.Background()))
		return src
	})
}

func TestPostgresTables(t *testing.T) {
	pool := pgPool(t)
	schema := pgSchema(t, pool)
	ctx := context.Background()
	createTables(t, pool, schema, func(o string) string { return o }, map[string][]records.Record{
		"Chat Rooms; DROP": {{"id": "r1", "title": "quoted"}},
		"room":             {{"id": "r1", "title": "plain"}},
	})
	src, err := records.NewPostgres(ctx, records.PostgresOptions{
		Pool:   pool,
		Schema: schema,
		Tables: map[string]string{"chatRoom": "Chat Rooms; DROP"},
	})
	require.NoError(t, err)

	tests := []struct {
		name, object, wantTitle string
		wantErr                 error
	}{
		{name: "explicit table with odd name", object: "chatRoom", wantTitle: "quoted"},
		{name: "pattern default", object: "room", wantTitle: "plain"},
		{name: "missing table", object: "nosuch", wantErr: records.ErrUnknownObject},
		{name: "object name is not case folded", object: "Room", wantErr: records.ErrUnknownObject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := src.Get(ctx, tc.object, "r1")
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.NotErrorIs(t, err, records.ErrUnavailable)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantTitle, rec["title"])
		})
	}

	_, err = records.NewPostgres(ctx, records.PostgresOptions{Pool: pool, TablePattern: "app_%d"})
	require.Error(t, err)
	_, err = records.NewPostgres(ctx, records.PostgresOptions{})
	require.Error(t, err)
}

func TestPostgresColumnTypes(t *testing.T) {
	pool := pgPool(t)
	schema := pgSchema(t, pool)
	ctx := context.Background()
	tbl := pgx.Identifier{schema, "event"}.Sanitize()
	_, err := pool.Exec(ctx, `CREATE TABLE `+tbl+` (
		id bigint PRIMARY KEY, price numeric(10,2), startsAt timestamptz, meta jsonb, "ownerId" text, big bigint)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO `+tbl+` VALUES
		(9, 3.00, '2026-01-02 03:04:05+00', '{"tags":["a","b"],"n":1}', 'u1', 9007199254740993),
		(10, 2.50, NULL, NULL, 'u1', NULL)`)
	require.NoError(t, err)
	src, err := records.NewPostgres(ctx, records.PostgresOptions{Pool: pool, Schema: schema})
	require.NoError(t, err)

	rec, err := src.Get(ctx, "event", "9")
	require.NoError(t, err)
	require.Equal(t, int64(9), rec["id"])
	start, ok := rec["startsat"].(string)
	require.True(t, ok, "timestamp as string: %v", rec)
	_, err = time.Parse(time.RFC3339, start)
	require.NoError(t, err)
	require.Equal(t, map[string]any{"tags": []any{"a", "b"}, "n": int64(1)}, rec["meta"])
	require.Equal(t, int64(9007199254740993), rec["big"], "64-bit integers stay exact")

	tests := []struct {
		name    string
		match   map[string]string
		wantID  string
		wantErr error
	}{
		{name: "numeric without trailing zeros", match: map[string]string{"price": "3"}, wantID: "9"},
		{name: "numeric fraction", match: map[string]string{"price": "2.5"}, wantID: "10"},
		{name: "numeric scale is not compared", match: map[string]string{"price": "3.00"}, wantErr: records.ErrNotFound},
		{name: "smallest id as text", match: map[string]string{"ownerId": "u1"}, wantID: "10"},
		{name: "column names are case sensitive", match: map[string]string{"ownerid": "u1"}, wantErr: records.ErrUnknownField},
		{name: "unknown column", match: map[string]string{"nosuch": "x"}, wantErr: records.ErrUnknownField},
		{name: "injection attempt is a value", match: map[string]string{"ownerId": "u1' OR '1'='1"}, wantErr: records.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := src.FindOne(ctx, "event", tc.match)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.NotErrorIs(t, err, records.ErrUnavailable)
				return
			}
			require.NoError(t, err)
			got, _ := records.ValueString(rec["id"])
			require.Equal(t, tc.wantID, got)
		})
	}

	// Columns added and dropped after the first lookup are seen.
	_, err = pool.Exec(ctx, `ALTER TABLE `+tbl+` ADD COLUMN status text DEFAULT 'open'`)
	require.NoError(t, err)
	rec, err = src.FindOne(ctx, "event", map[string]string{"status": "open"})
	require.NoError(t, err)
	require.Equal(t, int64(10), rec["id"])
	_, err = pool.Exec(ctx, `ALTER TABLE `+tbl+` DROP COLUMN "ownerId"`)
	require.NoError(t, err)
	_, err = src.FindOne(ctx, "event", map[string]string{"ownerId": "u1"})
	require.ErrorIs(t, err, records.ErrUnknownField)
	_, err = src.FindOne(ctx, "event", map[string]string{"ownerId": "u1", "status": "open"})
	require.ErrorIs(t, err, records.ErrUnknownField)

	// A table created after a lookup found it missing is seen.
	_, err = src.Get(ctx, "late", "1")
	require.ErrorIs(t, err, records.ErrUnknownObject)
	_, err = pool.Exec(ctx, `CREATE TABLE `+pgx.Identifier{schema, "late"}.Sanitize()+` (id int)`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "late"}.Sanitize()+` VALUES (1)`)
	require.NoError(t, err)
	rec, err = src.Get(ctx, "late", "1")
	require.NoError(t, err)
	require.Equal(t, int64(1), rec["id"])
}

func TestPostgresUnavailable(t *testing.T) {
	dsn := testenv.DatabaseURL(t)
	ctx := context.Background()

	t.Run("nothing listens", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		require.NoError(t, ln.Close())
		src, err := records.NewPostgres(ctx, records.PostgresOptions{
			DSN:          "postgres://u:p@" + addr + "/db?sslmode=disable&connect_timeout=2",
			QueryTimeout: 3 * time.Second,
		})
		require.NoError(t, err, "the pool connects lazily")
		defer src.Close()
		_, err = src.Get(ctx, "room", "r1")
		require.ErrorIs(t, err, records.ErrUnavailable)
		require.NotErrorIs(t, err, records.ErrNotFound)
		_, err = src.FindOne(ctx, "room", map[string]string{"id": "r1"})
		require.ErrorIs(t, err, records.ErrUnavailable)
		require.ErrorIs(t, src.Ping(ctx), records.ErrUnavailable)
	})

	t.Run("server does not answer", func(t *testing.T) {
		// A listener that accepts and never speaks: the query timeout fires.
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
			}
		}()
		src, err := records.NewPostgres(ctx, records.PostgresOptions{
			DSN:          "postgres://u:p@" + ln.Addr().String() + "/db?sslmode=disable",
			QueryTimeout: 200 * time.Millisecond,
		})
		require.NoError(t, err)
		defer src.Close()
		start := time.Now()
		_, err = src.Get(ctx, "room", "r1")
		require.ErrorIs(t, err, records.ErrUnavailable)
		require.Less(t, time.Since(start), 2*time.Second)
	})

	t.Run("closed pool", func(t *testing.T) {
		pool, err := pgxpool.New(ctx, dsn)
		require.NoError(t, err)
		src, err := records.NewPostgres(ctx, records.PostgresOptions{Pool: pool})
		require.NoError(t, err)
		pool.Close()
		_, err = src.Get(ctx, "room", "r1")
		require.ErrorIs(t, err, records.ErrUnavailable)
	})

	t.Run("bad DSN does not leak the password", func(t *testing.T) {
		_, err := records.NewPostgres(ctx, records.PostgresOptions{DSN: "postgres://u:s3cret@127.0.0.1:1/db?sslmode=bogus"})
		require.Error(t, err)
		require.NotContains(t, err.Error(), "s3cret")
	})
}

func BenchmarkPostgresFindOne(b *testing.B) {
	dsn := testenv.DatabaseURL(b)
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn)
	require.NoError(b, err)
	defer pool.Close()
	schema := fmt.Sprintf("hubd_bench_%d", os.Getpid())
	ident := pgx.Identifier{schema, "member"}.Sanitize()
	_, err = pool.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize())
	require.NoError(b, err)
	defer pool.Exec(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE") //nolint:errcheck
	_, err = pool.Exec(ctx, `CREATE TABLE `+ident+` (id text PRIMARY KEY, "userId" text, "roomId" text, role text)`)
	require.NoError(b, err)
	_, err = pool.Exec(ctx, `INSERT INTO `+ident+` SELECT 'm'||i, 'u'||(i % 1000), 'r'||(i / 1000), 'guest' FROM generate_series(1, 10000) i`)
	require.NoError(b, err)
	_, err = pool.Exec(ctx, `CREATE INDEX ON `+ident+` ("userId", "roomId")`)
	require.NoError(b, err)
	src, err := records.NewPostgres(ctx, records.PostgresOptions{Pool: pool, Schema: schema})
	require.NoError(b, err)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := src.FindOne(ctx, "member", map[string]string{"userId": "u7", "roomId": "r3"}); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
