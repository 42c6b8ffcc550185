package msgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/spec"
)

// Optional message columns, created when their spec toggle is on and kept
// when it is turned off.
const (
	colReplyTo   = "replyTo"
	colReaction  = "reaction"
	colForwarded = "forwarded"
	// colAudience is in every table (added to older ones): who may read a
	// message, NULL for the whole room.
	colAudience = "audience"
	// colRev and colChange are in every table (added to older ones, whose
	// messages read as never changed): the room's change number of the
	// message's last change (0: none) and what that change was.
	colRev    = "rev"
	colChange = "change"
)

var optionalColumns = []struct{ name, ddl string }{
	{colReplyTo, `"replyTo" jsonb`},
	{colReaction, `reaction jsonb`},
	{colForwarded, `forwarded boolean`},
	{colAudience, `audience jsonb`},
	{colRev, `rev bigint NOT NULL DEFAULT 0`},
	{colChange, `change jsonb`},
}

// alwaysColumns are the optional columns every table gets whatever its
// spec says.
var alwaysColumns = []string{colAudience, colRev, colChange}

// maxIdentLen is PostgreSQL's identifier limit (NAMEDATALEN-1); longer names
// would be truncated silently and could collide.
const maxIdentLen = 63

// pgTable is the resolved, immutable description of one hub's message table.
type pgTable struct {
	hub        string
	dataObject string
	ident      string          // qualified, quoted table name
	enum       string          // qualified, quoted enum type name
	types      map[string]bool // the spec's message types
	cols       map[string]bool // optional columns present
	selectList string          // columns in scanMessage's order
}

func (p *Postgres) newPgTable(hub, dataObject string, types, cols []string) *pgTable {
	t := &pgTable{
		hub:        hub,
		dataObject: dataObject,
		ident:      p.schema + "." + quoteIdent(dataObject),
		enum:       p.schema + "." + quoteIdent(enumName(dataObject)),
		types:      map[string]bool{},
		cols:       map[string]bool{},
	}
	for _, ty := range types {
		t.types[ty] = true
	}
	for _, c := range cols {
		t.cols[c] = true
	}
	sel := []string{`id::text`, `"roomId"`, `seq`, `"senderId"`, `"messageType"::text`, `content::text`,
		`"timestamp"`, `status`, `"clientMessageId"`, `"editedAt"`}
	for _, c := range optionalColumns {
		if t.cols[c.name] {
			switch c.name {
			case colForwarded, colRev:
				sel = append(sel, c.name)
			default:
				sel = append(sel, quoteIdent(c.name)+`::text`)
			}
		}
	}
	t.selectList = strings.Join(sel, ", ")
	return t
}

func enumName(dataObject string) string      { return dataObject + "_messageType" }
func cmidIndexName(dataObject string) string { return dataObject + "_clientMessageId" }
func revIndexName(dataObject string) string  { return dataObject + "_rev" }

// specSchema is what a spec asks of its hub's table.
type specSchema struct {
	hub, dataObject string
	types           []string // enabled built-in types, custom types, then persisted custom events
	cols            []string // optional columns enabled
}

func schemaOf(h *spec.Hub) (specSchema, error) {
	s := specSchema{hub: h.Name(), dataObject: h.MessageSettings.DataObjectName, types: []string{}, cols: []string{}}
	if s.hub == "" {
		return s, invalid("hubBasics.name", "is required")
	}
	if s.dataObject == "" {
		s.dataObject = s.hub + "Message"
	}
	for _, n := range []string{enumName(s.dataObject), cmidIndexName(s.dataObject)} {
		if len(n) > maxIdentLen {
			return s, invalid("messageSettings.dataObjectName", fmt.Sprintf("%q is too long: PostgreSQL names derived from it (%q) exceed %d bytes", s.dataObject, n, maxIdentLen))
		}
	}
	if strings.HasPrefix(s.dataObject, "hubd_") {
		return s, invalid("messageSettings.dataObjectName", fmt.Sprintf("%q: the prefix hubd_ is reserved", s.dataObject))
	}
	seen := map[string]bool{}
	add := func(t string) {
		if t != "" && !seen[t] {
			seen[t] = true
			s.types = append(s.types, t)
		}
	}
	for _, t := range h.MessageSettings.MessageTypes {
		add(string(t))
	}
	for _, ct := range h.MessageSettings.CustomMessageTypes {
		add(ct.Name)
	}
	// A non-ephemeral custom event is stored as a message whose type is the
	// event's name, so it is replayed with the history.
	for _, e := range h.EventSettings.CustomEvents {
		if !e.Ephemeral {
			add(e.Name)
		}
	}
	ms := h.MessageSettings
	for _, c := range []struct {
		name string
		on   bool
	}{{colReplyTo, ms.EnableReplyTo}, {colReaction, ms.EnableReaction}, {colForwarded, ms.EnableForwarded}} {
		if c.on {
			s.cols = append(s.cols, c.name)
		}
	}
	s.cols = append(s.cols, alwaysColumns...)
	return s, nil
}

// EnsureSchema implements SchemaManager. In one transaction, under an
// advisory lock shared by every hubd process on the database, it creates
// the hub's enum type, table and indexes, or migrates them: new message
// types are added to the enum, optional columns of newly enabled toggles are
// added (the enum holds the enabled built-in types, the custom types and
// the non-ephemeral custom events). It refuses (ErrUnsafeMigration, nothing
// changed) to drop a message type or persisted event that messages still
// use, to take over a table that another hub uses
// or whose layout is not hubd's.
func (p *Postgres) EnsureSchema(ctx context.Context, h *spec.Hub) error {
	want, err := schemaOf(h)
	if err != nil {
		return fmt.Errorf("ensure schema of hub %s: %w", h.Name(), err)
	}
	ctx, cancel := context.WithTimeout(ctx, p.ddlTimeout())
	defer cancel()
	var (
		applied []string
		table   *pgTable
	)
	err = p.inTx(ctx, func(tx pgx.Tx) error {
		applied = nil
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", ddlLockKey); err != nil {
			return err
		}
		var err error
		applied, table, err = p.migrate(ctx, tx, want, h.Hash)
		return err
	})
	if err != nil {
		return fmt.Errorf("ensure schema of hub %s (table %s): %w", want.hub, want.dataObject, err)
	}
	p.mu.Lock()
	p.tables[want.hub] = table
	p.mu.Unlock()
	if len(applied) > 0 {
		p.log.Info("hub schema migrated", zap.String("hub", want.hub), zap.String("table", want.dataObject), zap.Strings("statements", applied))
	}
	return nil
}

// migrate brings the hub's table to want inside tx and returns the DDL it
// ran. Every check runs before the first change.
func (p *Postgres) migrate(ctx context.Context, tx pgx.Tx, want specSchema, hash string) ([]string, *pgTable, error) {
	t := p.newPgTable(want.hub, want.dataObject, want.types, nil)
	var owner string
	err := tx.QueryRow(ctx, `SELECT hub FROM `+p.shared("hubd_schema")+` WHERE data_object = $1`, want.dataObject).Scan(&owner)
	switch {
	case err == nil && owner != want.hub:
		return nil, nil, fmt.Errorf("%w: table %s belongs to hub %s", ErrUnsafeMigration, want.dataObject, owner)
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return nil, nil, err
	}
	var enumLabels []string
	if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(e.enumlabel::text ORDER BY e.enumsortorder), '{}')
		FROM pg_type ty JOIN pg_namespace n ON n.oid = ty.typnamespace LEFT JOIN pg_enum e ON e.enumtypid = ty.oid
		WHERE n.nspname = $1 AND ty.typname = $2`, p.opts.Schema, enumName(want.dataObject)).Scan(&enumLabels); err != nil {
		return nil, nil, err
	}
	typeExists := false
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_type ty JOIN pg_namespace n ON n.oid = ty.typnamespace
		WHERE n.nspname = $1 AND ty.typname = $2)`, p.opts.Schema, enumName(want.dataObject)).Scan(&typeExists); err != nil {
		return nil, nil, err
	}
	columns := map[string]string{}
	rows, err := tx.Query(ctx, `SELECT a.attname::text, format_type(a.atttypid, a.atttypmod)
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped`, p.opts.Schema, want.dataObject)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, nil, err
		}
		columns[name] = typ
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	tableExists := len(columns) > 0

	// checks
	if tableExists {
		required := map[string]string{
			"id": "uuid", "roomId": "text", "seq": "bigint", "senderId": "text", "content": "jsonb",
			"timestamp": "timestamp with time zone", "status": "text", "clientMessageId": "text",
			"editedAt": "timestamp with time zone",
		}
		for name, typ := range required {
			if got, ok := columns[name]; !ok || got != typ {
				return nil, nil, fmt.Errorf("%w: table %s exists but is not a hubd message table (column %q: have %q, need %s)",
					ErrUnsafeMigration, want.dataObject, name, got, typ)
			}
		}
		if _, ok := columns["messageType"]; !ok {
			return nil, nil, fmt.Errorf("%w: table %s exists but has no \"messageType\" column", ErrUnsafeMigration, want.dataObject)
		}
		for _, c := range optionalColumns {
			if _, ok := columns[c.name]; ok {
				t.cols[c.name] = true
			}
		}
	}
	var removed []string
	for _, l := range enumLabels {
		if !slices.Contains(want.types, l) {
			removed = append(removed, l)
		}
	}
	if tableExists && len(removed) > 0 {
		var used []string
		if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(DISTINCT "messageType"::text), '{}') FROM `+t.ident+
			` WHERE "messageType"::text = ANY($1)`, removed).Scan(&used); err != nil {
			return nil, nil, err
		}
		if len(used) > 0 {
			slices.Sort(used)
			return nil, nil, fmt.Errorf("%w: message type(s) or persisted custom event(s) %s removed from the spec (or made ephemeral) but still used by stored messages of table %s",
				ErrUnsafeMigration, strings.Join(used, ", "), want.dataObject)
		}
	}

	// changes
	var ddl []string
	if !typeExists {
		quoted := make([]string, len(want.types))
		for i, ty := range want.types {
			quoted[i] = quoteLiteral(ty)
		}
		ddl = append(ddl, fmt.Sprintf("CREATE TYPE %s AS ENUM (%s)", t.enum, strings.Join(quoted, ", ")))
	} else {
		for _, ty := range want.types {
			if !slices.Contains(enumLabels, ty) {
				ddl = append(ddl, fmt.Sprintf("ALTER TYPE %s ADD VALUE IF NOT EXISTS %s", t.enum, quoteLiteral(ty)))
			}
		}
	}
	if !tableExists {
		cols := []string{
			`id uuid PRIMARY KEY`,
			`"roomId" text NOT NULL`,
			`seq bigint NOT NULL`,
			`"senderId" text NOT NULL`,
			`"messageType" ` + t.enum + ` NOT NULL`,
			`content jsonb NOT NULL`,
			`"timestamp" timestamptz NOT NULL`,
			`status text NOT NULL CHECK (status IN ('published', 'pending', 'rejected', 'deleted'))`,
		}
		for _, c := range optionalColumns {
			if slices.Contains(want.cols, c.name) {
				cols = append(cols, c.ddl)
				t.cols[c.name] = true
			}
		}
		cols = append(cols, `"clientMessageId" text`, `"editedAt" timestamptz`,
			`UNIQUE ("roomId", seq)`)
		ddl = append(ddl, fmt.Sprintf("CREATE TABLE %s (\n\t%s\n)", t.ident, strings.Join(cols, ",\n\t")))
	} else {
		for _, c := range optionalColumns {
			if slices.Contains(want.cols, c.name) && !t.cols[c.name] {
				ddl = append(ddl, fmt.Sprintf("ALTER TABLE %s ADD COLUMN IF NOT EXISTS %s", t.ident, c.ddl))
				t.cols[c.name] = true
			}
		}
	}
	for _, ix := range []struct{ name, ddl string }{
		{cmidIndexName(want.dataObject), `CREATE UNIQUE INDEX %s ON %s ("senderId", "clientMessageId") WHERE "clientMessageId" IS NOT NULL`},
		// a room's change stream, read by List over changes
		{revIndexName(want.dataObject), `CREATE INDEX %s ON %s ("roomId", rev) WHERE rev > 0`},
	} {
		var index *string
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1)::text`, p.schema+"."+quoteIdent(ix.name)).Scan(&index); err != nil {
			return nil, nil, err
		}
		if index == nil {
			ddl = append(ddl, fmt.Sprintf(ix.ddl, quoteIdent(ix.name), t.ident))
		}
	}
	for _, stmt := range ddl {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", stmt, err)
		}
	}
	cols := make([]string, 0, len(t.cols))
	for _, c := range optionalColumns {
		if t.cols[c.name] {
			cols = append(cols, c.name)
		}
	}
	t = p.newPgTable(want.hub, want.dataObject, want.types, cols)
	if _, err := tx.Exec(ctx, `INSERT INTO `+p.shared("hubd_schema")+` (hub, data_object, message_types, columns, spec_hash, updated_at)
		VALUES ($1, $2, $3, $4, $5, now())
		ON CONFLICT (hub) DO UPDATE SET data_object = EXCLUDED.data_object, message_types = EXCLUDED.message_types,
			columns = EXCLUDED.columns, spec_hash = EXCLUDED.spec_hash, updated_at = now()`,
		want.hub, want.dataObject, want.types, cols, hash); err != nil {
		return nil, nil, err
	}
	if len(ddl) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO `+p.shared("hubd_schema_log")+` (hub, statements) VALUES ($1, $2)`, want.hub, ddl); err != nil {
			return nil, nil, err
		}
	}
	return ddl, t, nil
}

// table returns the hub's message table: from the cache, else from
// hubd_schema (written by EnsureSchema, possibly by another process); nil
// when the hub has none.
func (p *Postgres) table(ctx context.Context, hub string) (*pgTable, error) {
	p.mu.RLock()
	t := p.tables[hub]
	p.mu.RUnlock()
	if t != nil {
		return t, nil
	}
	var (
		dataObject  string
		types, cols []string
	)
	err := p.pool.QueryRow(ctx, `SELECT data_object, message_types, columns FROM `+p.shared("hubd_schema")+` WHERE hub = $1`, hub).
		Scan(&dataObject, &types, &cols)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, pgErr(err)
	}
	t = p.newPgTable(hub, dataObject, types, cols)
	p.mu.Lock()
	if cur := p.tables[hub]; cur != nil {
		t = cur
	} else {
		p.tables[hub] = t
	}
	p.mu.Unlock()
	return t, nil
}

// quoteLiteral quotes a string literal for DDL, where parameters cannot be
// used.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
