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

// FuzzValidateContent checks that content validation never panics, that
// accepted content is normalized to a JSON object, and that normalized
// content validates again to itself.
func FuzzValidateContent(f *testing.F) {
	h, errs := parse("hub.yaml", []byte(customSpec), testOpts)
	require.Empty(f, errs)
	h.MessageSettings.MessageTypes = BuiltinMessageTypes
	seeds := []struct{ typ, content string }{
		{"text", `{"body":"hi"}`},
		{"image", `{"mediaUrl":"u","width":1.0,"height":2}`},
		{"audio", `{"mediaUrl":"u","waveform":[1,2,"x"]}`},
		{"location", `{"lat":91,"lng":0}`},
		{"system", `{"systemAction":"x","systemData":{"a":[null]}}`},
		{"everything", `{"s":"x","i":1e2,"d":-0.0,"b":true,"id":"507f1f77bcf86cd799439011","at":"2024-01-01T00:00:00Z","e":"pawn","j":{}}`},
		{"defaults", `{}`},
		{"required", `{"cell":null}`},
		{"text", `[]`},
		{"nope", `{}`},
	}
	for _, s := range seeds {
		f.Add(s.typ, []byte(s.content))
	}
	f.Fuzz(func(t *testing.T, typ string, content []byte) {
		out, problems := h.ValidateContent(typ, content)
		if len(problems) > 0 {
			require.Nil(t, out)
			for _, p := range problems {
				// Field may be empty: an unknown key "" is reported as is.
				require.NotEmpty(t, p.Message)
			}
			return
		}
		var obj map[string]any
		require.NoError(t, json.Unmarshal(out, &obj))
		again, problems := h.ValidateContent(typ, out)
		require.Empty(t, problems, "normalized %s", out)
		require.JSONEq(t, string(out), string(again))
	})
}
