package spec

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidateContentBuiltin(t *testing.T) {
	h := mustParse(t, minimal)
	tests := []struct {
		name     string
		typ      string
		content  string
		want     string // normalized content when valid
		problems []FieldProblem
	}{
		{name: "text", typ: "text", content: `{"body":"hi"}`, want: `{"body":"hi"}`},
		{name: "text null optional dropped", typ: "system", content: `{"systemAction":"x","systemData":null}`, want: `{"systemAction":"x"}`},
		{name: "text missing body", typ: "text", content: `{}`, problems: []FieldProblem{{"body", "required"}}},
		{name: "text empty body", typ: "text", content: `{"body":""}`, problems: []FieldProblem{{"body", "required"}}},
		{name: "text body wrong type", typ: "text", content: `{"body":5}`, problems: []FieldProblem{{"body", "expected string, got number"}}},
		{name: "text unknown keys", typ: "text", content: `{"body":"x","z":1,"a":2}`, problems: []FieldProblem{{"a", "unknown field"}, {"z", "unknown field"}}},
		{name: "image", typ: "image", content: `{"mediaUrl":"u","thumbnail":"t","caption":"c","width":640,"height":480.0}`,
			want: `{"caption":"c","height":480,"mediaUrl":"u","thumbnail":"t","width":640}`},
		{name: "image bad", typ: "image", content: `{"width":-1,"height":1.5,"caption":true}`, problems: []FieldProblem{
			{"mediaUrl", "required"}, {"caption", "expected string, got boolean"}, {"width", "must be >= 0"}, {"height", "expected integer, got 1.5"},
		}},
		{name: "video", typ: "video", content: `{"mediaUrl":"u","duration":12.5}`, want: `{"duration":12.5,"mediaUrl":"u"}`},
		{name: "video bad duration", typ: "video", content: `{"mediaUrl":"u","duration":-0.5}`, problems: []FieldProblem{{"duration", "must be >= 0"}}},
		{name: "audio", typ: "audio", content: `{"mediaUrl":"u","duration":3,"waveform":[0.1,0.5,1]}`, want: `{"duration":3,"mediaUrl":"u","waveform":[0.1,0.5,1]}`},
		{name: "audio bad waveform", typ: "audio", content: `{"mediaUrl":"u","waveform":[1,"x",null]}`, problems: []FieldProblem{
			{"waveform[1]", "expected number, got string"}, {"waveform[2]", "expected number, got null"},
		}},
		{name: "audio waveform not array", typ: "audio", content: `{"mediaUrl":"u","waveform":{}}`, problems: []FieldProblem{{"waveform", "expected array of numbers, got object"}}},
		{name: "document", typ: "document", content: `{"mediaUrl":"u","fileName":"a.pdf","fileSize":1024,"mimeType":"application/pdf"}`,
			want: `{"fileName":"a.pdf","fileSize":1024,"mediaUrl":"u","mimeType":"application/pdf"}`},
		{name: "document bad size", typ: "document", content: `{"mediaUrl":"u","fileSize":"big"}`, problems: []FieldProblem{{"fileSize", "expected number, got string"}}},
		{name: "sticker", typ: "sticker", content: `{"stickerUrl":"s","stickerPackId":"p"}`, want: `{"stickerPackId":"p","stickerUrl":"s"}`},
		{name: "sticker missing url", typ: "sticker", content: `{"stickerPackId":"p"}`, problems: []FieldProblem{{"stickerUrl", "required"}}},
		{name: "contact", typ: "contact", content: `{"contactName":"Ann","contactPhone":"+1","contactUserId":"u2"}`,
			want: `{"contactName":"Ann","contactPhone":"+1","contactUserId":"u2"}`},
		{name: "contact missing name", typ: "contact", content: `{"contactPhone":"+1"}`, problems: []FieldProblem{{"contactName", "required"}}},
		{name: "location", typ: "location", content: `{"lat":-90,"lng":180,"address":"a","label":"l"}`, want: `{"address":"a","label":"l","lat":-90,"lng":180}`},
		{name: "location out of range", typ: "location", content: `{"lat":90.1,"lng":-181}`, problems: []FieldProblem{
			{"lat", "must be between -90 and 90"}, {"lng", "must be between -180 and 180"},
		}},
		{name: "location missing", typ: "location", content: `{}`, problems: []FieldProblem{{"lat", "required"}, {"lng", "required"}}},
		{name: "system", typ: "system", content: `{"systemAction":"memberJoined","systemData":{"userId":"u1"}}`,
			want: `{"systemAction":"memberJoined","systemData":{"userId":"u1"}}`},
		{name: "system data any", typ: "system", content: `{"systemAction":"x","systemData":[1,"a"]}`, want: `{"systemAction":"x","systemData":[1,"a"]}`},
		{name: "not an object", typ: "text", content: `"hi"`, problems: []FieldProblem{{"content", "must be a JSON object, got string"}}},
		{name: "null content", typ: "text", content: `null`, problems: []FieldProblem{{"content", "must be a JSON object, got null"}}},
		{name: "empty content", typ: "text", content: ``, problems: []FieldProblem{{"content", "required"}}},
		{name: "invalid json", typ: "text", content: `{"body":`, problems: []FieldProblem{{"content", "invalid JSON"}}},
		{name: "trailing json", typ: "text", content: `{"body":"x"} {}`, problems: []FieldProblem{{"content", "invalid JSON"}}},
		{name: "unknown type", typ: "gif", content: `{}`, problems: []FieldProblem{{"messageType", `unknown message type "gif"`}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := h.ValidateContent(tc.typ, json.RawMessage(tc.content))
			require.Equal(t, tc.problems, problems)
			if tc.problems == nil {
				require.JSONEq(t, tc.want, string(got))
			} else {
				require.Nil(t, got)
			}
		})
	}
}

const customSpec = minimal + `messageSettings:
  customMessageTypes:
    - name: everything
      fields:
        - {name: s, fieldType: String}
        - {name: tx, fieldType: Text}
        - {name: i, fieldType: Integer}
        - {name: d, fieldType: Decimal}
        - {name: b, fieldType: Boolean}
        - {name: id, fieldType: ID}
        - {name: at, fieldType: DateTime}
        - {name: e, fieldType: Enum, enumValues: "pawn, rook"}
        - {name: j, fieldType: JSON}
    - name: defaults
      fields:
        - {name: s, fieldType: String, defaultValue: hello}
        - {name: tx, fieldType: Text, defaultValue: long text}
        - {name: i, fieldType: Integer, defaultValue: "42"}
        - {name: d, fieldType: Decimal, defaultValue: "2.5"}
        - {name: b, fieldType: Boolean, defaultValue: "true"}
        - {name: id, fieldType: ID, defaultValue: 507f1f77bcf86cd799439011}
        - {name: at, fieldType: DateTime, defaultValue: "2024-05-01T10:00:00Z"}
        - {name: e, fieldType: Enum, enumValues: "pawn,rook", defaultValue: rook}
        - {name: j, fieldType: JSON, defaultValue: '{"k":[1]}'}
        - {name: req, fieldType: Integer, required: true, defaultValue: "7"}
    - name: required
      fields:
        - {name: cell, fieldType: Integer, required: true}
        - {name: note, fieldType: String}
`

func TestValidateContentCustom(t *testing.T) {
	h := mustParse(t, customSpec)
	long := strings.Repeat("é", MaxStringLen)
	tests := []struct {
		name     string
		typ      string
		content  string
		want     string
		problems []FieldProblem
	}{
		{name: "all valid", typ: "everything", content: `{"s":"` + long + `","tx":"` + long + long + `","i":3,"d":1.25,"b":false,
			"id":"123e4567-e89b-12d3-a456-426614174000","at":"2024-05-01T10:00:00.123+02:00","e":"rook","j":[1,{"a":null}]}`,
			want: `{"s":"` + long + `","tx":"` + long + long + `","i":3,"d":1.25,"b":false,
			"id":"123e4567-e89b-12d3-a456-426614174000","at":"2024-05-01T10:00:00.123+02:00","e":"rook","j":[1,{"a":null}]}`},
		{name: "empty is fine without required fields", typ: "everything", content: `{}`, want: `{}`},
		{name: "integer written as 3.0 normalized", typ: "everything", content: `{"i":3.0}`, want: `{"i":3}`},
		{name: "object id", typ: "everything", content: `{"id":"507F1F77BCF86CD799439011"}`, want: `{"id":"507F1F77BCF86CD799439011"}`},
		{name: "every field invalid", typ: "everything", content: `{"s":"` + long + `x","tx":1,"i":1.5,"d":"1","b":"true",
			"id":"42","at":"2024-05-01","e":"queen","j":"{}","extra":0}`, problems: []FieldProblem{
			{"s", "longer than 255 characters"},
			{"tx", "expected string, got number"},
			{"i", "expected integer, got 1.5"},
			{"d", "expected number, got string"},
			{"b", "expected boolean, got string"},
			{"id", "expected a UUID or a 24-hex ObjectId"},
			{"at", "expected an ISO 8601 (RFC 3339) date-time"},
			{"e", "must be one of pawn, rook"},
			{"j", "expected object or array, got string"},
			{"extra", "unknown field"},
		}},
		{name: "integer from string rejected", typ: "everything", content: `{"i":"3"}`, problems: []FieldProblem{{"i", "expected integer, got string"}}},
		{name: "enum not string", typ: "everything", content: `{"e":1}`, problems: []FieldProblem{{"e", "expected string, got number"}}},
		{name: "json object scalar", typ: "everything", content: `{"j":true}`, problems: []FieldProblem{{"j", "expected object or array, got boolean"}}},
		{name: "defaults filled", typ: "defaults", content: `{}`,
			want: `{"s":"hello","tx":"long text","i":42,"d":2.5,"b":true,"id":"507f1f77bcf86cd799439011",
			"at":"2024-05-01T10:00:00Z","e":"rook","j":{"k":[1]},"req":7}`},
		{name: "defaults for null", typ: "defaults", content: `{"i":null,"b":false}`,
			want: `{"s":"hello","tx":"long text","i":42,"d":2.5,"b":false,"id":"507f1f77bcf86cd799439011",
			"at":"2024-05-01T10:00:00Z","e":"rook","j":{"k":[1]},"req":7}`},
		{name: "given values win over defaults", typ: "defaults", content: `{"s":"x","e":"pawn","req":1}`,
			want: `{"s":"x","tx":"long text","i":42,"d":2.5,"b":true,"id":"507f1f77bcf86cd799439011",
			"at":"2024-05-01T10:00:00Z","e":"pawn","j":{"k":[1]},"req":1}`},
		{name: "required present", typ: "required", content: `{"cell":4}`, want: `{"cell":4}`},
		{name: "required missing", typ: "required", content: `{"note":"x"}`, problems: []FieldProblem{{"cell", "required"}}},
		{name: "required null", typ: "required", content: `{"cell":null}`, problems: []FieldProblem{{"cell", "required"}}},
		{name: "largest safe integer kept exact", typ: "required", content: `{"cell":9007199254740991}`, want: `{"cell":9007199254740991}`},
		{name: "integer beyond 2^53", typ: "required", content: `{"cell":9007199254740993}`,
			problems: []FieldProblem{{"cell", msgIntegerRange}}},
		{name: "integer beyond 2^53 negative", typ: "required", content: `{"cell":-9007199254740993}`,
			problems: []FieldProblem{{"cell", msgIntegerRange}}},
		{name: "integer overflowing a double", typ: "required", content: `{"cell":1e400}`,
			problems: []FieldProblem{{"cell", msgNumberRange}}},
		{name: "binary placeholder", typ: "required", content: `{"cell":{"_placeholder":true,"num":0}}`,
			problems: []FieldProblem{{"cell", msgBinary}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := h.ValidateContent(tc.typ, json.RawMessage(tc.content))
			require.Equal(t, tc.problems, problems)
			if tc.problems == nil {
				require.JSONEq(t, tc.want, string(got))
			} else {
				require.Nil(t, got)
			}
		})
	}
}

func TestExampleChatPoll(t *testing.T) {
	chat := exampleHub(t, "chatHub")
	got, problems := chat.ValidateContent("poll", json.RawMessage(`{"question":"Lunch?","options":["pizza","sushi"]}`))
	require.Nil(t, problems)
	require.JSONEq(t, `{"question":"Lunch?","options":["pizza","sushi"],"multipleChoice":false,"maxVotes":1,"visibility":"public"}`, string(got))

	game := exampleHub(t, "ticTacToe")
	_, problems = game.ValidateContent("move", json.RawMessage(`{}`))
	require.Equal(t, []FieldProblem{{"cell", "required"}}, problems)
}

func TestCheckJSONValues(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []FieldProblem
	}{
		{"plain values", `{"a":1,"b":[1.5,"x",true,null],"c":{"d":-9007199254740991}}`, nil},
		{"decimal overflow", `{"a":{"b":1e400}}`, []FieldProblem{{"a.b", msgNumberRange}}},
		{"negative overflow in array", `[1,-1e999]`, []FieldProblem{{"[1]", msgNumberRange}}},
		{"integer literal beyond 2^53", `{"id":9007199254740992}`, []FieldProblem{{"id", msgIntegerRange}}},
		{"large double written as a double", `{"x":1e20}`, nil},
		{"placeholder nested", `{"file":{"blob":{"_placeholder":true,"num":3}}}`, []FieldProblem{{"file.blob", msgBinary}}},
		{"placeholder at the top", `{"_placeholder":true,"num":0}`, []FieldProblem{{"", msgBinary}}},
		{"look-alike without num is data", `{"_placeholder":true}`, nil},
		{"every problem reported", `{"a":1e400,"b":[{"_placeholder":true,"num":0}]}`,
			[]FieldProblem{{"a", msgNumberRange}, {"b[0]", msgBinary}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, CheckJSONValues(json.RawMessage(tc.doc)))
		})
	}
}

func TestValidateContentDecimalOutOfRange(t *testing.T) {
	h := mustParse(t, `
hubBasics: {name: nums}
roomSettings:
  roomDataObject: room
  authScripts: [{name: all, script: "true"}]
messageSettings:
  messageTypes: [location]
  customMessageTypes:
    - name: reading
      fields:
        - {name: value, fieldType: Decimal, required: true}
        - {name: count, fieldType: Integer}
`)
	_, problems := h.ValidateContent("reading", json.RawMessage(`{"value":1e400}`))
	require.Equal(t, []FieldProblem{{"value", msgNumberRange}}, problems)
	_, problems = h.ValidateContent("reading", json.RawMessage(`{"value":1.5,"count":9007199254740993}`))
	require.Equal(t, []FieldProblem{{"count", msgIntegerRange}}, problems)
	_, problems = h.ValidateContent("location", json.RawMessage(`{"lat":1e400,"lng":0}`))
	require.Equal(t, []FieldProblem{{"lat", msgNumberRange}}, problems)
	out, problems := h.ValidateContent("reading", json.RawMessage(`{"value":-12.25,"count":9007199254740991}`))
	require.Empty(t, problems)
	require.JSONEq(t, `{"value":-12.25,"count":9007199254740991}`, string(out))
}
