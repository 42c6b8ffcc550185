package spec

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// flatCases are contents of every kind the flat path meets, by message
// type of customSpec: ones it settles and ones it must leave to the full
// path.
var flatCases = []struct {
	typ, content string
	flat         bool // the flat path settles it
}{
	{"text", `{"body":"hi"}`, true},
	{"text", ` { "body" : "hi there" } `, true},
	{"text", `{"body":"héllo wörld ✓"}`, true},
	{"text", `{"body":""}`, false},
	{"text", `{"body":"a<b"}`, false},
	{"text", `{"body":"a\nb"}`, false},
	{"text", `{"body":"\u2028"}`, false},
	{"text", "{\"body\":\"a\u2029\"}", false},
	{"text", `{"body":"x","body":"y"}`, false},
	{"text", `{"body":null}`, false},
	{"text", `{"bo\u0064y":"x"}`, false},
	{"text", `{"body":"x","extra":1}`, false},
	{"text", `{}`, false},
	{"text", `"hi"`, false},
	{"text", `[]`, false},
	{"image", `{"width":640,"mediaUrl":"u","height":480}`, true},
	{"image", `{"mediaUrl":"u","height":480.0}`, false},
	{"image", `{"mediaUrl":"u","height":-0}`, false},
	{"image", `{"mediaUrl":"u","height":4e2}`, false},
	{"image", `{"mediaUrl":"u","height":-1}`, false},
	{"image", `{"mediaUrl":"u","height":9007199254740993}`, false},
	{"video", `{"mediaUrl":"u","duration":12.5}`, true},
	{"video", `{"mediaUrl":"u","duration":1e400}`, false},
	{"video", `{"mediaUrl":"u","duration":-0.0}`, true},
	{"location", `{"lat":-90,"lng":180,"label":"l"}`, true},
	{"location", `{"lat":90.5,"lng":1}`, false},
	{"location", `{"lat":1e1,"lng":1E-2}`, true},
	{"audio", `{"mediaUrl":"u","waveform":[1]}`, false},
	{"system", `{"systemAction":"x"}`, true},
	{"system", `{"systemAction":"x","systemData":{}}`, false},
	{"everything", `{"s":"x","tx":"y","i":3,"d":1.25,"b":false,"e":"rook","at":"2024-05-01T10:00:00Z","id":"507f1f77bcf86cd799439011"}`, true},
	{"everything", `{"s":"` + strings.Repeat("é", MaxStringLen) + `"}`, true},
	{"everything", `{"s":"` + strings.Repeat("é", MaxStringLen+1) + `"}`, false},
	{"everything", `{"tx":"` + strings.Repeat("é", MaxStringLen+1) + `"}`, true},
	{"everything", `{"i":3.0}`, false},
	{"everything", `{"b":"true"}`, false},
	{"everything", `{"e":"queen"}`, false},
	{"everything", `{"e":""}`, false},
	{"everything", `{"id":"42"}`, false},
	{"everything", `{"at":"2024-05-01"}`, false},
	{"everything", `{"j":[1]}`, false},
	{"everything", `{}`, true},
	{"defaults", `{}`, true},
	{"defaults", `  {"s":"x","e":"pawn","req":1}`, true},
	{"defaults", `{"i":null}`, false},
	{"required", `{"cell":4}`, true},
	{"required", `{"note":"x"}`, false},
	{"required", `{"cell":9007199254740991}`, true},
	{"required", `{"cell":-9007199254740993}`, false},
}

// TestValidateContentFlat checks that the flat path settles the contents
// it is meant for, declines the rest, and answers exactly as the full path
// does (the same bytes) whenever it answers.
func TestValidateContentFlat(t *testing.T) {
	h := mustParse(t, customSpec)
	for _, tc := range flatCases {
		t.Run(tc.typ+" "+tc.content, func(t *testing.T) {
			got, ok := validateFlat(h, tc.typ, []byte(tc.content))
			require.Equal(t, tc.flat, ok)
			checkFlatMatchesFull(t, h, tc.typ, []byte(tc.content))
			if json.Valid([]byte(tc.content)) {
				want, wantProblems := h.ValidateContent(tc.typ, json.RawMessage(tc.content))
				trusted, problems := h.ValidateValidContent(tc.typ, json.RawMessage(tc.content))
				require.Equal(t, wantProblems, problems)
				require.Equal(t, string(want), string(trusted))
			}
			if ok {
				viaAPI, problems := h.ValidateContent(tc.typ, json.RawMessage(tc.content))
				require.Empty(t, problems)
				require.Equal(t, string(got), string(viaAPI))
			}
		})
	}
}

// TestValidateContentFlatShares checks that normalized content is returned
// without a copy and capped, so that an append to it cannot write into the
// bytes after it.
func TestValidateContentFlatShares(t *testing.T) {
	h := mustParse(t, minimal)
	payload := []byte(`{"body":"hi"},"after"`)
	content := payload[:13]
	got, problems := h.ValidateContent("text", content)
	require.Empty(t, problems)
	require.Equal(t, `{"body":"hi"}`, string(got))
	require.Equal(t, &content[0], &got[0])
	require.Equal(t, len(got), cap(got))
}

// FuzzValidateContentFlat feeds arbitrary contents to both paths: whenever
// the flat path answers, the full path must accept the content and write
// the same bytes.
func FuzzValidateContentFlat(f *testing.F) {
	types := []string{"text", "image", "video", "location", "system", "everything", "defaults", "required"}
	for _, tc := range flatCases {
		for i, typ := range types {
			if typ == tc.typ {
				f.Add(uint8(i), []byte(tc.content))
			}
		}
	}
	h, errs := parse("hub.yaml", []byte(customSpec), testOpts)
	require.Empty(f, errs)
	f.Fuzz(func(t *testing.T, typ uint8, content []byte) {
		checkFlatMatchesFull(t, h, types[int(typ)%len(types)], content)
	})
}

// validateFlat runs the flat path as ValidateContent does, on valid JSON.
func validateFlat(h *Hub, typ string, content []byte) (json.RawMessage, bool) {
	if !json.Valid(content) {
		return nil, false
	}
	if schema, ok := builtinSchemas[HubMessageType(typ)]; ok {
		return validateFlatBuiltin(schema, content)
	}
	ct, ok := h.CustomType(typ)
	if !ok {
		return nil, false
	}
	return validateFlatCustom(ct, content)
}

func checkFlatMatchesFull(t *testing.T, h *Hub, typ string, content []byte) {
	t.Helper()
	in := append([]byte(nil), content...)
	flat, ok := validateFlat(h, typ, in)
	if !ok {
		return
	}
	require.Equal(t, string(content), string(in), "the flat path changed its input")
	schema := builtinSchemas[HubMessageType(typ)]
	ct, _ := h.CustomType(typ)
	full, problems := validateDecoded(schema, ct, content)
	require.Empty(t, problems, "the flat path accepted content the full path refuses")
	require.Equal(t, string(full), string(flat))
}

// A validated spec's custom fields hold their default encoded and their
// enum values split, and content checks use them instead of working them
// out per message; a field built by hand, or whose enum values changed
// since, is worked out as before, with the same results.
func TestCustomFieldsWorkedOutAtLoad(t *testing.T) {
	h := mustParse(t, customSpec)
	ct, ok := h.CustomType("defaults")
	require.True(t, ok)
	for i := range ct.Fields {
		f := &ct.Fields[i]
		want, err := json.Marshal(f.Default)
		require.NoError(t, err)
		require.Equal(t, string(want), string(f.defaultJSON), "field %s", f.Name)
		got, err := f.defaultJSONOf()
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
		if f.FieldType == FieldEnum {
			require.Equal(t, []string{"pawn", "rook"}, f.enumList)
			require.Equal(t, f.EnumList(), f.enums())
		}
	}
	content := json.RawMessage(`{"req":1}`)
	out, problems := h.ValidateContent("defaults", content)
	require.Empty(t, problems)
	flat, ok := validateFlat(h, "defaults", content)
	require.True(t, ok)
	require.Equal(t, string(out), string(flat))
	worked := testing.AllocsPerRun(50, func() { validateFlat(h, "defaults", content) })

	byHand := *ct
	byHand.Fields = append([]HubCustomField(nil), ct.Fields...)
	for i := range byHand.Fields {
		byHand.Fields[i].defaultJSON, byHand.Fields[i].enumList, byHand.Fields[i].enumOf = nil, nil, ""
	}
	again, ok := validateFlatCustom(&byHand, content)
	require.True(t, ok)
	require.Equal(t, string(out), string(again))
	perMessage := testing.AllocsPerRun(50, func() { validateFlatCustom(&byHand, content) })
	t.Logf("allocations per flat check of content taking 9 defaults: %v worked out at load, %v per message", worked, perMessage)
	require.Less(t, worked, perMessage, "the defaults are not encoded per message")

	e := &byHand.Fields[7]
	require.Equal(t, FieldEnum, e.FieldType)
	e.enumList, e.enumOf = []string{"pawn", "rook"}, e.EnumValues
	e.EnumValues = "queen, king"
	require.Equal(t, []string{"queen", "king"}, e.enums(), "changed since validation: split again")
	require.True(t, flatFieldValid(e, []byte(`"king"`)))
	require.False(t, flatFieldValid(e, []byte(`"rook"`)))
	_, msg := checkField(e, "rook")
	require.Equal(t, "must be one of queen, king", msg)
}
