// Package apitest checks hub OpenAPI documents and the REST traffic they
// describe: a document must be valid OpenAPI 3.1 whose schemas are valid
// JSON Schema 2020-12, and requests and responses must match the schema of
// their route. Tests use it; the daemon does not.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

const docURL = "mem:///openapi.json"

// Validator checks traffic against one OpenAPI document.
type Validator struct {
	raw      map[string]any
	compiler *jsonschema.Compiler
	ops      []operation
}

// operation is one method of one templated path.
type operation struct {
	method   string
	template []string // path segments; "{x}" is a parameter
	pointer  string   // JSON pointer of the operation object
	op       map[string]any
}

// Errors of Request and Response.
var (
	// ErrNoRoute reports a method and path the document does not describe.
	ErrNoRoute = errors.New("no operation in the document")
	// ErrNoRequestBody reports a body sent to an operation without one.
	ErrNoRequestBody = errors.New("the operation takes no request body")
)

// NewValidator parses and validates doc: OpenAPI 3.1 structure (with
// kin-openapi) and every request and response schema compiled as JSON
// Schema 2020-12 against its meta-schema.
func NewValidator(doc []byte) (*Validator, error) {
	var head struct {
		OpenAPI string `json:"openapi"`
	}
	if err := json.Unmarshal(doc, &head); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	if !strings.HasPrefix(head.OpenAPI, "3.1.") {
		return nil, fmt.Errorf("openapi document: version %q, want 3.1.x", head.OpenAPI)
	}
	loader := openapi3.NewLoader()
	t, err := loader.LoadFromData(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi document: load: %w", err)
	}
	if err := t.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}

	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	raw, ok := inst.(map[string]any)
	if !ok {
		return nil, errors.New("openapi document: not a JSON object")
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(docURL, raw); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	v := &Validator{raw: raw, compiler: c}

	if comps, ok := raw["components"].(map[string]any); ok {
		schemas, _ := comps["schemas"].(map[string]any)
		for _, name := range sortedKeys(schemas) {
			if _, err := c.Compile(docURL + "#/components/schemas/" + escape(name)); err != nil {
				return nil, fmt.Errorf("openapi document: schema %s: %w", name, err)
			}
		}
	}
	paths, _ := raw["paths"].(map[string]any)
	for _, p := range sortedKeys(paths) {
		item, _ := paths[p].(map[string]any)
		for _, m := range sortedKeys(item) {
			op, ok := item[m].(map[string]any)
			if !ok {
				continue
			}
			o := operation{method: strings.ToUpper(m), template: split(p),
				pointer: "#/paths/" + escape(p) + "/" + m, op: op}
			v.ops = append(v.ops, o)
			// Compile every schema of the operation now, so that a broken
			// document fails here and not on the first request.
			if _, ok := op["requestBody"]; ok {
				if _, err := v.schemaAt(o.pointer + "/requestBody"); err != nil {
					return nil, fmt.Errorf("openapi document: %s %s request: %w", o.method, p, err)
				}
			}
			resps, _ := op["responses"].(map[string]any)
			for _, st := range sortedKeys(resps) {
				if _, err := v.schemaAt(o.pointer + "/responses/" + escape(st)); err != nil {
					return nil, fmt.Errorf("openapi document: %s %s response %s: %w", o.method, p, st, err)
				}
			}
		}
	}
	return v, nil
}

// ValidateResponse checks that a response of method and path (query
// allowed) with status and JSON body matches the document: the route
// exists, the status is listed (or a default response is), and the body
// validates against its schema.
func ValidateResponse(doc []byte, method, path string, status int, body []byte) error {
	v, err := NewValidator(doc)
	if err != nil {
		return err
	}
	return v.Response(method, path, status, body)
}

// Response checks one response; see ValidateResponse.
func (v *Validator) Response(method, path string, status int, body []byte) error {
	o, err := v.find(method, path)
	if err != nil {
		return err
	}
	resps, _ := o.op["responses"].(map[string]any)
	key := strconv.Itoa(status)
	if _, ok := resps[key]; !ok {
		if _, ok := resps["default"]; !ok {
			return fmt.Errorf("%s %s: status %d is not a documented response", method, path, status)
		}
		key = "default"
	}
	sch, err := v.schemaAt(o.pointer + "/responses/" + escape(key))
	if err != nil {
		return err
	}
	if sch == nil {
		if len(bytes.TrimSpace(body)) > 0 {
			return fmt.Errorf("%s %s: response %s has no content but a body was sent", method, path, key)
		}
		return nil
	}
	return validate(sch, body, fmt.Sprintf("%s %s response %d", method, path, status))
}

// Request checks that a JSON request body matches the route's request
// schema.
func (v *Validator) Request(method, path string, body []byte) error {
	o, err := v.find(method, path)
	if err != nil {
		return err
	}
	rb, ok := o.op["requestBody"].(map[string]any)
	if !ok {
		if len(bytes.TrimSpace(body)) > 0 {
			return fmt.Errorf("%s %s: %w", method, path, ErrNoRequestBody)
		}
		return nil
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if req, _ := rb["required"].(bool); req {
			return fmt.Errorf("%s %s: request body is required", method, path)
		}
		return nil
	}
	sch, err := v.schemaAt(o.pointer + "/requestBody")
	if err != nil {
		return err
	}
	return validate(sch, body, fmt.Sprintf("%s %s request", method, path))
}

// Schema checks a JSON value against the component schema name.
func (v *Validator) Schema(name string, body []byte) error {
	sch, err := v.compiler.Compile(docURL + "#/components/schemas/" + escape(name))
	if err != nil {
		return err
	}
	return validate(sch, body, "schema "+name)
}

// Has reports whether the document has an operation for method and path.
func (v *Validator) Has(method, path string) bool {
	_, err := v.find(method, path)
	return err == nil
}

func validate(sch *jsonschema.Schema, body []byte, what string) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s: body is not JSON: %w", what, err)
	}
	if err := sch.Validate(inst); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// find returns the operation whose templated path matches; paths with more
// literal segments win.
func (v *Validator) find(method, path string) (*operation, error) {
	if u, err := url.Parse(path); err == nil {
		path = u.Path
	}
	segs := split(path)
	var best *operation
	bestLiterals := -1
	for i := range v.ops {
		o := &v.ops[i]
		if o.method != strings.ToUpper(method) || len(o.template) != len(segs) {
			continue
		}
		literals, match := 0, true
		for j, t := range o.template {
			if strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}") {
				if segs[j] == "" {
					match = false
					break
				}
				continue
			}
			if t != segs[j] {
				match = false
				break
			}
			literals++
		}
		if match && literals > bestLiterals {
			best, bestLiterals = o, literals
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, ErrNoRoute)
	}
	return best, nil
}

// schemaAt compiles the application/json schema of the request body or
// response object at pointer, following a $ref to components. It returns
// nil when the object has no JSON content.
func (v *Validator) schemaAt(pointer string) (*jsonschema.Schema, error) {
	node, err := v.resolve(pointer)
	if err != nil {
		return nil, err
	}
	if r, ok := node["$ref"].(string); ok {
		pointer = r
		if node, err = v.resolve(r); err != nil {
			return nil, err
		}
	}
	content, _ := node["content"].(map[string]any)
	if _, ok := content["application/json"].(map[string]any); !ok {
		return nil, nil
	}
	return v.compiler.Compile(docURL + pointer + "/content/application~1json/schema")
}

// resolve returns the object at a "#/..." JSON pointer of the document.
func (v *Validator) resolve(pointer string) (map[string]any, error) {
	if !strings.HasPrefix(pointer, "#/") {
		return nil, fmt.Errorf("unsupported reference %q", pointer)
	}
	var cur any = v.raw
	for _, tok := range strings.Split(pointer[2:], "/") {
		if u, err := url.PathUnescape(tok); err == nil {
			tok = u
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("reference %q: not an object at %q", pointer, tok)
		}
		if cur, ok = m[tok]; !ok {
			return nil, fmt.Errorf("reference %q: no %q", pointer, tok)
		}
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("reference %q: not an object", pointer)
	}
	return m, nil
}

func split(path string) []string {
	return strings.Split(strings.Trim(path, "/"), "/")
}

// escape escapes a JSON pointer token; "{" and "}" are percent-encoded so
// the pointer is a valid URL fragment.
func escape(tok string) string {
	tok = strings.ReplaceAll(tok, "~", "~0")
	tok = strings.ReplaceAll(tok, "/", "~1")
	return url.PathEscape(tok)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
