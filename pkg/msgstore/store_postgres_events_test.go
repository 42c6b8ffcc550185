package msgstore_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/spec"
)

// withEvents returns h with the given custom events; names ending in "~"
// are ephemeral (the suffix is dropped).
func withEvents(h *spec.Hub, names ...string) *spec.Hub {
	for _, n := range names {
		e := spec.HubCustomEvent{Name: n, Direction: spec.ClientToRoom}
		if l := len(n); l > 0 && n[l-1] == '~' {
			e.Name, e.Ephemeral = n[:l-1], true
		}
		h.EventSettings.CustomEvents = append(h.EventSettings.CustomEvents, e)
	}
	return h
}

func eventMsg(hub, event, sender string) *msgstore.Message {
	return &msgstore.Message{HubName: hub, RoomID: "r1", SenderID: sender, MessageType: event, Content: json.RawMessage(`{"data":null}`)}
}

// TestPostgresPersistedEvents migrates the messageType enum through changes
// of the hub's custom events: persisted ones are message types, ephemeral
// ones are not, and dropping (or making ephemeral) one with rows is refused.
func TestPostgresPersistedEvents(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	schema := freshSchema(t, dsn)
	s := openPostgres(t, dsn, schema)
	pool := s.Pool()
	text := []spec.HubMessageType{spec.MessageText}
	hub := func(events ...string) *spec.Hub {
		return withEvents(hubSpec("game", "", text, []string{"move"}, false, false, false), events...)
	}

	steps := []struct {
		name      string
		hub       *spec.Hub
		refused   string // part of the ErrUnsafeMigration message, "" when applied
		labels    []string
		stored    []string // event names that can now be appended
		notStored []string // names refused as message types
	}{
		{
			name:      "persisted event in the enum, ephemeral not",
			hub:       hub("rematchOffer", "cursor~"),
			labels:    []string{"text", "move", "rematchOffer"},
			stored:    []string{"rematchOffer"},
			notStored: []string{"cursor"},
		},
		{
			name:      "a new persisted event is added",
			hub:       hub("rematchOffer", "cursor~", "resignNotice"),
			labels:    []string{"text", "move", "rematchOffer", "resignNotice"},
			stored:    []string{"rematchOffer", "resignNotice"},
			notStored: []string{"cursor"},
		},
		{
			name:      "an ephemeral event made persisted is added",
			hub:       hub("rematchOffer", "cursor", "resignNotice"),
			labels:    []string{"text", "move", "rematchOffer", "resignNotice", "cursor"},
			stored:    []string{"cursor"},
			notStored: []string{},
		},
		{
			name:    "removing an event with rows is refused",
			hub:     hub("cursor", "resignNotice"),
			refused: "rematchOffer",
		},
		{
			name:    "making an event with rows ephemeral is refused",
			hub:     hub("rematchOffer~", "cursor", "resignNotice"),
			refused: "rematchOffer",
		},
		{
			name:      "the refusals changed nothing",
			hub:       hub("rematchOffer", "cursor", "resignNotice"),
			labels:    []string{"text", "move", "rematchOffer", "resignNotice", "cursor"},
			stored:    []string{"rematchOffer", "cursor", "resignNotice"},
			notStored: []string{},
		},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			err := s.EnsureSchema(ctx, st.hub)
			if st.refused != "" {
				require.ErrorIs(t, err, msgstore.ErrUnsafeMigration)
				require.ErrorContains(t, err, st.refused)
				_, _, err = s.Append(ctx, eventMsg("game", st.refused, "alice"))
				require.NoError(t, err, "the previous schema stays in force")
				return
			}
			require.NoError(t, err)
			require.Equal(t, st.labels, enumLabels(t, pool, schema, "gameMessage"))
			for _, ev := range st.stored {
				m, created, err := s.Append(ctx, eventMsg("game", ev, "system"))
				require.NoError(t, err, "append %s", ev)
				require.True(t, created)
				got, err := s.Get(ctx, "game", m.ID)
				require.NoError(t, err)
				require.Equal(t, ev, got.MessageType)
			}
			for _, ev := range st.notStored {
				_, _, err := s.Append(ctx, eventMsg("game", ev, "alice"))
				require.ErrorIs(t, err, msgstore.ErrInvalid, "append %s", ev)
			}
		})
	}

	// an unused persisted event may be dropped (its label stays in the enum)
	require.NoError(t, s.EnsureSchema(ctx, withEvents(hubSpec("game", "", text, []string{"move"}, false, false, false), "rematchOffer", "cursor", "resignNotice", "drawOffer")))
	require.NoError(t, s.EnsureSchema(ctx, withEvents(hubSpec("game", "", text, []string{"move"}, false, false, false), "rematchOffer", "cursor", "resignNotice")))
	require.Contains(t, enumLabels(t, pool, schema, "gameMessage"), "drawOffer")
	_, _, err := s.Append(ctx, eventMsg("game", "drawOffer", "alice"))
	require.ErrorIs(t, err, msgstore.ErrInvalid, "a dropped event is no longer stored")
}
