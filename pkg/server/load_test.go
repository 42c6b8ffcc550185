package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// A file with spec errors still gets its script checks in the same run:
// a decode error beside a script that does not compile, an unknown name
// and a missing lib path, and a semantic error beside an unknown name,
// every one reported at once.
func TestLoadReportsSpecAndScriptErrorsOfAFileAtOnce(t *testing.T) {
	cfg := testConfig(t)
	src := "../../test/e2e/fixtures/broken/hubs"
	for _, f := range []string{"e_decode_scripts.yaml", "f_semantic_scripts.yaml"} {
		b, err := os.ReadFile(filepath.Join(src, f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(cfg.Hubs, f), b, 0o600))
	}
	_, err := Load(cfg, zap.NewNop(), HostServices{})
	require.Error(t, err)
	var got []string
	for _, l := range strings.Split(err.Error(), "\n") {
		got = append(got, strings.TrimPrefix(l, cfg.Hubs+string(filepath.Separator)))
	}
	want := []string{
		`e_decode_scripts.yaml: hubBasics.colour: unknown field`,
		`e_decode_scripts.yaml: roomSettings.checkScript: does not compile: mscript syntax error: line 1 column 17 (end of script): Unexpected token }`,
		`e_decode_scripts.yaml: roomSettings.authScripts[0].script: unknown name "usr" (this script's context has user, room, chatRoom)`,
		`e_decode_scripts.yaml: roomSettings.authScripts[0].script: lib.nowhere.allow does not exist in the service library`,
		`f_semantic_scripts.yaml: roomSettings.authScripts[0].hubRole: undefined role "ghost"`,
		`f_semantic_scripts.yaml: roomSettings.roomEligibility: unknown name "stage" (this script's context has chatRoom, room)`,
	}
	for _, w := range want {
		require.Contains(t, got, w)
	}
	for _, l := range got {
		require.NotContains(t, l, "a.yaml", "the valid file has no problem")
	}
}
