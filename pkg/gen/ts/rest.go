package ts

import (
	"encoding/json"
	"sort"
	"strings"
)

// openAPIDoc is the part of a hub's OpenAPI document the generator reads.
type openAPIDoc struct {
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas map[string]map[string]any `json:"schemas"`
	} `json:"components"`
}

type operation struct {
	OperationID string      `json:"operationId"`
	Summary     string      `json:"summary"`
	Parameters  []parameter `json:"parameters"`
	RequestBody *struct {
		Required bool                 `json:"required"`
		Content  map[string]mediaType `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]mediaType `json:"content"`
	} `json:"responses"`
}

type parameter struct {
	Name     string         `json:"name"`
	In       string         `json:"in"`
	Required bool           `json:"required"`
	Schema   map[string]any `json:"schema"`
}

type mediaType struct {
	Schema map[string]any `json:"schema"`
}

// httpMethods are the operations of a path item, in output order.
var httpMethods = []string{"get", "put", "post", "patch", "delete"}

// restAPI writes the document's component schemas (Schemas) and one entry
// per route (RestApi): path and query parameters, JSON body and response.
func (g *gen) restAPI() error {
	g.line("/** The component schemas of the hub's OpenAPI document (GET /%s/openapi.json). */", g.h.Name())
	g.line("export interface Schemas {")
	for _, name := range sortedKeys(g.doc.Components.Schemas) {
		s := g.doc.Components.Schemas[name]
		writeDoc(&g.b, "  ", stringOf(s["description"]))
		g.line("  %s: %s;", quote(name), schemaType(s, "  "))
	}
	g.line("}")
	g.line("")
	g.line("/** The hub's REST routes: \"METHOD /path\" -> parameters, body and response. */")
	g.line("export interface RestApi {")
	for _, path := range sortedKeys(g.doc.Paths) {
		for _, m := range httpMethods {
			raw, ok := g.doc.Paths[path][m]
			if !ok {
				continue
			}
			var op operation
			if err := json.Unmarshal(raw, &op); err != nil {
				return err
			}
			g.route(strings.ToUpper(m)+" "+path, &op)
		}
	}
	g.line("}")
	g.line("")
	g.line("export type RestRoute = keyof RestApi;")
	return nil
}

func (g *gen) route(key string, op *operation) {
	writeDoc(&g.b, "  ", op.Summary)
	g.line("  %s: {", quote(key))
	if op.OperationID != "" {
		g.line("    operationId: %s;", quote(op.OperationID))
	}
	g.line("    path: %s;", paramsType(op.Parameters, "path"))
	g.line("    query: %s;", paramsType(op.Parameters, "query"))
	body := "never"
	if op.RequestBody != nil {
		if mt, ok := op.RequestBody.Content["application/json"]; ok {
			body = schemaType(mt.Schema, "    ")
		}
	}
	g.line("    body: %s;", body)
	g.line("    response: %s;", responseType(op))
	g.line("  };")
}

// paramsType renders the parameters of one location as an object type.
func paramsType(params []parameter, in string) string {
	var parts []string
	for _, p := range params {
		if p.In != in {
			continue
		}
		opt := "?"
		if p.Required {
			opt = ""
		}
		parts = append(parts, propName(p.Name)+opt+": "+schemaType(p.Schema, "    "))
	}
	if len(parts) == 0 {
		return "{}"
	}
	return "{ " + strings.Join(parts, "; ") + " }"
}

// responseType is the JSON schema of the first 2xx response, void when it
// has no body.
func responseType(op *operation) string {
	for _, code := range sortedKeys(op.Responses) {
		if !strings.HasPrefix(code, "2") {
			continue
		}
		if mt, ok := op.Responses[code].Content["application/json"]; ok {
			return schemaType(mt.Schema, "    ")
		}
		return "void"
	}
	return "void"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
