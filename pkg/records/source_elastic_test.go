package records_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/records/recordtest"
)

// loadFixtures indexes fixtures into the fake, each object into index(object).
func loadFixtures(t *testing.T, f *fakeES, index func(string) string, fixtures map[string][]records.Record) {
	t.Helper()
	for object, recs := range fixtures {
		docs := make([]map[string]any, len(recs))
		for i, r := range recs {
			docs[i] = r
		}
		f.index(t, index(object), docs)
	}
}

func TestElasticConformance(t *testing.T) {
	recordtest.Run(t, func(t *testing.T, fixtures map[string][]records.Record) records.Source {
		f := newFakeES(t)
		loadFixtures(t, f, strings.ToLower, fixtures)
		src, err := records.NewElastic(records.ElasticOptions{URLs: []string{f.srv.URL}})
		require.NoError(t, err)
		t.Cleanup(src.Close)
		return src
	})
}

func TestElasticPatternAndAuth(t *testing.T) {
	recordtest.Run(t, func(t *testing.T, fixtures map[string][]records.Record) records.Source {
		f := newFakeES(t)
		f.RequireBasicAuth("hubd", "s3cret")
		loadFixtures(t, f, func(o string) string { return "mb_" + strings.ToLower(o) }, fixtures)
		src, err := records.NewElastic(records.ElasticOptions{
			URLs:         []string{f.srv.URL},
			Username:     "hubd",
			Password:     "s3cret",
			IndexPattern: "MB_%s",
			HTTPClient:   &http.Client{},
		})
		require.NoError(t, err)
		t.Cleanup(src.Close)
		return src
	})
}

func TestElasticIndices(t *testing.T) {
	f := newFakeES(t)
	f.index(t, "chat_rooms", []map[string]any{{"id": "r1", "title": "mapped"}})
	f.index(t, "chatmember", []map[string]any{{"id": "m1", "userId": "u1"}})
	f.index(t, "nodocid", []map[string]any{{"_id": "d1", "title": "no id field"}})
	src, err := records.NewElastic(records.ElasticOptions{
		URLs:    []string{f.srv.URL},
		Indices: map[string]string{"chatRoom": "Chat_Rooms"},
	})
	require.NoError(t, err)
	require.Equal(t, "chat_rooms", src.IndexName("chatRoom"))
	require.Equal(t, "chatmember", src.IndexName("chatMember"))
	ctx := context.Background()

	rec, err := src.Get(ctx, "chatRoom", "r1")
	require.NoError(t, err)
	require.Equal(t, "mapped", rec["title"])
	rec, err = src.FindOne(ctx, "chatMember", map[string]string{"userId": "u1"})
	require.NoError(t, err)
	require.Equal(t, "m1", rec["id"])

	// A document without an id field is known by its _id.
	rec, err = src.Get(ctx, "noDocID", "d1")
	require.NoError(t, err)
	require.Equal(t, "no id field", rec["title"])
	require.Equal(t, "d1", rec["id"])

	_, err = src.Get(ctx, "room", "r1")
	require.ErrorIs(t, err, records.ErrUnknownObject)
	require.NotErrorIs(t, err, records.ErrUnavailable)

	for _, bad := range []records.ElasticOptions{
		{},
		{URLs: []string{f.srv.URL}, IndexPattern: "x"},
		{URLs: []string{f.srv.URL}, IndexPattern: "%s_%d"},
	} {
		_, err := records.NewElastic(bad)
		require.Error(t, err, "%+v", bad)
	}
}

func TestElasticMaxHits(t *testing.T) {
	// More candidates than MaxHits: the smallest id among those read wins,
	// and the search asks for exactly MaxHits.
	f := newFakeES(t)
	f.index(t, "member", []map[string]any{
		{"id": "m3", "roomId": "r1"}, {"id": "m2", "roomId": "r1"}, {"id": "m1", "roomId": "r1"},
	})
	src, err := records.NewElastic(records.ElasticOptions{URLs: []string{f.srv.URL}, MaxHits: 2})
	require.NoError(t, err)
	rec, err := src.FindOne(context.Background(), "member", map[string]string{"roomId": "r1"})
	require.NoError(t, err)
	require.Equal(t, "m2", rec["id"])
}

func TestElasticUnavailable(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		fail func(w http.ResponseWriter, r *http.Request) bool
	}{
		{name: "server error", fail: func(w http.ResponseWriter, r *http.Request) bool {
			writeJSON(w, http.StatusServiceUnavailable, errorBody(503, "cluster_block_exception", "blocked"))
			return true
		}},
		{name: "bad request other than a value mismatch", fail: func(w http.ResponseWriter, r *http.Request) bool {
			writeJSON(w, http.StatusBadRequest, errorBody(400, "parsing_exception", "unknown query [term]"))
			return true
		}},
		{name: "unauthorized", fail: func(w http.ResponseWriter, r *http.Request) bool {
			writeJSON(w, http.StatusUnauthorized, errorBody(401, "security_exception", "unable to authenticate"))
			return true
		}},
		{name: "not JSON", fail: func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html>bad gateway</html>")
			return true
		}},
		{name: "hangs past the query timeout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeES(t)
			f.index(t, "room", []map[string]any{{"id": "r1"}})
			f.fail = tc.fail
			if f.fail == nil {
				f.fail = func(w http.ResponseWriter, r *http.Request) bool {
					select {
					case <-r.Context().Done():
					case <-f.closing:
					}
					return true
				}
			}
			src, err := records.NewElastic(records.ElasticOptions{URLs: []string{f.srv.URL}, QueryTimeout: 300 * time.Millisecond})
			require.NoError(t, err)
			start := time.Now()
			_, err = src.Get(ctx, "room", "r1")
			require.ErrorIs(t, err, records.ErrUnavailable)
			require.NotErrorIs(t, err, records.ErrNotFound)
			_, err = src.FindOne(ctx, "room", map[string]string{"id": "r1"})
			require.ErrorIs(t, err, records.ErrUnavailable)
			require.Less(t, time.Since(start), 3*time.Second)
		})
	}

	t.Run("nothing listens", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		url := "http://" + ln.Addr().String()
		require.NoError(t, ln.Close())
		src, err := records.NewElastic(records.ElasticOptions{URLs: []string{url}})
		require.NoError(t, err, "the client does not contact the cluster when created")
		for range 3 { // the node is never marked dead for good
			_, err = src.Get(ctx, "room", "r1")
			require.ErrorIs(t, err, records.ErrUnavailable)
		}
	})

	t.Run("wrong credentials", func(t *testing.T) {
		f := newFakeES(t)
		f.RequireBasicAuth("hubd", "right")
		f.index(t, "room", []map[string]any{{"id": "r1"}})
		src, err := records.NewElastic(records.ElasticOptions{URLs: []string{f.srv.URL}, Username: "hubd", Password: "wrong"})
		require.NoError(t, err)
		_, err = src.Get(ctx, "room", "r1")
		require.ErrorIs(t, err, records.ErrUnavailable)
	})
}

// TestFakeElasticStrict checks that the stand-in refuses what Elasticsearch
// refuses, so passing against it means the source's requests are valid.
func TestFakeElasticStrict(t *testing.T) {
	f := newFakeES(t)
	f.index(t, "room", []map[string]any{{"id": "r1", "capacity": 3, "open": true}})
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantType                 string
	}{
		{name: "valid term", path: "/room/_search", body: `{"query":{"term":{"id.keyword":"r1"}},"size":1}`, wantStatus: 200},
		{name: "unknown query", path: "/room/_search", body: `{"query":{"match":{"id":"r1"}}}`, wantStatus: 400, wantType: "parsing_exception"},
		{name: "unknown top-level key", path: "/room/_search", body: `{"query":{"match_all":{}},"sort":["id"]}`, wantStatus: 400, wantType: "parsing_exception"},
		{name: "term with two fields", path: "/room/_search", body: `{"query":{"term":{"a":"1","b":"2"}}}`, wantStatus: 400, wantType: "parsing_exception"},
		{name: "bool unknown clause", path: "/room/_search", body: `{"query":{"bool":{"and":[]}}}`, wantStatus: 400, wantType: "parsing_exception"},
		{name: "text on a long field", path: "/room/_search", body: `{"query":{"term":{"capacity":"many"}}}`, wantStatus: 400, wantType: "search_phase_execution_exception"},
		{name: "missing index", path: "/nosuch/_search", body: `{}`, wantStatus: 404, wantType: "index_not_found_exception"},
		{name: "GET _doc is not served", method: http.MethodGet, path: "/room/_doc/r1", wantStatus: 400},
		{name: "unknown parameter", path: "/room/_search?foo=1", body: `{}`, wantStatus: 400, wantType: "illegal_argument_exception"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = http.MethodPost
			}
			req, err := http.NewRequest(method, f.srv.URL+tc.path, strings.NewReader(tc.body))
			require.NoError(t, err)
			if tc.body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			require.NoError(t, err)
			require.Equal(t, tc.wantStatus, res.StatusCode, string(body))
			if tc.wantType != "" {
				require.Contains(t, string(body), `"type":"`+tc.wantType+`"`)
			}
		})
	}
}
