package spec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExampleConfigsLoad(t *testing.T) {
	chat, game := exampleHub(t, "chatHub"), exampleHub(t, "ticTacToe")

	require.Equal(t, "chatHubMessage", chat.MessageSettings.DataObjectName)
	require.Len(t, chat.MessageSettings.MessageTypes, len(BuiltinMessageTypes))
	viewer, ok := chat.Role("viewer")
	require.True(t, ok)
	require.False(t, viewer.CanSend)
	require.True(t, viewer.CanRead)
	_, ok = chat.CustomType("poll")
	require.True(t, ok)

	h, ok := game.Handler("move")
	require.True(t, ok)
	require.Equal(t, MScript("lib.tictactoe.move(roomId, session, message)"), h.Script)
	require.Equal(t, 0, game.Guardrails.AuthCacheTTL)
	require.Equal(t, []string{"text", "move", "resign"}, func() []string { r, _ := game.Role("player"); return r.AllowedTypes() }())
	require.Equal(t, 1000, game.HubLogic.ScheduledActions[0].IntervalMs)
	require.Len(t, game.Hash, 64)
}

// exampleHub loads configs/hubs and returns the hub called name.
func exampleHub(t *testing.T, name string) *Hub {
	t.Helper()
	hubs, err := LoadDir("../../configs/hubs", testOpts)
	require.NoError(t, err)
	for _, h := range hubs {
		if h.Name() == name {
			return h
		}
	}
	t.Fatalf("configs/hubs has no hub %q", name)
	return nil
}
