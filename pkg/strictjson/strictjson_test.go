package strictjson

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type inner struct {
	ID string `json:"id"`
}

type base struct {
	Tag string `json:"tag"`
}

type request struct {
	base
	MessageType string           `json:"messageType"`
	Content     json.RawMessage  `json:"content"`
	ReplyTo     *inner           `json:"replyTo"`
	Count       int              `json:"count,omitempty"`
	List        []inner          `json:"list"`
	ByName      map[string]inner `json:"byName"`
	Data        json.RawMessage  `json:"data" strictjson:"nullable"`
	Skipped     string           `json:"-"`
	unexported  string
}

func TestDecode(t *testing.T) {
	cases := []struct {
		name, body string
		err        string // "" when accepted
	}{
		{"exact keys", `{"messageType":"text","content":{"Body":1,"body":2},"replyTo":{"id":"m1"},"count":3,"tag":"t"}`, ""},
		{"escaped key spelled exactly", `{"message\u0054ype":"text"}`, ""},
		{"whitespace around", " \n{\"messageType\":\"text\"}\t\n", ""},
		{"key matching only case-insensitively", `{"messAgeType":"text"}`, `json: unknown field "messAgeType"`},
		{"escaped key matching only case-insensitively", `{"message\u0074ype":"text"}`, `json: unknown field "messagetype"`},
		{"unknown key", `{"other":1}`, `json: unknown field "other"`},
		{"field named -", `{"Skipped":"x"}`, `json: unknown field "Skipped"`},
		{"repeated key", `{"messageType":"text","messageType":"poll"}`, `json: duplicate field "messageType"`},
		{"nested key matching only case-insensitively", `{"replyTo":{"ID":"m1"}}`, `json: unknown field "ID"`},
		{"nested repeated key", `{"replyTo":{"id":"a","id":"b"}}`, `json: duplicate field "id"`},
		{"keys inside a slice of structs", `{"list":[{"id":"a"},{"iD":"b"}]}`, `json: unknown field "iD"`},
		{"keys inside a map of structs", `{"byName":{"Id":{"id":"a"},"b":{"id":"b","id":"c"}}}`, `json: duplicate field "id"`},
		{"map keys themselves are free", `{"byName":{"ID":{"id":"a"},"id":{"id":"b"}},"list":[]}`, ""},
		{"null where the field is nullable", `{"data":null}`, ""},
		{"null for a string", `{"messageType":null}`, `json: field "messageType" must not be null`},
		{"null for a pointer", `{"replyTo":null}`, `json: field "replyTo" must not be null`},
		{"null for raw JSON", `{"content":null}`, `json: field "content" must not be null`},
		{"null inside a nested struct", `{"list":[{"id":null}]}`, `json: field "id" must not be null`},
		{"null elements are not keys", `{"list":[null],"byName":{"a":null}}`, ""},
		{"trailing object", `{"messageType":"text"}{"x":1}`, "trailing data after the JSON object"},
		{"trailing garbage", `{"messageType":"text"} x`, "trailing data after the JSON object"},
		{"wrong type", `{"count":"3"}`, "json: cannot unmarshal string into Go struct field request.count of type int"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r request
			err := Decode([]byte(c.body), &r)
			if c.err == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, c.err)
		})
	}
}

func TestDecodeSetsFields(t *testing.T) {
	var r request
	require.NoError(t, Decode([]byte(`{"messageType":"text","content":{"a":1},"replyTo":{"id":"m1"},"tag":"t"}`), &r))
	require.Equal(t, "text", r.MessageType)
	require.JSONEq(t, `{"a":1}`, string(r.Content))
	require.Equal(t, "m1", r.ReplyTo.ID)
	require.Equal(t, "t", r.Tag)
}

// FuzzDecode: whatever Decode accepts, encoding/json decodes to the same
// value, and every key of the object is a field's exact name, once, with
// null only where the field is nullable.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"messageType":"text","content":{"body":"x"}}`,
		`{"messAgeType":"text"}`,
		`{"replyTo":{"id":"m1"},"replyTo":null}`,
		`{"message\u0054ype":"x","tag":"\u00e9"}`,
		`{"list":[{"id":"a"},null],"byName":{"k":{"id":"b"}}}`,
	} {
		f.Add(s)
	}
	names := map[string]bool{"tag": true, "messageType": true, "content": true, "replyTo": true, "count": true, "list": true, "byName": true, "data": true}
	f.Fuzz(func(t *testing.T, body string) {
		var r request
		if Decode([]byte(body), &r) != nil {
			return
		}
		var want request
		require.NoError(t, json.Unmarshal([]byte(body), &want))
		require.Equal(t, want, r)
		dec := json.NewDecoder(strings.NewReader(body))
		_, err := dec.Token() // {
		require.NoError(t, err)
		seen := map[string]bool{}
		for dec.More() {
			k, err := dec.Token()
			require.NoError(t, err)
			key := k.(string)
			require.True(t, names[key], "key %q", key)
			require.False(t, seen[key], "key %q twice", key)
			seen[key] = true
			var value json.RawMessage
			require.NoError(t, dec.Decode(&value))
			require.True(t, key == "data" || string(value) != "null", "key %q is null", key)
		}
	})
}
