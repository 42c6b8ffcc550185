package records_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/records/recordtest"
)

func writeFixtures(t testing.TB, dir string, fixtures map[string][]records.Record) {
	t.Helper()
	for object, recs := range fixtures {
		data, err := json.Marshal(recs)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, object+".json"), data, 0o600))
	}
}

func TestEmbeddedConformance(t *testing.T) {
	recordtest.Run(t, func(t *testing.T, fixtures map[string][]records.Record) records.Source {
		dir := t.TempDir()
		writeFixtures(t, dir, fixtures)
		e, err := records.NewEmbedded(dir)
		require.NoError(t, err)
		return e
	})
}

func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600))
}

func TestNewEmbeddedErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		wantMsg []string
	}{
		{"bad JSON", map[string]string{"room.json": `[{"id": "r1"},`}, []string{"room.json", "unexpected EOF"}},
		{"not an array", map[string]string{"room.json": `{"id": "r1"}`}, []string{"room.json", "cannot unmarshal"}},
		{"element not an object", map[string]string{"room.json": `[{"id": "r1"}, 5]`}, []string{"room.json", "cannot unmarshal"}},
		{"null element", map[string]string{"room.json": `[{"id": "r1"}, null]`}, []string{"room.json", "[1]: not an object"}},
		{"missing id", map[string]string{"room.json": `[{"id": "r1"}, {"title": "x"}]`}, []string{"room.json", "[1]: missing id"}},
		{"empty id", map[string]string{"room.json": `[{"id": ""}]`}, []string{"room.json", "[0]: missing id"}},
		{"object id", map[string]string{"room.json": `[{"id": {"a": 1}}]`}, []string{"room.json", "[0]: missing id"}},
		{"duplicate id", map[string]string{"room.json": `[{"id": "r1"}, {"id": "r2"}, {"id": "r1"}]`}, []string{"room.json", `[2]: duplicate id "r1" (first at [0])`}},
		{"duplicate numeric id", map[string]string{"t.json": `[{"id": 7}, {"id": "7"}]`}, []string{"t.json", `[1]: duplicate id "7"`}},
		{"trailing data", map[string]string{"room.json": `[] []`}, []string{"room.json", "after the top-level array"}},
		{"errors of every file", map[string]string{"a.json": `[{}]`, "b.json": `nope`}, []string{"a.json", "b.json"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, content := range tc.files {
				writeFile(t, dir, name, content)
			}
			e, err := records.NewEmbedded(dir)
			require.Error(t, err)
			require.Nil(t, e)
			for _, msg := range tc.wantMsg {
				require.Contains(t, err.Error(), msg)
			}
		})
	}

	_, err := records.NewEmbedded(filepath.Join(t.TempDir(), "missing"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestEmbeddedEmptyAndLayout(t *testing.T) {
	e, err := records.NewEmbedded("")
	require.NoError(t, err)
	require.Empty(t, e.Objects())
	_, err = e.Get(context.Background(), "room", "r1")
	require.ErrorIs(t, err, records.ErrNotFound)
	require.ErrorIs(t, err, records.ErrUnknownObject)
	require.NoError(t, e.Reload())

	dir := t.TempDir()
	writeFile(t, dir, "room.json", `[{"id": "r1", "big": 9007199254740993, "n": 1e3, "nested": {"x": 1}}]`)
	writeFile(t, dir, "member.json", `[]`)
	writeFile(t, dir, "README.md", `not records`)
	writeFile(t, dir, ".hidden.json", `broken`)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sub.json"), 0o700))
	e, err = records.NewEmbedded(dir)
	require.NoError(t, err)
	require.Equal(t, []string{"member", "room"}, e.Objects())

	rec, err := e.Get(context.Background(), "room", "r1")
	require.NoError(t, err)
	require.Equal(t, int64(9007199254740993), rec["big"], "integers keep full precision")
	require.Equal(t, map[string]any{"x": int64(1)}, rec["nested"])
	_, err = e.FindOne(context.Background(), "room", map[string]string{"big": "9007199254740993", "n": "1000"})
	require.NoError(t, err)
	_, err = e.FindOne(context.Background(), "member", nil)
	require.ErrorIs(t, err, records.ErrNotFound)
	require.NotErrorIs(t, err, records.ErrUnknownObject)
}

func TestEmbeddedReload(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFile(t, dir, "room.json", `[{"id": "r1", "title": "old"}]`)
	e, err := records.NewEmbedded(dir)
	require.NoError(t, err)
	_, err = e.FindOne(ctx, "room", map[string]string{"title": "old"}) // builds the title index
	require.NoError(t, err)

	writeFile(t, dir, "room.json", `[{"id": "r1", "title": "new"}, {"id": "r2", "title": "new"}]`)
	writeFile(t, dir, "member.json", `[{"id": "m1"}]`)
	require.NoError(t, e.Reload())
	require.Equal(t, []string{"member", "room"}, e.Objects())
	rec, err := e.FindOne(ctx, "room", map[string]string{"title": "new"})
	require.NoError(t, err)
	require.Equal(t, "r1", rec["id"])
	_, err = e.FindOne(ctx, "room", map[string]string{"title": "old"})
	require.ErrorIs(t, err, records.ErrNotFound, "index of the old snapshot must not leak")

	writeFile(t, dir, "member.json", `[{"id": "m1"}, {"id": "m1"}]`)
	err = e.Reload()
	require.ErrorContains(t, err, "member.json")
	rec, err = e.Get(ctx, "room", "r2")
	require.NoError(t, err, "old data kept after a failed reload")
	require.Equal(t, "new", rec["title"])

	require.NoError(t, os.Remove(filepath.Join(dir, "member.json")))
	require.NoError(t, e.Reload())
	require.Equal(t, []string{"room"}, e.Objects())
}

// Lookups keep answering from a whole snapshot while reloads swap data.
func TestEmbeddedConcurrentReload(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(gen int) {
		writeFile(t, dir, "member.json", fmt.Sprintf(`[{"id": "m1", "userId": "u1", "gen": %d}, {"id": "m2", "userId": "u2", "gen": %d}]`, gen, gen))
	}
	write(0)
	e, err := records.NewEmbedded(dir)
	require.NoError(t, err)

	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Go(func() {
			for !stop.Load() {
				rec, err := e.FindOne(ctx, "member", map[string]string{"userId": "u2"})
				if err != nil {
					errs <- err
					return
				}
				if rec["id"] != "m2" {
					errs <- fmt.Errorf("got %v", rec)
					return
				}
			}
		})
	}
	for gen := 1; gen <= 20; gen++ {
		write(gen)
		require.NoError(t, e.Reload())
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	rec, err := e.Get(ctx, "member", "m1")
	require.NoError(t, err)
	require.Equal(t, int64(20), rec["gen"])
}

func TestValueString(t *testing.T) {
	tests := []struct {
		in     any
		want   string
		wantOK bool
	}{
		{"abc", "abc", true},
		{"", "", true},
		{true, "true", true},
		{false, "false", true},
		{3.0, "3", true},
		{2.5, "2.5", true},
		{-0.25, "-0.25", true},
		{1e21, "1000000000000000000000", true},
		{int64(42), "42", true},
		{7, "7", true},
		{json.Number("12"), "12", true},
		{json.Number("1.50"), "1.5", true},
		{nil, "", false},
		{map[string]any{}, "", false},
		{[]any{"a"}, "", false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%T(%v)", tc.in, tc.in), func(t *testing.T) {
			got, ok := records.ValueString(tc.in)
			require.Equal(t, tc.wantOK, ok)
			require.Equal(t, tc.want, got)
		})
	}
}

func BenchmarkEmbeddedFindOne(b *testing.B) {
	const members = 100_000
	recs := make([]records.Record, members)
	for i := range recs {
		recs[i] = records.Record{"id": fmt.Sprintf("m%06d", i), "userId": fmt.Sprintf("u%d", i%5000), "roomId": fmt.Sprintf("r%d", i%2000), "role": "guest"}
	}
	dir := b.TempDir()
	writeFixtures(b, dir, map[string][]records.Record{"member": recs})
	e, err := records.NewEmbedded(dir)
	require.NoError(b, err)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		n := i % members
		if _, err := e.FindOne(ctx, "member", map[string]string{"userId": fmt.Sprintf("u%d", n%5000), "roomId": fmt.Sprintf("r%d", n%2000)}); err != nil {
			b.Fatal(err)
		}
	}
}
