package spec

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// LoadOptions tunes loading and validation.
type LoadOptions struct {
	// CompileScript compiles one MScript expression; a non-nil error marks
	// the script invalid. Nil skips script compilation.
	CompileScript func(src string) error
	// ReservedNames are hub names taken by the daemon in addition to
	// DefaultReservedNames.
	ReservedNames []string
}

// DefaultReservedNames are hub names that collide with daemon paths.
var DefaultReservedNames = []string{"-", "metrics", "hub", "socket.io", "healthz", "openapi.json"}

// specExtensions are the file extensions LoadDir reads.
var specExtensions = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// LoadDir reads every *.yaml, *.yml and *.json file directly in dir (hidden
// files are skipped), one hub per file. When any file is invalid the result
// is nil and the error is an ErrorList holding every problem of every file.
// Hubs are sorted by name.
func LoadDir(dir string, opts LoadOptions) ([]*Hub, error) {
	hubs, errs, err := LoadDirAll(dir, opts)
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return hubs, nil
}

// LoadDirAll reads dir as LoadDir does and returns every problem of every
// file, and besides the valid hubs (sorted by name) the hubs of files with
// problems as far as they decoded (Partial reports them, after the valid
// ones), so that their scripts can be analyzed in the same run. A file that
// is not a RealtimeHub object at all gives no hub. err is set only when
// dir cannot be read.
func LoadDirAll(dir string, opts LoadOptions) (hubs []*Hub, errs ErrorList, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, fmt.Errorf("load hubs from %s: %w", dir, err)
	}
	var partial []*Hub
	byName := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || strings.HasPrefix(name, ".") || !specExtensions[strings.ToLower(filepath.Ext(name))] {
			continue
		}
		path := filepath.Join(dir, name)
		h, ferrs := loadFile(path, opts)
		errs = append(errs, ferrs...)
		switch {
		case h == nil:
		case len(ferrs) > 0:
			h.partial = true
			partial = append(partial, h)
		case byName[h.Name()] != "":
			errs = append(errs, &FieldError{File: path, Path: "hubBasics.name",
				Msg: fmt.Sprintf("duplicate hub name %q (also in %s)", h.Name(), byName[h.Name()])})
		default:
			byName[h.Name()] = path
			hubs = append(hubs, h)
		}
	}
	sort.Slice(hubs, func(i, j int) bool { return hubs[i].Name() < hubs[j].Name() })
	return append(hubs, partial...), errs, nil
}

// LoadFile reads and validates one hub spec. The error is an ErrorList.
func LoadFile(path string, opts LoadOptions) (*Hub, error) {
	h, errs := loadFile(path, opts)
	if len(errs) > 0 {
		return nil, errs
	}
	return h, nil
}

func loadFile(path string, opts LoadOptions) (*Hub, ErrorList) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, ErrorList{{File: path, Msg: fmt.Sprintf("read: %v", err)}}
	}
	return parsePartial(path, data, opts)
}

// parse decodes, defaults and validates one spec document. The format is
// chosen by the extension of file: .json is JSON, anything else YAML. With
// errors there is no hub.
func parse(file string, data []byte, opts LoadOptions) (*Hub, ErrorList) {
	h, errs := parsePartial(file, data, opts)
	if len(errs) > 0 {
		return nil, errs
	}
	return h, nil
}

// parsePartial is parse, but with errors it returns the hub as far as it
// decoded (nil when the document is not an object at all), for analysis.
func parsePartial(file string, data []byte, opts LoadOptions) (*Hub, ErrorList) {
	c := &collector{file: file}
	sum := sha256.Sum256(data)

	jsonData := data
	isJSON := strings.ToLower(filepath.Ext(file)) == ".json"
	if !isJSON {
		var err error
		jsonData, err = yamlToJSON(data)
		if err != nil {
			msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
			c.add("", "parse yaml: %s", strings.Join(strings.Fields(msg), " "))
			return nil, c.errs
		}
	}
	raw, err := decodeJSON(jsonData)
	if err != nil {
		c.add("", "parse json: %v", err)
		return nil, c.errs
	}
	if isJSON {
		jsonDuplicateKeys(jsonData, c)
		if len(c.errs) > 0 {
			return nil, c.errs
		}
	}
	root, ok := raw.(map[string]any)
	if !ok {
		if raw == nil {
			c.add("", "empty spec")
		} else {
			c.add("", "expected a RealtimeHub object at the top level, got %s", jsonKind(raw))
		}
		return nil, c.errs
	}

	h := &Hub{File: file, Hash: hex.EncodeToString(sum[:])}
	decodeStrict(root, h, c)
	if len(c.errs) > 0 {
		// Semantic checks on a partly decoded spec would only add noise;
		// the scripts that decoded are compiled, so that a file's compile
		// errors come out in the same run as its decode errors.
		(&validator{h: h, opts: opts, c: c}).scripts()
		return h, c.errs
	}
	applyDefaults(h, root)
	validate(h, opts, c)
	if len(c.errs) > 0 {
		return h, c.errs
	}
	return h, nil
}

var errTrailingData = errors.New("unexpected data after the top-level value")

func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errTrailingData
	}
	return v, nil
}
