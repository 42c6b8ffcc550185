// Package esfake is a stand-in for the part of the Elasticsearch 7 REST API
// that records.Elastic uses: POST/GET /<index>/_search with match_all, ids,
// term and bool queries, size and from, the ES 7 response envelope and
// error shapes. It emulates the default dynamic mapping (strings are text
// with a keyword subfield, integers long, fractions float, booleans
// boolean) and the standard analyzer's lowercased tokens, so a term query
// behaves as on a real cluster. Anything it does not understand is refused
// with a 400 the way Elasticsearch refuses it, so the source's query shapes
// are checked.
//
// It is written from the public Elasticsearch reference because no real
// Elasticsearch or OpenSearch can run in the test environment; it serves the
// Go tests of pkg/records and, through test/e2e/tools/esfake, the daemon's
// end-to-end tests.
package esfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
)

// Server serves the stand-in API. The zero value is not usable; call New.
type Server struct {
	searches atomic.Int64

	mu      sync.Mutex
	user    string
	pass    string
	indices map[string]*fakeIndex
}

type fakeIndex struct {
	docs    []fakeDoc
	mapping map[string]string // field -> text, long, float, boolean, object
}

type fakeDoc struct {
	id     string
	source map[string]any
	raw    json.RawMessage
}

// esError is an error response of Elasticsearch.
type esError struct {
	status int
	body   map[string]any
}

// New returns a server with no indices and no authentication.
func New() *Server {
	return &Server{indices: map[string]*fakeIndex{}}
}

// RequireBasicAuth makes every request need these HTTP basic credentials,
// refused with a 401 security_exception otherwise.
func (s *Server) RequireBasicAuth(user, pass string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.user, s.pass = user, pass
}

// Searches is the number of well-formed _search requests received.
func (s *Server) Searches() int64 { return s.searches.Load() }

// Index stores docs in the index name (created on first use), each with
// _id = its "_id" key if it has one (removed from the source), else its
// "id" field, and extends the dynamic mapping from the first non-null value
// of each field. Names are used as given: Elasticsearch requires lowercase.
func (s *Server) Index(name string, docs []map[string]any) error {
	if name == "" || strings.ToLower(name) != name || strings.ContainsAny(name, "/*?\\\" <>|,#") {
		return fmt.Errorf("esfake: invalid index name %q: must be lowercase without special characters", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ix, ok := s.indices[name]
	if !ok {
		ix = &fakeIndex{mapping: map[string]string{}}
		s.indices[name] = ix
	}
	for i, d := range docs {
		id := fmt.Sprint(d["id"])
		if explicit, ok := d["_id"].(string); ok {
			id = explicit
			d = maps.Clone(d)
			delete(d, "_id")
		} else if d["id"] == nil {
			return fmt.Errorf("esfake: index %s: document %d has neither _id nor id", name, i)
		}
		raw, err := json.Marshal(d)
		if err != nil {
			return fmt.Errorf("esfake: index %s: document %d: %w", name, i, err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var src map[string]any
		if err := dec.Decode(&src); err != nil {
			return fmt.Errorf("esfake: index %s: document %d: %w", name, i, err)
		}
		for field, v := range src {
			if _, ok := ix.mapping[field]; !ok && v != nil {
				ix.mapping[field] = dynamicType(v)
			}
		}
		ix.docs = append(ix.docs, fakeDoc{id: id, source: src, raw: raw})
	}
	return nil
}

func dynamicType(v any) string {
	switch x := v.(type) {
	case string:
		return "text"
	case bool:
		return "boolean"
	case json.Number:
		if _, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return "long"
		}
		return "float"
	default:
		return "object"
	}
}

// ServeHTTP answers one request as Elasticsearch 7 would.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := s.handle(r, w); err != nil {
		writeJSON(w, err.status, err.body)
	}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// errorBody builds the ES 7 error envelope {"error": {root_cause, type,
// reason, ...}, "status": N}.
func errorBody(status int, typ, reason string, extra map[string]any) *esError {
	cause := map[string]any{"type": typ, "reason": reason}
	maps.Copy(cause, extra)
	top := maps.Clone(cause)
	top["root_cause"] = []any{cause}
	return &esError{status: status, body: map[string]any{"error": top, "status": status}}
}

func parsingError(format string, args ...any) *esError {
	return errorBody(http.StatusBadRequest, "parsing_exception", fmt.Sprintf(format, args...), map[string]any{"line": 1, "col": 1})
}

// shardError is how a search fails when a query cannot be created for a
// field: all shards fail with query_shard_exception.
func shardError(index, reason, causeType string) *esError {
	rc := map[string]any{"type": "query_shard_exception", "reason": "failed to create query: " + reason, "index_uuid": "fake", "index": index}
	shard := maps.Clone(rc)
	shard["caused_by"] = map[string]any{"type": causeType, "reason": reason}
	return &esError{status: http.StatusBadRequest, body: map[string]any{
		"error": map[string]any{
			"root_cause": []any{rc},
			"type":       "search_phase_execution_exception",
			"reason":     "all shards failed",
			"phase":      "query",
			"grouped":    true,
			"failed_shards": []any{map[string]any{
				"shard": 0, "index": index, "node": "fake", "reason": shard,
			}},
		},
		"status": http.StatusBadRequest,
	}}
}

func (s *Server) handle(r *http.Request, w http.ResponseWriter) *esError {
	s.mu.Lock()
	user, pass := s.user, s.pass
	s.mu.Unlock()
	if user != "" {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != pass {
			w.Header().Set("WWW-Authenticate", `Basic realm="security" charset="UTF-8"`)
			return errorBody(http.StatusUnauthorized, "security_exception",
				"missing authentication credentials for REST request ["+r.URL.Path+"]", nil)
		}
	}
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if len(parts) != 2 || parts[1] != "_search" || (r.Method != http.MethodGet && r.Method != http.MethodPost) {
		return &esError{status: http.StatusBadRequest, body: map[string]any{
			"error":  fmt.Sprintf("no handler found for uri [%s] and method [%s]", r.URL.Path, r.Method),
			"status": http.StatusBadRequest,
		}}
	}
	for p := range r.URL.Query() {
		return errorBody(http.StatusBadRequest, "illegal_argument_exception",
			fmt.Sprintf("request [%s] contains unrecognized parameter: [%s]", r.URL.Path, p), nil)
	}
	if ct := r.Header.Get("Content-Type"); r.ContentLength != 0 && !strings.HasPrefix(ct, "application/json") {
		return &esError{status: http.StatusNotAcceptable, body: map[string]any{
			"error": "Content-Type header [" + ct + "] is not supported", "status": http.StatusNotAcceptable,
		}}
	}
	s.searches.Add(1)
	name := parts[0]

	var body map[string]any
	dec := json.NewDecoder(r.Body)
	dec.UseNumber()
	if err := dec.Decode(&body); err != nil {
		return parsingError("request body is not a JSON object: %v", err)
	}
	size, from := 10, 0
	var query any = map[string]any{"match_all": map[string]any{}}
	for k, v := range body {
		switch k {
		case "query":
			query = v
		case "size", "from":
			n, ok := v.(json.Number)
			i, err := strconv.Atoi(string(n))
			if !ok || err != nil || i < 0 {
				return parsingError("[%s] must be a non-negative integer", k)
			}
			if k == "size" {
				size = i
			} else {
				from = i
			}
		default:
			return parsingError("Unknown key for a %s in [%s].", startToken(v), k)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ix, ok := s.indices[name]
	if !ok {
		return errorBody(http.StatusNotFound, "index_not_found_exception", "no such index ["+name+"]", map[string]any{
			"resource.type": "index_or_alias", "resource.id": name, "index_uuid": "_na_", "index": name,
		})
	}
	pred, esErr := ix.compile(name, query)
	if esErr != nil {
		return esErr
	}
	var hits []any
	for _, d := range ix.docs {
		if pred(d) {
			hits = append(hits, map[string]any{
				"_index": name, "_type": "_doc", "_id": d.id, "_score": 0.0, "_source": d.raw,
			})
		}
	}
	total := len(hits)
	hits = hits[min(from, len(hits)):min(from+size, len(hits))]
	if hits == nil {
		hits = []any{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"took": 1, "timed_out": false,
		"_shards": map[string]any{"total": 1, "successful": 1, "skipped": 0, "failed": 0},
		"hits": map[string]any{
			"total":     map[string]any{"value": total, "relation": "eq"},
			"max_score": 0.0,
			"hits":      hits,
		},
	})
	return nil
}

func startToken(v any) string {
	switch v.(type) {
	case map[string]any:
		return "START_OBJECT"
	case []any:
		return "START_ARRAY"
	default:
		return "VALUE_STRING"
	}
}

type predicate func(fakeDoc) bool

// compile turns a query DSL object into a predicate, refusing what ES would
// refuse.
func (ix *fakeIndex) compile(index string, q any) (predicate, *esError) {
	obj, ok := q.(map[string]any)
	if !ok || len(obj) != 1 {
		return nil, parsingError("query malformed, must start with start_object and hold exactly one query")
	}
	for typ, body := range obj {
		args, ok := body.(map[string]any)
		if !ok {
			return nil, parsingError("[%s] query malformed, no start_object after query name", typ)
		}
		switch typ {
		case "match_all":
			if err := onlyKeys(typ, args, "boost"); err != nil {
				return nil, err
			}
			return func(fakeDoc) bool { return true }, nil
		case "ids":
			if err := onlyKeys(typ, args, "values", "boost"); err != nil {
				return nil, err
			}
			vals, ok := args["values"].([]any)
			if !ok {
				return nil, parsingError("[ids] requires [values] to be an array")
			}
			ids := map[string]bool{}
			for _, v := range vals {
				s, ok := v.(string)
				if !ok {
					return nil, parsingError("[ids] values must be strings")
				}
				ids[s] = true
			}
			return func(d fakeDoc) bool { return ids[d.id] }, nil
		case "term":
			return ix.compileTerm(index, args)
		case "bool":
			return ix.compileBool(index, args)
		default:
			return nil, errorBody(http.StatusBadRequest, "parsing_exception", "unknown query ["+typ+"]", map[string]any{
				"line": 1, "col": 1, "caused_by": map[string]any{"type": "named_object_not_found_exception"},
			})
		}
	}
	panic("unreachable")
}

func onlyKeys(typ string, args map[string]any, allowed ...string) *esError {
	for k := range args {
		if !slices.Contains(allowed, k) {
			return parsingError("[%s] query does not support [%s]", typ, k)
		}
	}
	return nil
}

func (ix *fakeIndex) compileTerm(index string, args map[string]any) (predicate, *esError) {
	if len(args) != 1 {
		return nil, parsingError("[term] query doesn't support multiple fields, found %v", slices.Sorted(maps.Keys(args)))
	}
	for field, v := range args {
		if inner, ok := v.(map[string]any); ok {
			if err := onlyKeys("term", inner, "value", "boost", "case_insensitive"); err != nil {
				return nil, err
			}
			v, ok = inner["value"]
			if !ok {
				return nil, parsingError("[term] query requires a value")
			}
		}
		var value string
		switch x := v.(type) {
		case string:
			value = x
		case json.Number:
			value = x.String()
		case bool:
			value = strconv.FormatBool(x)
		default:
			return nil, parsingError("[term] query does not support array or object values")
		}
		return ix.termOn(index, field, value)
	}
	panic("unreachable")
}

// termOn matches one field as the dynamic mapping would index it.
func (ix *fakeIndex) termOn(index, field, value string) (predicate, *esError) {
	if field == "_id" {
		return func(d fakeDoc) bool { return d.id == value }, nil
	}
	if base, ok := strings.CutSuffix(field, ".keyword"); ok && ix.mapping[base] == "text" {
		return func(d fakeDoc) bool { s, ok := d.source[base].(string); return ok && s == value }, nil
	}
	switch ix.mapping[field] {
	case "text":
		return func(d fakeDoc) bool {
			s, ok := d.source[field].(string)
			return ok && slices.Contains(tokens(s), value)
		}, nil
	case "long", "float":
		want, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, shardError(index, fmt.Sprintf("For input string: \"%s\"", value), "number_format_exception")
		}
		return func(d fakeDoc) bool {
			n, ok := d.source[field].(json.Number)
			got, err := n.Float64()
			return ok && err == nil && got == want
		}, nil
	case "boolean":
		if value != "true" && value != "false" {
			return nil, shardError(index, fmt.Sprintf("Can't parse boolean value [%s], expected [true] or [false]", value), "illegal_argument_exception")
		}
		return func(d fakeDoc) bool { b, ok := d.source[field].(bool); return ok && strconv.FormatBool(b) == value }, nil
	default: // unmapped or object fields hold no terms
		return func(fakeDoc) bool { return false }, nil
	}
}

// tokens is the standard analyzer, roughly: split on anything but letters
// and digits, lowercase.
func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

func (ix *fakeIndex) compileBool(index string, args map[string]any) (predicate, *esError) {
	clauses := map[string][]predicate{}
	msm := -1
	for k, v := range args {
		switch k {
		case "filter", "must", "should", "must_not":
			list, ok := v.([]any)
			if !ok {
				list = []any{v}
			}
			for _, q := range list {
				p, err := ix.compile(index, q)
				if err != nil {
					return nil, err
				}
				clauses[k] = append(clauses[k], p)
			}
		case "minimum_should_match":
			var s string
			switch x := v.(type) {
			case string:
				s = x
			case json.Number:
				s = x.String()
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, parsingError("[bool] minimum_should_match [%v] is not supported here", v)
			}
			msm = n
		case "boost":
		default:
			return nil, parsingError("[bool] query does not support [%s]", k)
		}
	}
	if msm < 0 {
		msm = 0
		if len(clauses["filter"]) == 0 && len(clauses["must"]) == 0 && len(clauses["should"]) > 0 {
			msm = 1
		}
	}
	return func(d fakeDoc) bool {
		for _, p := range append(clauses["filter"], clauses["must"]...) {
			if !p(d) {
				return false
			}
		}
		for _, p := range clauses["must_not"] {
			if p(d) {
				return false
			}
		}
		n := 0
		for _, p := range clauses["should"] {
			if p(d) {
				n++
			}
		}
		return n >= msm
	}, nil
}
