package scripting

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// SQLRoles gives each hub's sql.query a PostgreSQL login role of its own,
// so that what a script can read is decided by PostgreSQL's privileges,
// not by parsing its SQL:
//
//   - the role is LOGIN and nothing else (no superuser, CREATEDB,
//     CREATEROLE, replication or RLS bypass, member of no role), with
//     default_transaction_read_only on;
//   - it holds SELECT on the tables the hub may read (Table) and no other
//     table privilege: grants from an earlier spec that no longer names a
//     table are revoked;
//   - its pool connects as that role (a script cannot SET ROLE or
//     set_config('role', ...) to anything else: it is a member of nothing)
//     and runs DISCARD ALL on every connection before it is reused, so
//     advisory locks and session settings do not outlive one call;
//   - statements are not prepared by name, so DISCARD ALL cannot leave the
//     pool's statement cache stale.
//
// The connection given to NewSQLRoles needs CREATEROLE and the right to
// grant SELECT on those tables (it owns the message tables it created).
type SQLRoles struct {
	admin    *pgxpool.Pool
	base     *pgxpool.Config
	secret   []byte
	maxConns int32

	mu    sync.Mutex
	pools map[string]*pgxpool.Pool // by role
}

// Table is a table a hub's scripts may read; an empty Schema resolves
// through the search_path of the admin connection.
type Table struct{ Schema, Name string }

// DefaultSQLRoleConns is the pool size of one hub's role.
const DefaultSQLRoleConns = 2

// discardTimeout bounds the DISCARD ALL run on a connection coming back.
const discardTimeout = 2 * time.Second

// NewSQLRoles manages hub roles through admin; base is the configuration of
// admin's pool, copied for each hub's pool. Role passwords are derived from
// base's password (so every node of a cluster derives the same ones) or,
// without one, from a random key of this process.
func NewSQLRoles(admin *pgxpool.Pool, base *pgxpool.Config, maxConns int32) (*SQLRoles, error) {
	secret := []byte("hubd-script-role:" + base.ConnConfig.Password)
	if base.ConnConfig.Password == "" {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("sql roles: %w", err)
		}
	}
	if maxConns <= 0 {
		maxConns = DefaultSQLRoleConns
	}
	return &SQLRoles{admin: admin, base: base, secret: secret, maxConns: maxConns, pools: map[string]*pgxpool.Pool{}}, nil
}

// RoleName is the PostgreSQL role of hub's scripts.
func RoleName(hub string) string {
	sum := sha256.Sum256([]byte(hub))
	return "hubd_script_" + hex.EncodeToString(sum[:8])
}

func (r *SQLRoles) password(role string) string {
	m := hmac.New(sha256.New, r.secret)
	m.Write([]byte(role))
	return hex.EncodeToString(m.Sum(nil))
}

// ForHub creates or updates hub's role so that it reads exactly tables
// (those that exist; the others are skipped) and returns the pool of that
// role for Options.SQL. The returned error lists the tables that could not
// be granted; the pool is usable all the same. A nil pool means the role
// could not be set up at all.
func (r *SQLRoles) ForHub(ctx context.Context, hub string, tables []Table) (SQLDB, error) {
	role := RoleName(hub)
	if err := r.ensureRole(ctx, role); err != nil {
		return nil, fmt.Errorf("sql role of hub %q: %w", hub, err)
	}
	grantErr := r.grant(ctx, role, tables)
	pool, err := r.pool(ctx, role)
	if err != nil {
		return nil, fmt.Errorf("sql role of hub %q: %w", hub, err)
	}
	if grantErr != nil {
		grantErr = fmt.Errorf("sql role of hub %q: %w", hub, grantErr)
	}
	return pool, grantErr
}

// ensureRole creates role if needed, sets its password and checks that it
// holds no attribute or membership beyond LOGIN.
func (r *SQLRoles) ensureRole(ctx context.Context, role string) error {
	ident := pgx.Identifier{role}.Sanitize()
	if _, err := r.admin.Exec(ctx, "CREATE ROLE "+ident+" LOGIN NOINHERIT"); err != nil {
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "42710" { // duplicate_object: another node or an earlier start
			return fmt.Errorf("create role: %w", err)
		}
	}
	// The password is hex, so it is safe as a literal.
	alter := fmt.Sprintf("ALTER ROLE %s LOGIN NOINHERIT NOCREATEDB NOCREATEROLE PASSWORD '%s'", ident, r.password(role))
	if _, err := r.admin.Exec(ctx, alter); err != nil {
		return fmt.Errorf("alter role: %w", err)
	}
	if _, err := r.admin.Exec(ctx, "ALTER ROLE "+ident+" SET default_transaction_read_only = on"); err != nil {
		return fmt.Errorf("alter role: %w", err)
	}
	var super, bypass, repl bool
	var members int
	err := r.admin.QueryRow(ctx, `SELECT rolsuper, rolbypassrls, rolreplication,
		(SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid)
		FROM pg_roles r WHERE rolname = $1`, role).Scan(&super, &bypass, &repl, &members)
	if err != nil {
		return fmt.Errorf("read role: %w", err)
	}
	if super || bypass || repl || members > 0 {
		return fmt.Errorf("role %s has privileges beyond LOGIN (superuser, bypassrls, replication or a role membership): refusing to use it", role)
	}
	return nil
}

// grant makes role's table privileges exactly SELECT on tables.
func (r *SQLRoles) grant(ctx context.Context, role string, tables []Table) error {
	ident := pgx.Identifier{role}.Sanitize()
	var errs []error
	want := map[Table]bool{}
	for _, t := range tables {
		name := pgx.Identifier{t.Name}
		if t.Schema != "" {
			name = pgx.Identifier{t.Schema, t.Name}
		}
		var schema, table string
		err := r.admin.QueryRow(ctx, `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE c.oid = to_regclass($1)`, name.Sanitize()).Scan(&schema, &table)
		if errors.Is(err, pgx.ErrNoRows) {
			continue // not created (yet): nothing to grant
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("table %s: %w", name.Sanitize(), err))
			continue
		}
		want[Table{schema, table}] = true
	}
	rows, err := r.admin.Query(ctx, `SELECT DISTINCT table_schema, table_name FROM information_schema.role_table_grants WHERE grantee = $1`, role)
	if err != nil {
		return fmt.Errorf("list grants: %w", err)
	}
	var held []Table
	for rows.Next() {
		var t Table
		if err := rows.Scan(&t.Schema, &t.Name); err != nil {
			rows.Close()
			return fmt.Errorf("list grants: %w", err)
		}
		held = append(held, t)
	}
	rows.Close()
	for _, t := range held {
		if !want[t] {
			if _, err := r.admin.Exec(ctx, "REVOKE ALL ON TABLE "+pgx.Identifier{t.Schema, t.Name}.Sanitize()+" FROM "+ident); err != nil {
				errs = append(errs, fmt.Errorf("revoke %s.%s: %w", t.Schema, t.Name, err))
			}
		}
	}
	for t := range want {
		stmts := []string{
			"GRANT USAGE ON SCHEMA " + pgx.Identifier{t.Schema}.Sanitize() + " TO " + ident,
			"REVOKE ALL ON TABLE " + pgx.Identifier{t.Schema, t.Name}.Sanitize() + " FROM " + ident,
			"GRANT SELECT ON TABLE " + pgx.Identifier{t.Schema, t.Name}.Sanitize() + " TO " + ident,
		}
		for _, s := range stmts {
			if _, err := r.admin.Exec(ctx, s); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", s, err))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// pool returns the pool of role, opening it the first time.
func (r *SQLRoles) pool(ctx context.Context, role string) (*pgxpool.Pool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.pools[role]; ok {
		return p, nil
	}
	cfg := r.base.Copy()
	cfg.ConnConfig.User = role
	cfg.ConnConfig.Password = r.password(role)
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	cfg.ConnConfig.StatementCacheCapacity = 0
	cfg.ConnConfig.DescriptionCacheCapacity = 0
	cfg.MaxConns = r.maxConns
	cfg.MinConns = 0
	cfg.BeforeConnect, cfg.AfterConnect, cfg.BeforeAcquire, cfg.PrepareConn = nil, nil, nil, nil
	cfg.AfterRelease = resetSession
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open pool: %w", err)
	}
	r.pools[role] = p
	return p, nil
}

// resetSession runs DISCARD ALL on a connection coming back to a hub pool;
// a connection that cannot be reset is closed instead of reused.
func resetSession(c *pgx.Conn) bool {
	ctx, cancel := context.WithTimeout(context.Background(), discardTimeout)
	defer cancel()
	_, err := c.Exec(ctx, "DISCARD ALL")
	return err == nil
}

// Close closes the hub pools (not the admin pool).
func (r *SQLRoles) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for role, p := range r.pools {
		p.Close()
		delete(r.pools, role)
	}
}

// UnavailableSQL is the SQLDB of a hub whose role could not be set up:
// every sql.query fails with Err.
type UnavailableSQL struct{ Err error }

// BeginTx returns the setup error.
func (u UnavailableSQL) BeginTx(context.Context, pgx.TxOptions) (pgx.Tx, error) {
	return nil, fmt.Errorf("no database access for this hub: %w", u.Err)
}
