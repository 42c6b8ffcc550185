package hub

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/spec"
)

func TestCheckScriptsNamesWhatFailsAtEveryCall(t *testing.T) {
	hs, err := spec.LoadFile("testdata/logic/hub.yaml", spec.LoadOptions{})
	require.NoError(t, err)
	eng, err := scripting.NewEngine(scripting.Options{LibDir: "testdata/logic/lib"})
	require.NoError(t, err)
	t.Cleanup(eng.Close)
	require.Empty(t, CheckScripts(hs, eng), "the logic hub is clean")

	hs.RoomSettings.RoomEligibility = "room.open && catalogEvent.open"
	hs.RoomSettings.AuthScripts[0].Script = "user.tier == 'x' || session.admin"
	hs.HubLogic.MessageHandlers[0].Script = "lib.logic.hand(roomId, session, message, room)"
	hs.HubLogic.ScheduledActions[0].Script = "lib.nope.beat(roomId, message)"
	var got []string
	for _, e := range CheckScripts(hs, eng) {
		got = append(got, e.Error())
	}
	require.Equal(t, []string{
		`roomSettings.roomEligibility: unknown name "catalogEvent" (this script's context has arena, room)`,
		`roomSettings.authScripts[0].script: unknown name "session" (this script's context has user, room, arena)`,
		`hubLogic.messageHandlers[0].script: lib.logic.hand does not exist in the service library`,
		`hubLogic.scheduledActions[0].script: unknown name "message" (this script's context has roomId, room)`,
		`hubLogic.scheduledActions[0].script: lib.nope does not exist in the service library`,
		`hubLogic.scheduledActions[0].script: lib.nope.beat does not exist in the service library`,
	}, got)
}

func TestHooksCoverEveryScriptField(t *testing.T) {
	hs, err := spec.LoadFile("testdata/rules/hub.yaml", spec.LoadOptions{})
	require.NoError(t, err)
	var paths []string
	for _, hk := range hooks(hs) {
		paths = append(paths, hk.path)
	}
	joined := strings.Join(paths, " ")
	for _, want := range []string{"roomSettings.roomEligibility", "roomSettings.authSources[3].condition", "hubLogic.stateScript"} {
		require.Contains(t, joined, want)
	}
}
