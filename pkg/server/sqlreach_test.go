package server

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/spec"
)

// TestScriptTables: a hub's sql.query reaches its own message table and
// the record tables its spec names, mapped as the record source maps them.
func TestScriptTables(t *testing.T) {
	h := &spec.Hub{
		HubBasics:       spec.HubBasics{Name: "chess"},
		MessageSettings: spec.HubMessageSettings{DataObjectName: "chessMessage"},
		RoomSettings: spec.HubRoomSettings{RoomDataObject: "game", AuthSources: []spec.HubAuthSource{
			{SourceObject: "gameMember"}, {SourceObject: "ticket"},
		}},
	}
	cfg := DefaultConfig()
	cfg.Postgres.Schema = "hubd"
	require.Equal(t, []scripting.Table{{Schema: "hubd", Name: "chessMessage"}}, scriptTables(cfg, h, true),
		"records not in PostgreSQL: the message table only")
	require.Empty(t, scriptTables(cfg, h, false), "embedded store and records: nothing")

	cfg.RecordSource.Kind = "postgres"
	cfg.RecordSource.Schema = "app"
	cfg.RecordSource.TablePattern = "app_%s"
	cfg.RecordSource.Tables = map[string]string{"ticket": "issued_tickets"}
	require.Equal(t, []scripting.Table{
		{Schema: "hubd", Name: "chessMessage"},
		{Schema: "app", Name: "app_game"}, {Schema: "app", Name: "app_gameMember"}, {Schema: "app", Name: "issued_tickets"},
	}, scriptTables(cfg, h, true))
}
