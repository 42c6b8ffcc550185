package ts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hubd/hubd/pkg/spec"
)

func TestSchemaType(t *testing.T) {
	cases := []struct {
		name   string
		schema map[string]any
		want   string
	}{
		{"nil", nil, "unknown"},
		{"empty", map[string]any{}, "unknown"},
		{"ref", map[string]any{"$ref": "#/components/schemas/Message"}, `Schemas["Message"]`},
		{"foreign ref", map[string]any{"$ref": "other.json#/x"}, "unknown"},
		{"string", map[string]any{"type": "string"}, "string"},
		{"integer", map[string]any{"type": "integer"}, "number"},
		{"enum", map[string]any{"type": "string", "enum": []any{"a", "b"}}, `"a" | "b"`},
		{"const", map[string]any{"const": "text"}, `"text"`},
		{"type list", map[string]any{"type": []any{"string", "null"}}, "string | null"},
		{"array", map[string]any{"type": "array", "items": map[string]any{"type": "number"}}, "Array<number>"},
		{"oneOf", map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "boolean"}}}, "(string) | (boolean)"},
		{"free object", map[string]any{"type": "object"}, "{ [key: string]: unknown }"},
		{"map", map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "integer"}}, "{ [key: string]: number }"},
		{"object", map[string]any{
			"type":                 "object",
			"properties":           map[string]any{"b": map[string]any{"type": "string", "description": "B."}, "a-b": map[string]any{"type": "integer"}},
			"required":             []any{"b"},
			"additionalProperties": false,
		}, "{\n  \"a-b\"?: number;\n  /** B. */\n  b: string;\n}"},
		{"allOf with properties", map[string]any{
			"allOf":      []any{map[string]any{"$ref": "#/components/schemas/X"}},
			"properties": map[string]any{"id": map[string]any{"type": "string"}},
			"required":   []any{"id"}, "additionalProperties": false,
		}, "(Schemas[\"X\"]) & {\n  id: string;\n}"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := schemaType(c.schema, ""); got != c.want {
				t.Errorf("schemaType = %q, want %q", got, c.want)
			}
		})
	}
}

func TestFieldTypes(t *testing.T) {
	for _, ft := range spec.CustomFieldTypes {
		f := &spec.HubCustomField{Name: "f", FieldType: ft, EnumValues: "x,y"}
		got := fieldType(f)
		want := fieldTypes[ft]
		if ft == spec.FieldEnum {
			want = `"x" | "y"`
		}
		if got != want || got == "" {
			t.Errorf("%s: %q, want %q", ft, got, want)
		}
	}
	if got := fieldType(&spec.HubCustomField{FieldType: spec.FieldJSON}); got != "unknown" {
		t.Errorf("JSON is %q, want unknown", got)
	}
	if got := fieldType(&spec.HubCustomField{FieldType: spec.FieldDateTime}); got != "string" {
		t.Errorf("DateTime is %q, want string", got)
	}
}

func TestTypeName(t *testing.T) {
	for in, want := range map[string]string{"chatHub": "ChatHub", "tic-tac_toe": "TicTac_toe", "9lives": "Hub9lives", "x.y": "XY"} {
		if got := TypeName(in); got != want {
			t.Errorf("TypeName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestWriteDirExamples generates the example hubs and checks the parts a
// client relies on; clients/js/test/gen.test.mjs compiles them with tsc.
func TestWriteDirExamples(t *testing.T) {
	hubs, err := spec.LoadDir(filepath.Join("..", "..", "..", "configs", "hubs"), spec.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	written, err := WriteDir(hubs, out)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != len(hubs)+1 {
		t.Fatalf("wrote %d files for %d hubs: %v", len(written), len(hubs), written)
	}
	chat := readFile(t, filepath.Join(out, "chatHub.ts"))
	game := readFile(t, filepath.Join(out, "ticTacToe.ts"))
	index := readFile(t, filepath.Join(out, "index.ts"))
	for _, want := range []struct{ file, text string }{
		{chat, `export const hubName = "chatHub";`},
		{chat, `  visibility?: "public" | "anonymous";`},
		{chat, "  options: unknown;"},
		{chat, "  closesAt?: string;"},
		{chat, "  poll: PollContent;"},
		{chat, `export type Role = "owner" | "member" | "viewer";`},
		{chat, `  "POST /chatHub/rooms/{roomId}/messages": {`},
		{game, "  cell: number;"},
		{game, "  rematchOffer: unknown;"},
		{game, `    allowedMessageTypes: ["text", "move", "resign"],`},
		{game, "export interface TicTacToe {"},
		{index, `export type { ChatHub } from "./chatHub.js";`},
		{index, `export * as ticTacToe from "./ticTacToe.js";`},
	} {
		if !strings.Contains(want.file, want.text) {
			t.Errorf("missing %q", want.text)
		}
	}
	again := t.TempDir()
	if _, err := WriteDir(hubs, again); err != nil {
		t.Fatal(err)
	}
	if readFile(t, filepath.Join(again, "chatHub.ts")) != chat {
		t.Error("two runs wrote different files")
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
