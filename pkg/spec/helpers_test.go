package spec

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/dop251/goja"
	"github.com/stretchr/testify/require"
)

// compileScript compiles an MScript the way the scripting engine wraps it.
func compileScript(src string) error {
	_, err := goja.Compile("", "(function(){return ("+src+"\n)})", false)
	return err
}

var testOpts = LoadOptions{CompileScript: compileScript}

// parseString parses a spec document held in a string.
func parseString(t *testing.T, name, doc string) (*Hub, ErrorList) {
	t.Helper()
	return parse(name, []byte(doc), testOpts)
}

// mustParse parses a document that must be valid.
func mustParse(t *testing.T, doc string) *Hub {
	t.Helper()
	h, errs := parseString(t, "hub.yaml", doc)
	require.Empty(t, errs, "unexpected errors:\n%v", errs)
	require.NotNil(t, h)
	return h
}

// writeFile writes a file under dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// minimal is the smallest valid spec.
const minimal = `
hubBasics:
  name: chatHub
roomSettings:
  roomDataObject: chat
`
