package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenTS(t *testing.T) {
	out := t.TempDir()
	code, stdout, stderr := runMain("gen", "ts", "--hubs", filepath.Join("..", "..", "configs", "hubs"), "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, filepath.Join(out, "chatHub.ts")) || !strings.Contains(stdout, filepath.Join(out, "index.ts")) {
		t.Errorf("stdout does not list the files: %q", stdout)
	}
	if _, err := os.Stat(filepath.Join(out, "ticTacToe.ts")); err != nil {
		t.Error(err)
	}
}

func TestGenTSUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"gen"}, 2, "Usage: hubd gen ts"},
		{[]string{"gen", "go"}, 2, "Usage: hubd gen ts"},
		{[]string{"gen", "ts", "--hubs", "x"}, 2, "--hubs and --out are required"},
		{[]string{"gen", "ts", "--hubs", "/nonexistent", "--out", "y"}, 1, "/nonexistent"},
	} {
		code, _, stderr := runMain(tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	if code, stdout, _ := runMain("gen", "--help"); code != 0 || !strings.Contains(stdout, "Usage: hubd gen ts") {
		t.Errorf("gen --help: exit %d, %q", code, stdout)
	}
}
