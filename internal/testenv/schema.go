package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// FreshSchema returns the name of a new PostgreSQL schema, prefix plus
// random hex, that is dropped (with everything in it) when tb ends.
func FreshSchema(tb testing.TB, dsn, prefix string) string {
	tb.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		pool, err := pgxpool.New(ctx, dsn)
		if err != nil {
			tb.Logf("drop schema %s: %v", name, err)
			return
		}
		defer pool.Close()
		if _, err := pool.Exec(ctx, `DROP SCHEMA IF EXISTS "`+name+`" CASCADE`); err != nil {
			tb.Logf("drop schema %s: %v", name, err)
		}
	})
	return name
}
