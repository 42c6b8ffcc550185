package server

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// LoadConfig merges defaults, the --config file, HUBD_* variables and the
// flags that were set, then validates the result. environ is os.Environ()
// in the daemon. Every problem is returned at once: unknown keys (named
// with their file or variable), values that do not decode, and values the
// daemon cannot use.
func LoadConfig(fs *pflag.FlagSet, environ []string) (Config, error) {
	cfg, _, err := loadConfig(fs, environ)
	return cfg, errors.Join(err, withHints(cfg.Validate()))
}

// loadConfig is LoadConfig without Validate (NewPlan validates). It also
// returns warnings: HUBD_* variables that name no key and were ignored.
func loadConfig(fs *pflag.FlagSet, environ []string) (Config, []string, error) {
	cfg := DefaultConfig()
	k := koanf.New(".")
	var (
		errs     []error
		warnings []string
	)
	if path, _ := fs.GetString("config"); path != "" {
		fk := koanf.New(".")
		if err := fk.Load(file.Provider(path), yaml.Parser()); err != nil {
			return cfg, nil, &readConfigError{fmt.Errorf("read config %s: %w", path, err)}
		}
		errs = append(errs, mergeFile(k, fk, path)...)
	}
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, "HUBD_") {
			continue
		}
		warn, err := setEnv(k, name, val)
		if err != nil {
			errs = append(errs, err)
		}
		if warn != "" {
			warnings = append(warnings, warn)
		}
	}
	fs.Visit(func(f *pflag.Flag) {
		if key, ok := flagKeys[f.Name]; ok {
			if err := k.Set(key, f.Value.String()); err != nil {
				errs = append(errs, fmt.Errorf("--%s: %w", f.Name, err))
			}
		}
	})
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		errs = append(errs, fmt.Errorf("decode config: %w", err))
	}
	return cfg, warnings, errors.Join(errs...)
}

// readConfigError is a config file that cannot be read or parsed: nothing
// else is checked then.
type readConfigError struct{ err error }

func (e *readConfigError) Error() string { return e.err.Error() }
func (e *readConfigError) Unwrap() error { return e.err }

// keyKind is what a config key holds.
type keyKind int

const (
	leafKey    keyKind = iota // a value
	listKey                   // a list of strings
	mapKey                    // free-form keys below it (recordSource.tables)
	sectionKey                // a group of keys (socketio)
)

// keyInfo is one key of the config: its spelling in the koanf tags and
// what it holds.
type keyInfo struct {
	name string
	kind keyKind
}

// configField is one koanf-tagged field of Config: its key, its type and
// its index path (reflect.Value.FieldByIndex).
type configField struct {
	key   string
	typ   reflect.Type
	index []int
}

// isSection reports whether a field groups keys (a struct, not a duration).
func (f configField) isSection() bool {
	return f.typ.Kind() == reflect.Struct && f.typ != reflect.TypeOf(time.Duration(0))
}

// configFields lists every field of Config with a koanf tag, sections
// before the keys inside them.
var configFields = sync.OnceValue(func() []configField {
	var out []configField
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("koanf")
			if tag == "" {
				continue
			}
			cf := configField{key: prefix + tag, typ: f.Type, index: append(append([]int{}, index...), i)}
			out = append(out, cf)
			if cf.isSection() {
				walk(f.Type, cf.key+".", cf.index)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), "", nil)
	return out
})

// configKeys maps every config key, lowercased, to its keyInfo: leaves,
// lists, maps and sections.
var configKeys = sync.OnceValue(func() map[string]keyInfo {
	out := map[string]keyInfo{}
	for _, f := range configFields() {
		info := keyInfo{name: f.key}
		switch {
		case f.isSection():
			info.kind = sectionKey
		case f.typ.Kind() == reflect.Slice:
			info.kind = listKey
		case f.typ.Kind() == reflect.Map:
			info.kind = mapKey
		}
		out[strings.ToLower(f.key)] = info
	}
	return out
})

// lookupKey finds the key a (case-insensitive) config path names. Below a
// map key, the path's tail is kept as written.
func lookupKey(path string) (canon string, info keyInfo, ok bool) {
	lower := strings.ToLower(path)
	if info, ok := configKeys()[lower]; ok {
		return info.name, info, true
	}
	for i := strings.LastIndex(lower, "."); i > 0; i = strings.LastIndex(lower[:i], ".") {
		if info, ok := configKeys()[lower[:i]]; ok && info.kind == mapKey {
			return info.name + path[i:], keyInfo{name: info.name + path[i:]}, true
		}
	}
	return "", keyInfo{}, false
}

// fileRelativeKeys are the keys holding paths; in a config file they are
// relative to the file's directory.
var fileRelativeKeys = map[string]bool{
	"hubs": true, "records": true, "lib": true, "data": true,
	"auth.publicKeyFiles": true, "auth.jwksFile": true,
}

// mergeFile copies the keys of a config file into k under their canonical
// spelling, with paths made relative to the file. Unknown keys are errors.
func mergeFile(k, fk *koanf.Koanf, path string) []error {
	var errs []error
	dir := filepath.Dir(path)
	for _, key := range fk.Keys() {
		canon, info, ok := lookupKey(key)
		val := fk.Get(key)
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("%s: %s: unknown key%s", path, key, suggest(key, "")))
			continue
		case info.kind == sectionKey && val == nil:
			continue // an empty section
		case info.kind == sectionKey || info.kind == mapKey:
			errs = append(errs, fmt.Errorf("%s: %s: must be a map of keys, not a value", path, key))
			continue
		}
		if fileRelativeKeys[canon] {
			val = relativeTo(dir, val)
		}
		if err := k.Set(canon, val); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", path, key, err))
		}
	}
	return errs
}

// relativeTo joins relative paths (a string or a list of them) to dir.
func relativeTo(dir string, val any) any {
	join := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	switch v := val.(type) {
	case string:
		return join(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			if s, ok := e.(string); ok {
				out[i] = join(s)
			} else {
				out[i] = e
			}
		}
		return out
	}
	return val
}

// setEnv sets the key a HUBD_* variable names. A list key takes a
// comma-separated list (HUBD_KAFKA__BROKERS=a:9092,b:9092). A variable
// in the nested syntax (with "__") that names no key is an error; another
// HUBD_* variable that names no key (a shell may export variables of
// other tools) is ignored with a warning.
func setEnv(k *koanf.Koanf, name, val string) (warning string, err error) {
	key, ok := envKey(name)
	if !ok {
		msg := fmt.Sprintf("%s: unknown variable: no config key %s%s", name, envPath(name), suggest(envPath(name), "env"))
		if strings.Contains(name, "__") {
			return "", errors.New(msg)
		}
		return msg + "; ignored", nil
	}
	_, info, _ := lookupKey(key)
	var v any = val
	if info.kind == listKey {
		v = splitList(val)
	}
	if err := k.Set(key, v); err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return "", nil
}

// splitList splits a comma-separated list, trimming spaces; empty items
// are dropped, so "" is the empty list.
func splitList(s string) []string {
	out := []string{}
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// envKey maps a HUBD_* variable to a config key: HUBD_JWT_SECRET is the
// --jwt-secret flag's key; HUBD_AUTH__JWT_SECRET is auth.jwtSecret (keys
// match struct tags case-insensitively, "__" separates segments and "_"
// inside a segment is dropped).
func envKey(name string) (string, bool) {
	key := strings.ToLower(strings.TrimPrefix(name, "HUBD_"))
	if fk, ok := flagKeys[strings.ReplaceAll(key, "_", "-")]; ok {
		return fk, true
	}
	canon, info, ok := lookupKey(envPath(name))
	if !ok || info.kind == sectionKey {
		return "", false
	}
	return canon, true
}

// envPath is the config path a variable spells, lowercased:
// HUBD_SOCKETIO__PING_INTERVAL is socketio.pinginterval.
func envPath(name string) string {
	key := strings.ToLower(strings.TrimPrefix(name, "HUBD_"))
	return strings.ReplaceAll(strings.ReplaceAll(key, "__", "."), "_", "")
}

// envName is the variable that sets key: socketio.allowedOrigins is
// HUBD_SOCKETIO__ALLOWED_ORIGINS.
func envName(key string) string {
	segs := strings.Split(key, ".")
	for i, s := range segs {
		var b strings.Builder
		for j, r := range s {
			if j > 0 && r >= 'A' && r <= 'Z' && !(s[j-1] >= 'A' && s[j-1] <= 'Z') {
				b.WriteByte('_')
			}
			b.WriteRune(r)
		}
		segs[i] = strings.ToUpper(b.String())
	}
	return "HUBD_" + strings.Join(segs, "__")
}

// suggest names the closest known key to an unknown one, as a suffix for
// an error message (" (did you mean store?)"); style "env" names the
// variable instead of the key.
func suggest(unknown, style string) string {
	unknown = strings.ToLower(unknown)
	best, bestD := "", 4
	names := make([]string, 0, len(configKeys()))
	for _, info := range configKeys() {
		if info.kind != sectionKey {
			names = append(names, info.name)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		cmp := strings.ToLower(n)
		if style == "env" {
			cmp = strings.ReplaceAll(cmp, "_", "")
		}
		if d := editDistance(unknown, cmp); d < bestD {
			best, bestD = n, d
		}
	}
	switch {
	case best == "":
		return ""
	case style == "env":
		return fmt.Sprintf(" (did you mean %s?)", envName(best))
	default:
		return fmt.Sprintf(" (did you mean %s?)", best)
	}
}

// editDistance is the Levenshtein distance of a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// flagOf returns the flag that sets key, or "".
func flagOf(key string) string {
	for f, k := range flagKeys {
		if k == key {
			return f
		}
	}
	return ""
}

// howToSet says where key is set: its flag, its variable, the file key.
func howToSet(key string) string {
	parts := []string{}
	if f := flagOf(key); f != "" {
		parts = append(parts, "--"+f)
	}
	parts = append(parts, envName(key), key+" in the --config file")
	return strings.Join(parts, ", ")
}

// withHints appends to each "key: message" error of err how that key is
// set, and returns them one by one.
func withHints(err error) error {
	if err == nil {
		return nil
	}
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		key, _, found := strings.Cut(e.Error(), ": ")
		if canon, _, ok := lookupKey(key); found && ok {
			e = fmt.Errorf("%w [set with %s]", e, howToSet(canon))
		}
		out = append(out, e)
	}
	return errors.Join(out...)
}
