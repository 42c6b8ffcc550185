package records

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// Embedded serves records from a directory of JSON files, one per object:
// <dir>/<object>.json holds a JSON array of objects, each with an "id". The
// data is an immutable snapshot swapped atomically by Reload, so lookups never
// block on a reload and are safe for concurrent use.
type Embedded struct {
	dir  string
	snap atomic.Pointer[snapshot]
	mu   sync.Mutex // serializes Reload
}

var _ Source = (*Embedded)(nil)

// snapshot is one loaded directory. Objects are never modified after load,
// except for their lazily built field indexes.
type snapshot struct {
	objects map[string]*object
}

// object holds one DataObject's records sorted by id (string order).
type object struct {
	records []Record
	ids     []string       // ids[i] is records[i]'s id
	byID    map[string]int // id -> position

	mu      sync.RWMutex
	indexes map[string]map[string][]int // field -> value -> positions, ascending
}

// NewEmbedded loads dir. An empty dir gives a source without objects. Invalid
// JSON, a record without "id" or a duplicate id is an error naming the file
// and the record index.
func NewEmbedded(dir string) (*Embedded, error) {
	e := &Embedded{dir: dir}
	snap, err := loadDir(dir)
	if err != nil {
		return nil, err
	}
	e.snap.Store(snap)
	return e, nil
}

// Reload re-reads the directory. On error the previous data stays in use.
func (e *Embedded) Reload() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	snap, err := loadDir(e.dir)
	if err != nil {
		return err
	}
	e.snap.Store(snap)
	return nil
}

// Objects returns the loaded object names, sorted.
func (e *Embedded) Objects() []string {
	objs := e.snap.Load().objects
	names := make([]string, 0, len(objs))
	for name := range objs {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// Get returns the record of object with the given id.
func (e *Embedded) Get(ctx context.Context, object, id string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("records: get %s %q: %w", object, id, err)
	}
	obj, ok := e.snap.Load().objects[object]
	if !ok {
		return nil, fmt.Errorf("records: get %s %q: %w", object, id, ErrUnknownObject)
	}
	i, ok := obj.byID[id]
	if !ok {
		return nil, fmt.Errorf("records: get %s %q: %w", object, id, ErrNotFound)
	}
	return cloneRecord(obj.records[i]), nil
}

// FindOne returns the record of object, with the smallest id, whose fields
// equal every value of match.
func (e *Embedded) FindOne(ctx context.Context, object string, match map[string]string) (Record, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("records: find %s: %w", object, err)
	}
	obj, ok := e.snap.Load().objects[object]
	if !ok {
		return nil, fmt.Errorf("records: find %s: %w", object, ErrUnknownObject)
	}
	if i, ok := obj.find(match); ok {
		return cloneRecord(obj.records[i]), nil
	}
	return nil, fmt.Errorf("records: find %s %v: %w", object, match, ErrNotFound)
}

// find returns the position of the first record matching all fields. It walks
// the shortest candidate list of the indexed fields and checks the rest on the
// record itself; positions are ascending, so the first hit has the smallest id.
func (o *object) find(match map[string]string) (int, bool) {
	if len(match) == 0 {
		return 0, len(o.records) > 0
	}
	var best []int
	first := true
	for field, value := range match {
		cands := o.index(field)[value]
		if len(cands) == 0 {
			return 0, false
		}
		if first || len(cands) < len(best) {
			best, first = cands, false
		}
	}
	for _, i := range best {
		if matches(o.records[i], match) {
			return i, true
		}
	}
	return 0, false
}

// matches reports whether rec has every field of match.
func matches(rec Record, match map[string]string) bool {
	for field, want := range match {
		got, ok := ValueString(rec[field])
		if !ok || got != want {
			return false
		}
	}
	return true
}

// index returns the value index of field, building it on first use.
func (o *object) index(field string) map[string][]int {
	o.mu.RLock()
	idx, ok := o.indexes[field]
	o.mu.RUnlock()
	if ok {
		return idx
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if idx, ok := o.indexes[field]; ok {
		return idx
	}
	idx = map[string][]int{}
	for i, rec := range o.records {
		if s, ok := ValueString(rec[field]); ok {
			idx[s] = append(idx[s], i)
		}
	}
	o.indexes[field] = idx
	return idx
}

// loadDir reads every <object>.json of dir.
func loadDir(dir string) (*snapshot, error) {
	snap := &snapshot{objects: map[string]*object{}}
	if dir == "" {
		return snap, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("records: read dir: %w", err)
	}
	var errs []error
	for _, ent := range entries {
		name := ent.Name()
		if ent.IsDir() || strings.HasPrefix(name, ".") || filepath.Ext(name) != ".json" {
			continue
		}
		path := filepath.Join(dir, name)
		obj, err := loadFile(path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		snap.objects[strings.TrimSuffix(name, ".json")] = obj
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return snap, nil
}

// loadFile decodes one object file.
func loadFile(path string) (*object, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("records: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw []map[string]any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("records: %s: %w", path, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("records: %s: data after the top-level array", path)
	}
	obj := &object{
		records: make([]Record, 0, len(raw)),
		byID:    make(map[string]int, len(raw)),
		indexes: map[string]map[string][]int{},
	}
	first := map[string]int{}
	for i, rec := range raw {
		if rec == nil {
			return nil, fmt.Errorf("records: %s: [%d]: not an object", path, i)
		}
		id, ok := ValueString(rec["id"])
		if !ok || id == "" {
			return nil, fmt.Errorf("records: %s: [%d]: missing id", path, i)
		}
		if j, dup := first[id]; dup {
			return nil, fmt.Errorf("records: %s: [%d]: duplicate id %q (first at [%d])", path, i, id, j)
		}
		first[id] = i
		obj.records = append(obj.records, Normalize(rec).(Record))
		obj.ids = append(obj.ids, id)
	}
	sort.Sort(byID{obj})
	for i, id := range obj.ids {
		obj.byID[id] = i
	}
	return obj, nil
}

// byID sorts an object's records and ids together by id.
type byID struct{ o *object }

func (s byID) Len() int           { return len(s.o.ids) }
func (s byID) Less(i, j int) bool { return s.o.ids[i] < s.o.ids[j] }
func (s byID) Swap(i, j int) {
	s.o.ids[i], s.o.ids[j] = s.o.ids[j], s.o.ids[i]
	s.o.records[i], s.o.records[j] = s.o.records[j], s.o.records[i]
}

// Normalize turns json.Number (from a decoder with UseNumber) into int64
// when the literal is an integer that fits, float64 otherwise, recursively
// and in place. Every record source and cache returns values this way.
func Normalize(v any) any {
	switch x := v.(type) {
	case json.Number:
		if n, err := strconv.ParseInt(x.String(), 10, 64); err == nil {
			return n
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = Normalize(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = Normalize(e)
		}
		return x
	default:
		return v
	}
}

// cloneRecord deep-copies a record so callers cannot alter the snapshot.
func cloneRecord(rec Record) Record {
	return Clone(rec).(Record)
}

// Clone deep-copies a JSON-like value (maps, slices, scalars), so that a
// cached or shared record can be handed out without being altered.
func Clone(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = Clone(e)
		}
		return m
	case []any:
		s := make([]any, len(x))
		for i, e := range x {
			s[i] = Clone(e)
		}
		return s
	default:
		return v
	}
}
