package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzLoad feeds arbitrary documents to the YAML and JSON loader. The loader
// must never panic, must return either a hub or errors, every error must name
// the file, and a hub it accepts must survive a JSON round trip unchanged.
func FuzzLoad(f *testing.F) {
	for _, dir := range []string{"testdata/bad", "../../configs/hubs"} {
		files, err := filepath.Glob(filepath.Join(dir, "*"))
		require.NoError(f, err)
		for _, file := range files {
			data, err := os.ReadFile(file)
			require.NoError(f, err)
			f.Add(data, filepath.Ext(file) == ".json")
		}
	}
	f.Add([]byte(minimal), false)
	f.Add([]byte(fullSpec), false)
	f.Add([]byte(customSpec), false)
	f.Add([]byte(`{"hubBasics":{"name":"a"},"roomSettings":{"roomDataObject":"b"},"hubRoles":[null]}`), true)

	f.Fuzz(func(t *testing.T, data []byte, isJSON bool) {
		name := "fuzz.yaml"
		if isJSON {
			name = "fuzz.json"
		}
		h, errs := parse(name, data, testOpts)
		if len(errs) > 0 {
			require.Nil(t, h)
			for _, e := range errs {
				require.Equal(t, name, e.File)
				require.NotEmpty(t, e.Msg)
			}
			return
		}
		require.NotNil(t, h)

		out, err := json.Marshal(h)
		require.NoError(t, err)
		again, errs := parse("again.json", out, testOpts)
		require.Empty(t, errs, "re-parsing %s", out)
		h.File, h.Hash, again.File, again.Hash = "", "", "", ""
		require.Equal(t, h, again)
	})
}
