package esfake_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/records/esfake"
)

func TestIndex(t *testing.T) {
	tests := []struct {
		name, index string
		docs        []map[string]any
		wantErr     string
	}{
		{name: "ok", index: "chatroom", docs: []map[string]any{{"id": "r1"}, {"_id": "r2", "title": "x"}}},
		{name: "uppercase name", index: "chatRoom", docs: []map[string]any{{"id": "r1"}}, wantErr: "lowercase"},
		{name: "empty name", index: "", wantErr: "invalid index name"},
		{name: "document without id", index: "room", docs: []map[string]any{{"title": "x"}}, wantErr: "neither _id nor id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := esfake.New().Index(tc.index, tc.docs)
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
		})
	}
}

func TestSearchCountsAndAuth(t *testing.T) {
	s := esfake.New()
	require.NoError(t, s.Index("room", []map[string]any{{"id": "r1"}}))
	s.RequireBasicAuth("u", "p")
	search := func(user string) int {
		req := httptest.NewRequest(http.MethodPost, "/room/_search", strings.NewReader(`{"query":{"ids":{"values":["r1"]}}}`))
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.SetBasicAuth(user, "p")
		}
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code
	}
	require.Equal(t, http.StatusUnauthorized, search(""))
	require.Equal(t, http.StatusUnauthorized, search("other"))
	require.Equal(t, int64(0), s.Searches())
	require.Equal(t, http.StatusOK, search("u"))
	require.Equal(t, int64(1), s.Searches())
}
