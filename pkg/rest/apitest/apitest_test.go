package apitest

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// doc is a small OpenAPI 3.1 document with a templated and a literal path
// that both match /h/items/special.
const doc = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/h/items/{id}": {
      "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
      "get": {
        "responses": {
          "200": {"description": "ok", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
          "default": {"$ref": "#/components/responses/Error"}
        }
      },
      "post": {
        "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Item"}}}},
        "responses": {"204": {"description": "no content"}}
      }
    },
    "/h/items/special": {
      "get": {
        "responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {"const": "special"}}}}}
      }
    }
  },
  "components": {
    "schemas": {
      "Item": {"type": "object", "required": ["id"], "additionalProperties": false,
               "properties": {"id": {"type": "string"}, "at": {"type": "string", "format": "date-time"}}}
    },
    "responses": {
      "Error": {"description": "error", "content": {"application/json": {"schema": {"type": "object", "required": ["error"]}}}}
    }
  }
}`

func TestValidator(t *testing.T) {
	v, err := NewValidator([]byte(doc))
	require.NoError(t, err)
	tests := []struct {
		name    string
		check   func() error
		wantErr error // nil: valid; errAny: some error
	}{
		{"templated path", func() error { return v.Response("GET", "/h/items/7", 200, []byte(`{"id":"7"}`)) }, nil},
		{"query ignored", func() error { return v.Response("GET", "/h/items/7?x=1", 200, []byte(`{"id":"7"}`)) }, nil},
		{"literal wins", func() error { return v.Response("GET", "/h/items/special", 200, []byte(`"special"`)) }, nil},
		{"literal schema applies", func() error { return v.Response("GET", "/h/items/special", 200, []byte(`{"id":"7"}`)) }, errAny},
		{"missing required", func() error { return v.Response("GET", "/h/items/7", 200, []byte(`{}`)) }, errAny},
		{"extra property", func() error { return v.Response("GET", "/h/items/7", 200, []byte(`{"id":"7","x":1}`)) }, errAny},
		{"format asserted", func() error { return v.Response("GET", "/h/items/7", 200, []byte(`{"id":"7","at":"noon"}`)) }, errAny},
		{"default response", func() error { return v.Response("GET", "/h/items/7", 503, []byte(`{"error":"x"}`)) }, nil},
		{"default response schema", func() error { return v.Response("GET", "/h/items/7", 503, []byte(`{}`)) }, errAny},
		{"undocumented status", func() error { return v.Response("POST", "/h/items/7", 200, nil) }, errAny},
		{"no content", func() error { return v.Response("POST", "/h/items/7", 204, nil) }, nil},
		{"unexpected body", func() error { return v.Response("POST", "/h/items/7", 204, []byte(`{}`)) }, errAny},
		{"not json", func() error { return v.Response("GET", "/h/items/7", 200, []byte(`{`)) }, errAny},
		{"unknown path", func() error { return v.Response("GET", "/h/other", 200, nil) }, ErrNoRoute},
		{"unknown method", func() error { return v.Response("DELETE", "/h/items/7", 200, nil) }, ErrNoRoute},
		{"empty segment", func() error { return v.Response("GET", "/h/items/", 200, nil) }, ErrNoRoute},
		{"request", func() error { return v.Request("POST", "/h/items/7", []byte(`{"id":"7"}`)) }, nil},
		{"request invalid", func() error { return v.Request("POST", "/h/items/7", []byte(`{"id":7}`)) }, errAny},
		{"request required", func() error { return v.Request("POST", "/h/items/7", nil) }, errAny},
		{"request without body", func() error { return v.Request("GET", "/h/items/7", []byte(`{}`)) }, ErrNoRequestBody},
		{"component schema", func() error { return v.Schema("Item", []byte(`{"id":"x"}`)) }, nil},
		{"component schema invalid", func() error { return v.Schema("Item", []byte(`[]`)) }, errAny},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.check()
			switch {
			case tc.wantErr == nil:
				require.NoError(t, err)
			case errors.Is(tc.wantErr, errAny):
				require.Error(t, err)
			default:
				require.ErrorIs(t, err, tc.wantErr)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestNewValidatorRejects(t *testing.T) {
	tests := []struct {
		name string
		doc  string
	}{
		{"not json", `{`},
		{"not an object", `[]`},
		{"openapi 3.0", `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{}}`},
		{"missing info", `{"openapi":"3.1.0","paths":{}}`},
		{"bad schema", `{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{},"components":{"schemas":{"X":{"type":7}}}}`},
		{"undeclared path parameter", `{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a/{id}":{"get":{"responses":{"200":{"description":"d"}}}}}}`},
		{"dangling ref in response", `{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a":{"get":{"responses":{"200":{"description":"d","content":{"application/json":{"schema":{"$ref":"#/components/schemas/Nope"}}}}}}}}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewValidator([]byte(tc.doc))
			require.Error(t, err)
		})
	}
}
