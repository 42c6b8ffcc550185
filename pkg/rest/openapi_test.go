package rest

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/rest/apitest"
	"github.com/hubd/hubd/pkg/spec"
)

// specFiles are the hubs every document test runs on: the example configs
// and the fixtures.
func specFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"../../configs/hubs/*.yaml", "testdata/hubs/*.yaml"} {
		m, err := filepath.Glob(pattern)
		require.NoError(t, err)
		files = append(files, m...)
	}
	require.GreaterOrEqual(t, len(files), 5)
	return files
}

func loadSpec(t testing.TB, path string) *spec.Hub {
	t.Helper()
	h, err := spec.LoadFile(path, spec.LoadOptions{})
	require.NoError(t, err)
	return h
}

func TestOpenAPIDocumentsAreValid(t *testing.T) {
	for _, f := range specFiles(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			h := loadSpec(t, f)
			doc, err := OpenAPI(h)
			require.NoError(t, err)
			_, err = apitest.NewValidator(doc)
			require.NoError(t, err)

			var parsed struct {
				OpenAPI string                    `json:"openapi"`
				Paths   map[string]map[string]any `json:"paths"`
			}
			require.NoError(t, json.Unmarshal(doc, &parsed))
			require.Equal(t, OpenAPIVersion, parsed.OpenAPI)
			for p := range parsed.Paths {
				require.True(t, strings.HasPrefix(p, "/"+h.Name()+"/"), p)
			}
		})
	}
}

func TestOpenAPIRoutesFollowToggles(t *testing.T) {
	const room, msg = "/rooms/r1", "/messages/m1"
	always := []string{
		"GET /openapi.json", "GET " + room + "/messages", "POST " + room + "/messages",
		"GET " + msg, "PATCH " + msg, "DELETE " + msg,
		"POST " + room + "/blocks", "DELETE " + room + "/blocks/u2", "POST " + room + "/silences",
		"DELETE " + room + "/silences/u2", "POST " + room + "/kicks", "PATCH " + room,
	}
	tests := []struct {
		file     string
		present  []string
		absent   []string
		sendable []string // message types in SendMessageRequest
	}{
		{
			file:     "../../configs/hubs/chat.yaml",
			present:  []string{"POST " + msg + "/reactions", "GET " + room + "/presence", "GET " + room + "/receipts", "GET " + room + "/unread", "GET " + msg + "/deliveries"},
			absent:   []string{"POST " + room + "/events", "GET " + room + "/pending", "POST " + msg + "/approve", "POST " + msg + "/reject"},
			sendable: []string{"text", "image", "video", "audio", "document", "sticker", "contact", "location", "poll"},
		},
		{
			file:     "../../configs/hubs/game.yaml",
			present:  []string{"GET " + room + "/presence", "POST " + room + "/events"},
			absent:   []string{"POST " + msg + "/reactions", "GET " + room + "/receipts", "GET " + room + "/unread", "GET " + room + "/pending"},
			sendable: []string{"text", "move", "resign"},
		},
		{
			file: "testdata/hubs/full.yaml",
			present: []string{"POST " + msg + "/reactions", "GET " + room + "/presence", "GET " + room + "/receipts", "GET " + room + "/unread",
				"POST " + room + "/events", "GET " + room + "/pending", "POST " + msg + "/approve", "POST " + msg + "/reject"},
			sendable: []string{"text", "image", "video", "audio", "document", "sticker", "contact", "location", "sample", "Text"},
		},
		{
			file:     "testdata/hubs/minimal.yaml",
			absent:   []string{"POST " + msg + "/reactions", "GET " + room + "/presence", "GET " + room + "/receipts", "POST " + room + "/events", "GET " + room + "/pending", "GET " + msg + "/deliveries"},
			sendable: []string{"text"},
		},
		{
			file:    "testdata/hubs/systemonly.yaml",
			present: []string{"GET " + room + "/pending", "POST " + msg + "/approve"},
		},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			h := loadSpec(t, tc.file)
			doc, err := OpenAPI(h)
			require.NoError(t, err)
			v, err := apitest.NewValidator(doc)
			require.NoError(t, err)
			has := func(route string) bool {
				method, path, _ := strings.Cut(route, " ")
				return v.Has(method, "/"+h.Name()+path)
			}
			for _, r := range append(append([]string{}, always...), tc.present...) {
				require.True(t, has(r), "missing %s", r)
			}
			for _, r := range tc.absent {
				require.False(t, has(r), "unexpected %s", r)
			}

			var parsed struct {
				Components struct {
					Schemas map[string]struct {
						OneOf         []map[string]any `json:"oneOf"`
						Discriminator struct {
							Mapping map[string]string `json:"mapping"`
						} `json:"discriminator"`
					} `json:"schemas"`
				} `json:"components"`
			}
			require.NoError(t, json.Unmarshal(doc, &parsed))
			var got []string
			for typ := range parsed.Components.Schemas["SendMessageRequest"].Discriminator.Mapping {
				got = append(got, typ)
			}
			require.ElementsMatch(t, tc.sendable, got)
			require.Len(t, parsed.Components.Schemas["SendMessageRequest"].OneOf, len(tc.sendable))
		})
	}
}

// contentSamples are contents tried against every message type: the
// document's content schema must accept exactly what
// spec.Hub.ValidateContent accepts.
var contentSamples = []string{
	`{}`, `[]`, `"text"`, `{"unknown":1}`,
	`{"body":"hi"}`, `{"body":""}`, `{"body":5}`, `{"body":"hi","extra":true}`,
	`{"mediaUrl":"https://x/y.png"}`, `{"mediaUrl":""}`,
	`{"mediaUrl":"u","thumbnail":"t","caption":"c","width":10,"height":0}`,
	`{"mediaUrl":"u","width":-1}`, `{"mediaUrl":"u","width":1.5}`, `{"mediaUrl":"u","height":"10"}`,
	`{"mediaUrl":"u","duration":1.5}`, `{"mediaUrl":"u","duration":-0.1}`, `{"mediaUrl":"u","caption":3}`,
	`{"mediaUrl":"u","waveform":[0.1,2,3]}`, `{"mediaUrl":"u","waveform":[1,"x"]}`, `{"mediaUrl":"u","waveform":3}`,
	`{"mediaUrl":"u","fileName":"a.pdf","fileSize":1024,"mimeType":"application/pdf"}`, `{"mediaUrl":"u","fileSize":-5}`,
	`{"stickerUrl":"s","stickerPackId":"p"}`, `{"stickerUrl":""}`,
	`{"contactName":"Ann","contactPhone":"1","contactUserId":"u2"}`, `{"contactPhone":"1"}`,
	`{"lat":0,"lng":0}`, `{"lat":90,"lng":-180,"address":"a","label":"l"}`, `{"lat":91,"lng":0}`, `{"lat":0,"lng":180.5}`, `{"lat":"1","lng":2}`, `{"lat":1}`,
	`{"systemAction":"gameOver","systemData":{"winner":"X"}}`, `{"systemAction":"x","systemData":[1,2]}`, `{"systemAction":""}`, `{"systemData":1}`,
	// custom: poll (chat.yaml)
	`{"question":"Lunch?","options":["a","b"]}`, `{"question":"Lunch?","options":{"a":1},"multipleChoice":true,"maxVotes":2,"visibility":"anonymous","closesAt":"2026-12-01T10:00:00Z"}`,
	`{"question":"Lunch?"}`, `{"question":"Lunch?","options":"a,b"}`, `{"question":"Lunch?","options":[],"visibility":"secret"}`,
	`{"question":"Lunch?","options":[],"maxVotes":1.5}`, `{"question":"Lunch?","options":[],"closesAt":"tomorrow"}`,
	`{"question":"` + strings.Repeat("é", 255) + `","options":[]}`, `{"question":"` + strings.Repeat("é", 256) + `","options":[]}`,
	// custom: move/resign (game.yaml)
	`{"cell":4}`, `{"cell":"4"}`, `{"cell":4.5}`, `{"reason":"tired"}`, `{"reason":7}`,
	// custom: sample (full.yaml)
	`{"title":"t"}`, `{"title":""}`, `{"title":1}`,
	`{"title":"t","body":"long","count":-7,"ratio":2.5,"flag":false,"ref":"0123456789abcdef01234567","at":"2026-11-28T00:00:00.5+01:00","color":"blue","extra":[1]}`,
	`{"title":"t","ref":"6f1c2b8e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"}`, `{"title":"t","ref":"not-an-id"}`, `{"title":"t","ref":"0123456789abcdef0123456"}`,
	`{"title":"t","ratio":"0.5"}`, `{"title":"t","flag":"true"}`, `{"title":"t","color":"Red"}`, `{"title":"t","extra":"{}"}`, `{"title":"t","at":"2026-11-28"}`,
	`{"value":"x"}`, `{"value":1}`,
}

func TestContentSchemasAgreeWithSpec(t *testing.T) {
	for _, f := range specFiles(t) {
		h := loadSpec(t, f)
		doc, err := OpenAPI(h)
		require.NoError(t, err)
		v, err := apitest.NewValidator(doc)
		require.NoError(t, err)
		types := []string{}
		for _, mt := range h.MessageSettings.MessageTypes {
			types = append(types, string(mt))
		}
		for _, ct := range h.MessageSettings.CustomMessageTypes {
			types = append(types, ct.Name)
		}
		for _, typ := range types {
			accepted := 0
			for _, sample := range contentSamples {
				_, problems := h.ValidateContent(typ, json.RawMessage(sample))
				err := v.Schema("Content."+typ, []byte(sample))
				require.Equal(t, len(problems) == 0, err == nil,
					"%s type %s content %s: spec problems %v, schema error %v", h.Name(), typ, sample, problems, err)
				if err == nil {
					accepted++
				}
			}
			require.Positive(t, accepted, "%s: no sample is a valid %s content", h.Name(), typ)
		}
	}
}

func TestOpenAPICustomFieldSchemas(t *testing.T) {
	h := loadSpec(t, "testdata/hubs/full.yaml")
	doc, err := OpenAPI(h)
	require.NoError(t, err)
	var parsed struct {
		Components struct {
			Schemas map[string]struct {
				Required   []string                  `json:"required"`
				Properties map[string]map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(doc, &parsed))
	sample := parsed.Components.Schemas["Content.sample"]
	require.Equal(t, []string{"title"}, sample.Required)
	tests := []struct {
		field string
		want  map[string]any
	}{
		{"title", map[string]any{"type": "string", "maxLength": float64(255)}},
		{"body", map[string]any{"type": "string"}},
		{"count", map[string]any{"type": "integer", "default": float64(3)}},
		{"ratio", map[string]any{"type": "number", "default": 0.5}},
		{"flag", map[string]any{"type": "boolean", "default": true}},
		{"ref", map[string]any{"type": "string", "pattern": idPattern, "description": "A UUID or a 24-hex ObjectId."}},
		{"at", map[string]any{"type": "string", "format": "date-time"}},
		{"color", map[string]any{"type": "string", "enum": []any{"red", "green", "blue"}, "default": "green"}},
		{"extra", map[string]any{"type": []any{"object", "array"}}},
	}
	for _, tc := range tests {
		t.Run(tc.field, func(t *testing.T) {
			require.Equal(t, tc.want, sample.Properties[tc.field])
		})
	}
}

func TestOpenAPIMessageSchemaFollowsToggles(t *testing.T) {
	tests := []struct {
		file    string
		present []string
		absent  []string
	}{
		{"../../configs/hubs/chat.yaml", []string{"replyTo", "reaction", "forwarded"}, nil},
		{"testdata/hubs/minimal.yaml", nil, []string{"replyTo", "reaction", "forwarded"}},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.file), func(t *testing.T) {
			doc, err := OpenAPI(loadSpec(t, tc.file))
			require.NoError(t, err)
			var parsed struct {
				Components struct {
					Schemas map[string]struct {
						Properties map[string]any `json:"properties"`
					} `json:"schemas"`
				} `json:"components"`
			}
			require.NoError(t, json.Unmarshal(doc, &parsed))
			props := parsed.Components.Schemas["Message"].Properties
			for _, p := range []string{"id", "roomId", "seq", "senderId", "messageType", "content", "timestamp", "status"} {
				require.Contains(t, props, p)
			}
			for _, p := range tc.present {
				require.Contains(t, props, p)
			}
			for _, p := range tc.absent {
				require.NotContains(t, props, p)
			}
		})
	}
}

func TestValidatorRejectsBrokenDocuments(t *testing.T) {
	good, err := OpenAPI(loadSpec(t, "testdata/hubs/minimal.yaml"))
	require.NoError(t, err)
	tests := []struct {
		name    string
		edit    func(doc map[string]any)
		wantErr string
	}{
		{"openapi 3.0", func(d map[string]any) { d["openapi"] = "3.0.3" }, "want 3.1.x"},
		{"no info", func(d map[string]any) { delete(d, "info") }, "info"},
		{"bad schema type", func(d map[string]any) {
			d["components"].(map[string]any)["schemas"].(map[string]any)["Message"] = map[string]any{"type": "strng"}
		}, "Message"},
		{"dangling ref", func(d map[string]any) {
			d["components"].(map[string]any)["schemas"].(map[string]any)["MessageList"] = map[string]any{"$ref": "#/components/schemas/Nope"}
		}, "Nope"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d map[string]any
			require.NoError(t, json.Unmarshal(good, &d))
			tc.edit(d)
			b, err := json.Marshal(d)
			require.NoError(t, err)
			_, err = apitest.NewValidator(b)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.wantErr)
		})
	}
}

func TestValidateResponse(t *testing.T) {
	doc, err := OpenAPI(loadSpec(t, "testdata/hubs/minimal.yaml"))
	require.NoError(t, err)
	msg := `{"id":"m1","roomId":"r1","seq":1,"senderId":"u1","messageType":"text","content":{"body":"hi"},"timestamp":"2026-11-28T00:00:00.000Z","status":"published"}`
	tests := []struct {
		name   string
		method string
		path   string
		status int
		body   string
		ok     bool
	}{
		{"list", http.MethodGet, "/minimalHub/rooms/r1/messages?limit=5", 200, `{"ok":true,"roomId":"r1","messages":[` + msg + `]}`, true},
		{"list wrong ok", http.MethodGet, "/minimalHub/rooms/r1/messages", 200, `{"ok":false,"roomId":"r1","messages":[]}`, false},
		{"bad content", http.MethodGet, "/minimalHub/messages/m1", 200, `{"ok":true,"message":` + strings.Replace(msg, `"body":"hi"`, `"body":""`, 1) + `}`, false},
		{"type not enabled", http.MethodGet, "/minimalHub/messages/m1", 200, `{"ok":true,"message":` + strings.Replace(msg, `"text"`, `"image"`, 1) + `}`, false},
		{"replyTo not enabled", http.MethodGet, "/minimalHub/messages/m1", 200, `{"ok":true,"message":` + strings.Replace(msg, `"status"`, `"replyTo":{"id":"m0"},"status"`, 1) + `}`, false},
		{"error", http.MethodGet, "/minimalHub/messages/m1", 404, `{"ok":false,"error":{"code":"NOT_FOUND","message":"no"}}`, true},
		{"error bad code", http.MethodGet, "/minimalHub/messages/m1", 404, `{"ok":false,"error":{"code":"NOPE","message":"no"}}`, false},
		{"default status", http.MethodGet, "/minimalHub/messages/m1", 409, `{"ok":false,"error":{"code":"ROOM_FULL","message":"full"}}`, true},
		{"unknown route", http.MethodGet, "/minimalHub/rooms/r1/receipts", 200, `{"ok":true}`, false},
		{"other hub", http.MethodGet, "/chatHub/rooms/r1/messages", 200, `{"ok":true,"roomId":"r1","messages":[]}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := apitest.ValidateResponse(doc, tc.method, tc.path, tc.status, []byte(tc.body))
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}
}

// TestPersistedEventsInHistory: persisted custom events are stored as
// messages of the event's name and listed with history, so the document's
// Message accepts them; ephemeral events are never stored, and events
// cannot be sent as messages.
func TestPersistedEventsInHistory(t *testing.T) {
	full, err := OpenAPI(loadSpec(t, "testdata/hubs/full.yaml"))
	require.NoError(t, err)
	game, err := OpenAPI(loadSpec(t, "../../configs/hubs/game.yaml"))
	require.NoError(t, err)
	event := func(typ, content string) string {
		return `{"ok":true,"roomId":"r1","messages":[{"id":"m1","roomId":"r1","seq":1,"senderId":"system","messageType":"` + typ +
			`","content":` + content + `,"timestamp":"2026-11-28T00:00:00.000Z","status":"published"}]}`
	}
	tests := []struct {
		name string
		doc  []byte
		path string
		body string
		ok   bool
	}{
		{"persisted event", full, "/fullHub/rooms/r1/messages", event("announce", `{"data":{"x":1}}`), true},
		{"persisted event without data", full, "/fullHub/rooms/r1/messages", event("poke", `{"data":null}`), true},
		{"event content must be data", full, "/fullHub/rooms/r1/messages", event("announce", `{"x":1}`), false},
		{"ephemeral event is never stored", game, "/ticTacToe/rooms/r1/messages", event("rematchOffer", `{"data":1}`), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := apitest.ValidateResponse(tc.doc, http.MethodGet, tc.path, 200, []byte(tc.body))
			if tc.ok {
				require.NoError(t, err)
			} else {
				require.Error(t, err)
			}
		})
	}

	v, err := apitest.NewValidator(full)
	require.NoError(t, err)
	require.Error(t, v.Request(http.MethodPost, "/fullHub/rooms/r1/messages", []byte(`{"messageType":"announce","content":{"data":1}}`)))
}

func TestAsyncAPIFollowsTheSpec(t *testing.T) {
	h := loadSpec(t, "../../configs/hubs/chat.yaml")
	h.EventSettings.EnableTypingIndicator = false
	h.EventSettings.CustomEvents = []spec.HubCustomEvent{
		{Name: "poke", Direction: spec.ClientToRoom, Ephemeral: true},
		{Name: "notice", Direction: spec.ServerToClient},
	}
	b, err := AsyncAPI(h)
	require.NoError(t, err)
	var doc struct {
		AsyncAPI   string                    `json:"asyncapi"`
		Operations map[string]map[string]any `json:"operations"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	require.Equal(t, "3.0.0", doc.AsyncAPI)
	for _, k := range []string{"send.hub_send", "send.hub_event.poke", "receive.poke", "receive.notice", "receive.hub_error"} {
		require.Contains(t, doc.Operations, k)
	}
	require.NotContains(t, doc.Operations, "send.hub_event.notice", "a serverToClient event is not sent by clients")
	require.NotContains(t, doc.Operations, "receive.hub_typing", "the typing indicator is off")
}
