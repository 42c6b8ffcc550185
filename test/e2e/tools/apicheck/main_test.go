package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const doc = `{
  "openapi": "3.1.0",
  "info": {"title": "t", "version": "1"},
  "paths": {
    "/chat/rooms/{roomId}/unread": {
      "get": {
        "operationId": "getUnread",
        "parameters": [{"name": "roomId", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {
          "200": {"description": "ok", "content": {"application/json": {"schema": {
            "type": "object", "required": ["ok", "unread"],
            "properties": {"ok": {"const": true}, "unread": {"type": "integer", "minimum": 0}},
            "additionalProperties": false}}}}
        }
      }
    }
  }
}`

func TestRun(t *testing.T) {
	tests := []struct {
		name      string
		exchanges string
		wantErr   bool
		wantOut   string
	}{
		{"matching response", `[{"method":"GET","path":"/chat/rooms/r1/unread","status":200,"body":{"ok":true,"unread":3}}]`, false, "1 exchanges, 0 failures"},
		{"wrong body type", `[{"method":"GET","path":"/chat/rooms/r1/unread","status":200,"body":{"ok":true,"unread":"3"}}]`, true, "FAIL 0 GET"},
		{"extra property", `[{"method":"GET","path":"/chat/rooms/r1/unread","status":200,"body":{"ok":true,"unread":1,"x":1}}]`, true, "1 failures"},
		{"unknown route", `[{"method":"POST","path":"/chat/rooms/r1/unread","status":200,"body":{}}]`, true, "FAIL 0 POST"},
		{"undocumented status", `[{"method":"GET","path":"/chat/rooms/r1/unread","status":418,"body":{}}]`, true, "1 failures"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(strings.NewReader(`{"document":`+doc+`,"exchanges":`+tc.exchanges+`}`), &out)
			if tc.wantErr {
				require.ErrorIs(t, err, errFailed)
			} else {
				require.NoError(t, err)
			}
			require.Contains(t, out.String(), tc.wantOut)
		})
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	var out bytes.Buffer
	require.Error(t, run(strings.NewReader(`not json`), &out))
	require.Error(t, run(strings.NewReader(`{"document":{"openapi":"3.0.0"},"exchanges":[]}`), &out))
}
