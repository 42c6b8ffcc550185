package server

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/spec"
)

// scriptTables lists the tables hub h's sql.query may read: its message
// table when messages are in PostgreSQL, and the tables of the record
// objects its spec names (the room object and every authSources object)
// when records are.
func scriptTables(cfg Config, h *spec.Hub, pgStore bool) []scripting.Table {
	var out []scripting.Table
	if pgStore {
		out = append(out, scripting.Table{Schema: cfg.Postgres.Schema, Name: h.MessageSettings.DataObjectName})
	}
	rs := cfg.RecordSource
	if rs.Kind != "postgres" {
		return out
	}
	objects := []string{h.RoomSettings.RoomDataObject}
	for _, a := range h.RoomSettings.AuthSources {
		objects = append(objects, a.SourceObject)
	}
	for _, o := range objects {
		if o == "" {
			continue
		}
		name, ok := rs.Tables[o]
		if !ok {
			pattern := rs.TablePattern
			if pattern == "" {
				pattern = "%s"
			}
			name = fmt.Sprintf(pattern, o)
		}
		out = append(out, scripting.Table{Schema: rs.Schema, Name: name})
	}
	return out
}

// grantScriptSQL gives each hub of l its own database role for sql.query
// (see scripting.SQLRoles), once the hub's message table exists. A hub
// whose role cannot be set up gets a sql.query that fails; a table that
// cannot be granted is logged and left out.
func (s *Server) grantScriptSQL(ctx context.Context, l *Loaded, pgStore bool) {
	roles := s.shared.hosts.SQLRoles
	if roles == nil {
		return
	}
	for _, h := range l.Specs {
		eng := l.Scripts[h.Name()]
		if eng == nil {
			continue
		}
		db, err := roles.ForHub(ctx, h.Name(), scriptTables(s.cfg, h, pgStore))
		if err != nil {
			s.log.Error("script database role", zap.String("hub", h.Name()), zap.Error(err))
		}
		if db == nil {
			db = scripting.UnavailableSQL{Err: err}
		}
		eng.SetSQL(db)
	}
}
