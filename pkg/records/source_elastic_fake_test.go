package records_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/records/esfake"
)

// fakeES serves the esfake stand-in on a test server, with an optional
// override of the responses for failure tests.
type fakeES struct {
	*esfake.Server
	srv     *httptest.Server
	closing chan struct{} // closed when the test ends; releases hanging handlers
	fail    func(w http.ResponseWriter, r *http.Request) bool
}

func newFakeES(t *testing.T) *fakeES {
	t.Helper()
	f := &fakeES{Server: esfake.New(), closing: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.fail != nil && f.fail(w, r) {
			return
		}
		f.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.closing) }) // runs first
	return f
}

// index stores docs in the index name.
func (f *fakeES) index(t *testing.T, name string, docs []map[string]any) {
	t.Helper()
	require.NoError(t, f.Index(name, docs))
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// errorBody is the ES 7 error envelope {"error": {root_cause, type, reason},
// "status": N}.
func errorBody(status int, typ, reason string) map[string]any {
	cause := map[string]any{"type": typ, "reason": reason}
	top := maps.Clone(cause)
	top["root_cause"] = []any{cause}
	return map[string]any{"error": top, "status": status}
}
