// Package recordtest is the conformance suite every records.Source passes.
// The embedded source runs it in its unit tests; database-backed sources run it
// against real servers.
package recordtest

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/records"
)

// Open builds a source holding exactly fixtures (object name -> records). The
// fixture order is deliberately not id order.
type Open func(t *testing.T, fixtures map[string][]records.Record) records.Source

// Fixtures returns the data set Run loads. Implementations may use it to
// prepare schemas.
func Fixtures() map[string][]records.Record {
	return map[string][]records.Record{
		"room": {
			{"id": "r2", "title": "Second", "status": "open", "capacity": 10, "ratio": 2.5, "chatEnabled": true, "ownerId": "u2"},
			{"id": "r1", "title": "First", "status": "open", "capacity": 3.0, "ratio": 0.5, "chatEnabled": false, "ownerId": "u1", "code": "007"},
			{"id": "r3", "title": "Third", "status": "closed", "capacity": 10, "ratio": 2.5, "chatEnabled": true, "ownerId": "u1", "note": nil},
		},
		"member": {
			{"id": "m3", "userId": "u1", "roomId": "r1", "role": "guest"},
			{"id": "m2", "userId": "u2", "roomId": "r1", "role": "host"},
			{"id": "m1", "userId": "u1", "roomId": "r1", "role": "owner"},
			{"id": "m4", "userId": "u1", "roomId": "r2", "role": "guest"},
		},
		"ticket": {
			{"id": 12, "userId": "u1", "eventId": 500, "active": true},
			{"id": 7, "userId": "u2", "eventId": 500, "active": false},
		},
	}
}

// Run checks src against the Source contract.
func Run(t *testing.T, open Open) {
	t.Helper()
	src := open(t, Fixtures())
	ctx := context.Background()

	t.Run("Get", func(t *testing.T) {
		tests := []struct {
			name, object, id string
			wantTitle        string
			wantErr          error
		}{
			{name: "found", object: "room", id: "r1", wantTitle: "First"},
			{name: "found other", object: "room", id: "r3", wantTitle: "Third"},
			{name: "numeric id", object: "ticket", id: "7"},
			{name: "not found", object: "room", id: "r9", wantErr: records.ErrNotFound},
			{name: "id is case sensitive", object: "room", id: "R1", wantErr: records.ErrNotFound},
			{name: "unknown object", object: "nosuch", id: "r1", wantErr: records.ErrNotFound},
			{name: "empty id", object: "room", id: "", wantErr: records.ErrNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				rec, err := src.Get(ctx, tc.object, tc.id)
				if tc.wantErr != nil {
					require.ErrorIs(t, err, tc.wantErr)
					require.Nil(t, rec)
					return
				}
				require.NoError(t, err)
				requireField(t, rec, "id", tc.id)
				if tc.wantTitle != "" {
					requireField(t, rec, "title", tc.wantTitle)
				}
			})
		}
	})

	t.Run("Get field types", func(t *testing.T) {
		rec, err := src.Get(ctx, "room", "r2")
		require.NoError(t, err)
		requireField(t, rec, "capacity", "10")
		requireField(t, rec, "ratio", "2.5")
		requireField(t, rec, "chatEnabled", "true")
		require.Equal(t, true, rec["chatEnabled"])
		require.Equal(t, "open", rec["status"])
	})

	t.Run("FindOne", func(t *testing.T) {
		tests := []struct {
			name    string
			object  string
			match   map[string]string
			wantID  string
			wantErr error
		}{
			{name: "one string field", object: "room", match: map[string]string{"title": "Third"}, wantID: "r3"},
			{name: "two fields", object: "member", match: map[string]string{"userId": "u2", "roomId": "r1"}, wantID: "m2"},
			{name: "two fields, second narrows", object: "member", match: map[string]string{"userId": "u1", "roomId": "r2"}, wantID: "m4"},
			{name: "several match: smallest id", object: "member", match: map[string]string{"userId": "u1", "roomId": "r1"}, wantID: "m1"},
			{name: "several match on one field", object: "room", match: map[string]string{"status": "open"}, wantID: "r1"},
			{name: "integer field", object: "room", match: map[string]string{"capacity": "10", "status": "closed"}, wantID: "r3"},
			{name: "float with integral value", object: "room", match: map[string]string{"capacity": "3"}, wantID: "r1"},
			{name: "float field", object: "room", match: map[string]string{"ratio": "0.5"}, wantID: "r1"},
			{name: "bool true", object: "room", match: map[string]string{"chatEnabled": "true", "ownerId": "u1"}, wantID: "r3"},
			{name: "bool false", object: "room", match: map[string]string{"chatEnabled": "false"}, wantID: "r1"},
			{name: "bool with numeric id records", object: "ticket", match: map[string]string{"active": "false"}, wantID: "7"},
			{name: "numeric field across records", object: "ticket", match: map[string]string{"eventId": "500", "userId": "u1"}, wantID: "12"},
			{name: "match on id", object: "member", match: map[string]string{"id": "m4"}, wantID: "m4"},
			{name: "string keeps leading zeros", object: "room", match: map[string]string{"code": "007"}, wantID: "r1"},
			{name: "empty match: smallest id", object: "member", match: map[string]string{}, wantID: "m1"},
			{name: "no match", object: "member", match: map[string]string{"userId": "u9"}, wantErr: records.ErrNotFound},
			{name: "fields match separately only", object: "member", match: map[string]string{"userId": "u2", "roomId": "r2"}, wantErr: records.ErrNotFound},
			{name: "number is not padded", object: "room", match: map[string]string{"capacity": "10.0"}, wantErr: records.ErrNotFound},
			{name: "leading zeros are not a number", object: "room", match: map[string]string{"code": "7"}, wantErr: records.ErrNotFound},
			{name: "bool is lower case", object: "room", match: map[string]string{"chatEnabled": "True"}, wantErr: records.ErrNotFound},
			{name: "null matches nothing", object: "room", match: map[string]string{"note": ""}, wantErr: records.ErrNotFound},
			{name: "null is not the string null", object: "room", match: map[string]string{"note": "null"}, wantErr: records.ErrNotFound},
			{name: "absent field", object: "room", match: map[string]string{"missing": ""}, wantErr: records.ErrNotFound},
			{name: "unknown object", object: "nosuch", match: map[string]string{"id": "r1"}, wantErr: records.ErrNotFound},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				rec, err := src.FindOne(ctx, tc.object, tc.match)
				if tc.wantErr != nil {
					require.ErrorIs(t, err, tc.wantErr)
					require.Nil(t, rec)
					return
				}
				require.NoError(t, err)
				requireField(t, rec, "id", tc.wantID)
				for field, want := range tc.match {
					requireField(t, rec, field, want)
				}
			})
		}
	})

	t.Run("FindOne is deterministic", func(t *testing.T) {
		for range 20 {
			rec, err := src.FindOne(ctx, "member", map[string]string{"userId": "u1"})
			require.NoError(t, err)
			requireField(t, rec, "id", "m1")
		}
	})

	t.Run("results belong to the caller", func(t *testing.T) {
		rec, err := src.Get(ctx, "room", "r1")
		require.NoError(t, err)
		rec["title"] = "changed"
		delete(rec, "status")
		again, err := src.Get(ctx, "room", "r1")
		require.NoError(t, err)
		requireField(t, again, "title", "First")
		requireField(t, again, "status", "open")

		rec, err = src.FindOne(ctx, "room", map[string]string{"title": "First"})
		require.NoError(t, err)
		rec["title"] = "changed"
		_, err = src.FindOne(ctx, "room", map[string]string{"title": "First"})
		require.NoError(t, err)
	})

	t.Run("canceled context", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := src.Get(cctx, "room", "r1")
		require.Error(t, err)
		require.NotErrorIs(t, err, records.ErrNotFound)
		_, err = src.FindOne(cctx, "room", map[string]string{"title": "First"})
		require.Error(t, err)
		require.NotErrorIs(t, err, records.ErrNotFound)
	})

	t.Run("concurrent lookups", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Go(func() {
				for i := range 50 {
					field := []string{"userId", "roomId", "role"}[(g+i)%3]
					value := map[string]string{"userId": "u2", "roomId": "r2", "role": "owner"}[field]
					want := map[string]string{"userId": "m2", "roomId": "m4", "role": "m1"}[field]
					rec, err := src.FindOne(ctx, "member", map[string]string{field: value})
					if err != nil {
						errs <- err
						return
					}
					if got, _ := records.ValueString(rec["id"]); got != want {
						errs <- fmt.Errorf("find %s=%s: got id %s, want %s", field, value, got, want)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
	})
}

// requireField checks a field's comparison string, so backends may differ in
// the Go type they decode numbers to.
func requireField(t *testing.T, rec records.Record, field, want string) {
	t.Helper()
	got, ok := records.ValueString(rec[field])
	require.True(t, ok, "field %q of %v is not a scalar", field, rec)
	require.Equal(t, want, got, "field %q of %v", field, rec)
}
