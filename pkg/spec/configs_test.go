package spec

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExampleConfigsLoad(t *testing.T) {
	hubs, err := LoadDir("../../configs/hubs", testOpts)
	require.NoError(t, err)
	require.Len(t, hubs, 2)
	require.Equal(t, "chatHub", hubs[0].Name())
	require.Equal(t, "ticTacToe", hubs[1].Name())

	chat := hubs[0]
	require.Equal(t, "chatHubMessage", chat.MessageSettings.DataObjectName)
	require.Len(t, chat.MessageSettings.MessageTypes, len(BuiltinMessageTypes))
	viewer, ok := chat.Role("viewer")
	require.True(t, ok)
	require.False(t, viewer.CanSend)
	require.True(t, viewer.CanRead)
	_, ok = chat.CustomType("poll")
	require.True(t, ok)

	game := hubs[1]
	h, ok := game.Handler("move")
	require.True(t, ok)
	require.Equal(t, MScript("lib.tictactoe.move(roomId, session, message)"), h.Script)
	require.Equal(t, 0, game.Guardrails.AuthCacheTTL)
	require.Equal(t, []string{"text", "move", "resign"}, func() []string { r, _ := game.Role("player"); return r.AllowedTypes() }())
	require.Equal(t, 1000, game.HubLogic.ScheduledActions[0].IntervalMs)
	require.Len(t, game.Hash, 64)
}
