package deploy_test

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"text/template"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
	"sigs.k8s.io/yaml"

	"github.com/hubd/hubd/pkg/server"
)

var chartDir = filepath.Join("helm", "hubd")

// chart is the hubd chart parsed with the subset of Helm's template
// functions (Go text/template plus Sprig) that its templates use. A template
// calling anything else fails to parse, so the test notices.
type chart struct {
	meta   map[string]any
	values map[string]any
	tmpl   *template.Template
	files  []string // templates that produce manifests
}

func loadChart(t *testing.T) *chart {
	t.Helper()
	c := &chart{}
	c.meta = readYAML(t, filepath.Join(chartDir, "Chart.yaml"))
	c.values = readYAML(t, filepath.Join(chartDir, "values.yaml"))
	c.tmpl = template.New("chart").Option("missingkey=error").Funcs(helmFuncs(func() *template.Template { return c.tmpl }))
	paths, err := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	require.NoError(t, err)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		name := filepath.Base(p)
		_, err = c.tmpl.New(name).Parse(string(b))
		require.NoError(t, err, "parse %s", name)
		if !strings.HasPrefix(name, "_") && name != "NOTES.txt" {
			c.files = append(c.files, name)
		}
	}
	return c
}

func readYAML(t *testing.T, p string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	m := map[string]any{}
	require.NoError(t, yaml.Unmarshal(b, &m), "parse %s", p)
	return m
}

// helmFuncs are the Helm/Sprig functions the chart uses, with Helm's
// semantics.
func helmFuncs(tmpl func() *template.Template) template.FuncMap {
	empty := func(v any) bool {
		switch x := v.(type) {
		case nil:
			return true
		case string:
			return x == ""
		case bool:
			return !x
		case float64:
			return x == 0
		case int:
			return x == 0
		case map[string]any:
			return len(x) == 0
		case []any:
			return len(x) == 0
		}
		return false
	}
	toYAML := func(v any) (string, error) {
		b, err := yaml.Marshal(v)
		return strings.TrimSuffix(string(b), "\n"), err
	}
	indent := func(n int, s string) string {
		pad := strings.Repeat(" ", n)
		return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
	}
	var deepCopy func(v any) any
	deepCopy = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, e := range x {
				out[k] = deepCopy(e)
			}
			return out
		case []any:
			out := make([]any, len(x))
			for i, e := range x {
				out[i] = deepCopy(e)
			}
			return out
		}
		return v
	}
	var merge func(dst map[string]any, srcs ...map[string]any) map[string]any
	merge = func(dst map[string]any, srcs ...map[string]any) map[string]any {
		for _, src := range srcs {
			for k, v := range src {
				d, ok := dst[k]
				switch {
				case !ok:
					dst[k] = v
				default:
					dm, dok := d.(map[string]any)
					sm, sok := v.(map[string]any)
					if dok && sok {
						merge(dm, sm)
					}
				}
			}
		}
		return dst
	}
	return template.FuncMap{
		"include": func(name string, data any) (string, error) {
			var b strings.Builder
			err := tmpl().ExecuteTemplate(&b, name, data)
			return b.String(), err
		},
		"fail":    func(msg string) (string, error) { return "", errors.New(msg) },
		"default": func(d, v any) any { return map[bool]any{true: d, false: v}[empty(v)] },
		"ternary": func(a, b any, cond bool) any { return map[bool]any{true: a, false: b}[cond] },
		"quote":   func(v any) string { return fmt.Sprintf("%q", fmt.Sprint(v)) },
		"trunc": func(n int, s string) string {
			if len(s) > n {
				return s[:n]
			}
			return s
		},
		"trimSuffix": func(suf, s string) string { return strings.TrimSuffix(s, suf) },
		"contains":   func(sub, s string) bool { return strings.Contains(s, sub) },
		"int": func(v any) int {
			if f, ok := v.(float64); ok {
				return int(f)
			}
			return v.(int)
		},
		"list": func(v ...any) []any { return v },
		"dict": func(kv ...any) map[string]any {
			m := map[string]any{}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		},
		"deepCopy":  deepCopy,
		"merge":     merge,
		"toYaml":    toYAML,
		"indent":    indent,
		"nindent":   func(n int, s string) string { return "\n" + indent(n, s) },
		"sha256sum": func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) },
	}
}

// render renders every manifest with values overriding the chart's
// defaults, and returns them by "Kind/name".
func (c *chart) render(t *testing.T, override string) (map[string]map[string]any, error) {
	t.Helper()
	vals := readYAML(t, filepath.Join(chartDir, "values.yaml"))
	// A token key, which the chart requires (TestChartRequiresATokenKey).
	mergeValues(vals, map[string]any{"secrets": map[string]any{"jwtSecret": "test-key"}})
	o := map[string]any{}
	require.NoError(t, yaml.Unmarshal([]byte(override), &o))
	mergeValues(vals, o)
	meta := map[string]any{}
	for k, v := range c.meta {
		meta[strings.ToUpper(k[:1])+k[1:]] = v // Helm exposes Chart.yaml fields capitalised
	}
	data := map[string]any{
		"Values":  vals,
		"Chart":   meta,
		"Release": map[string]any{"Name": "rel", "Namespace": "ns", "Service": "Helm"},
	}
	out := map[string]map[string]any{}
	for _, f := range c.files {
		var b strings.Builder
		if err := c.tmpl.ExecuteTemplate(&b, f, data); err != nil {
			return nil, err
		}
		for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(b.String(), -1) {
			m := map[string]any{}
			require.NoError(t, yaml.Unmarshal([]byte(doc), &m), "%s renders YAML:\n%s", f, doc)
			if len(m) == 0 {
				continue
			}
			require.Equal(t, "rel-hubd", dig(t, m, "metadata", "name").(string)[:8], "%s: names start with the fullname", f)
			key := fmt.Sprintf("%s/%s", m["kind"], dig(t, m, "metadata", "name"))
			require.NotContains(t, out, key, "duplicate object")
			out[key] = m
		}
	}
	return out, nil
}

// mergeValues is Helm's coalescing of user values over the defaults.
func mergeValues(dst, src map[string]any) {
	for k, v := range src {
		if sm, ok := v.(map[string]any); ok {
			if dm, ok := dst[k].(map[string]any); ok {
				mergeValues(dm, sm)
				continue
			}
		}
		dst[k] = v
	}
}

func dig(t *testing.T, m any, keys ...any) any {
	t.Helper()
	for _, k := range keys {
		switch x := m.(type) {
		case map[string]any:
			v, ok := x[k.(string)]
			require.True(t, ok, "key %v in %v", k, keys)
			m = v
		case []any:
			m = x[k.(int)]
		default:
			t.Fatalf("cannot index %T with %v", m, k)
		}
	}
	return m
}

func byName(t *testing.T, list any, name string) map[string]any {
	t.Helper()
	for _, e := range list.([]any) {
		if m := e.(map[string]any); m["name"] == name {
			return m
		}
	}
	t.Fatalf("no element named %s", name)
	return nil
}

func names(list any) []string {
	var out []string
	for _, e := range list.([]any) {
		out = append(out, e.(map[string]any)["name"].(string))
	}
	return out
}

func TestChartValuesReferenced(t *testing.T) {
	c := loadChart(t)
	re := regexp.MustCompile(`\.Values((?:\.[A-Za-z0-9_]+)+)`)
	paths, err := filepath.Glob(filepath.Join(chartDir, "templates", "*"))
	require.NoError(t, err)
	for _, p := range paths {
		b, err := os.ReadFile(p)
		require.NoError(t, err)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			var cur any = c.values
			for _, k := range strings.Split(m[1], ".")[1:] {
				mm, ok := cur.(map[string]any)
				require.True(t, ok, "%s: %s goes through a non-map", filepath.Base(p), m[0])
				cur, ok = mm[k]
				require.True(t, ok, "%s: %s is not in values.yaml", filepath.Base(p), m[0])
			}
		}
	}
}

func TestChartRender(t *testing.T) {
	c := loadChart(t)
	tests := []struct {
		name      string
		values    string
		objects   []string
		strategy  string
		env       []string
		dataClaim bool
		store     string
	}{
		{
			name:      "defaults: embedded store on a PVC",
			objects:   []string{"ConfigMap/rel-hubd", "ConfigMap/rel-hubd-hubs", "ConfigMap/rel-hubd-lib", "ConfigMap/rel-hubd-records", "Deployment/rel-hubd", "PersistentVolumeClaim/rel-hubd-data", "Secret/rel-hubd", "Service/rel-hubd"},
			strategy:  "Recreate",
			env:       []string{"HUBD_LISTEN", "HUBD_ADMIN__LISTEN", "HUBD_JWT_SECRET"},
			dataClaim: true,
			store:     "embedded",
		},
		{
			name:      "three replicas on PostgreSQL and Redis, existing secret and hubs",
			values:    "replicaCount: 3\nbackends: {postgres: true, redis: true}\nsecrets: {existingSecret: prod-hubd}\nhubs: {existingConfigMap: my-hubs}\n",
			objects:   []string{"ConfigMap/rel-hubd", "ConfigMap/rel-hubd-lib", "ConfigMap/rel-hubd-records", "Deployment/rel-hubd", "Service/rel-hubd"},
			strategy:  "RollingUpdate",
			env:       []string{"HUBD_LISTEN", "HUBD_ADMIN__LISTEN", "HUBD_JWT_SECRET", "HUBD_POSTGRES__DSN", "HUBD_REDIS__ADDR", "HUBD_REDIS__PASSWORD"},
			dataClaim: false,
			store:     "postgres",
		},
		{
			name:      "PostgreSQL without Redis keeps the kv volume",
			values:    "backends: {postgres: true}\nsecrets: {postgresDSN: \"postgres://h@db/app\"}\n",
			objects:   []string{"ConfigMap/rel-hubd", "ConfigMap/rel-hubd-hubs", "ConfigMap/rel-hubd-lib", "ConfigMap/rel-hubd-records", "Deployment/rel-hubd", "PersistentVolumeClaim/rel-hubd-data", "Secret/rel-hubd", "Service/rel-hubd"},
			strategy:  "Recreate",
			env:       []string{"HUBD_LISTEN", "HUBD_ADMIN__LISTEN", "HUBD_JWT_SECRET", "HUBD_POSTGRES__DSN"},
			dataClaim: true,
			store:     "postgres",
		},
		{
			name:      "embedded without persistence",
			values:    "persistence: {enabled: false}\n",
			objects:   []string{"ConfigMap/rel-hubd", "ConfigMap/rel-hubd-hubs", "ConfigMap/rel-hubd-lib", "ConfigMap/rel-hubd-records", "Deployment/rel-hubd", "Secret/rel-hubd", "Service/rel-hubd"},
			strategy:  "Recreate",
			env:       []string{"HUBD_LISTEN", "HUBD_ADMIN__LISTEN", "HUBD_JWT_SECRET"},
			dataClaim: false,
			store:     "embedded",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := c.render(t, tc.values)
			require.NoError(t, err)
			require.ElementsMatch(t, tc.objects, slicesSorted(objs))

			dep := objs["Deployment/rel-hubd"]
			spec := dig(t, dep, "spec", "template", "spec").(map[string]any)
			ctr := dig(t, spec, "containers", 0).(map[string]any)
			require.Equal(t, "/-/healthy", dig(t, ctr, "livenessProbe", "httpGet", "path"))
			require.Equal(t, "/-/ready", dig(t, ctr, "readinessProbe", "httpGet", "path"))
			require.Equal(t, "ghcr.io/hubd/hubd:"+c.meta["appVersion"].(string), ctr["image"])
			require.Equal(t, []any{"serve", "--config", "/etc/hubd/hubd.yaml"}, ctr["args"])
			require.Equal(t, tc.env, names(ctr["env"]))
			for _, e := range ctr["env"].([]any)[2:] {
				ref := dig(t, e, "valueFrom", "secretKeyRef").(map[string]any)
				want := "rel-hubd"
				if strings.Contains(tc.values, "existingSecret") {
					want = "prod-hubd"
				}
				require.Equal(t, want, ref["name"], "secrets come from the Secret")
			}
			ann := dig(t, dep, "spec", "template", "metadata", "annotations").(map[string]any)
			require.Equal(t, "true", ann["prometheus.io/scrape"])
			require.Equal(t, "/metrics", ann["prometheus.io/path"])
			require.Equal(t, "9090", ann["prometheus.io/port"], "Prometheus scrapes the admin port")
			require.Equal(t, 9090.0, byName(t, ctr["ports"], "admin")["containerPort"])
			require.Equal(t, 8080.0, byName(t, ctr["ports"], "http")["containerPort"])
			require.Regexp(t, `^[0-9a-f]{64}$`, ann["checksum/config"])
			require.Regexp(t, `^[0-9a-f]{64}$`, ann["checksum/files"])
			require.Equal(t, tc.strategy, dig(t, dep, "spec", "strategy", "type"))
			data := byName(t, spec["volumes"], "data")
			require.Equal(t, tc.dataClaim, data["persistentVolumeClaim"] != nil, "data volume %v", data)
			for _, v := range []string{"hubs", "lib", "records"} {
				cm := dig(t, byName(t, spec["volumes"], v), "configMap", "name").(string)
				if v == "hubs" && strings.Contains(tc.values, "existingConfigMap") {
					require.Equal(t, "my-hubs", cm)
					continue
				}
				require.Contains(t, objs, "ConfigMap/"+cm, "volume %s", v)
				require.NotNil(t, dig(t, objs["ConfigMap/"+cm], "data"), "ConfigMap %s has data", cm)
			}

			// The rendered hubd.yaml is a valid daemon config with the
			// container's paths.
			cfg := loadRenderedConfig(t, dig(t, objs["ConfigMap/rel-hubd"], "data", "hubd.yaml").(string), podEnv(t, objs, ctr))
			require.Equal(t, "/etc/hubd/hubs", cfg.Hubs)
			require.Equal(t, "/etc/hubd/lib", cfg.Lib)
			require.Equal(t, "/etc/hubd/records", cfg.Records)
			require.Equal(t, "/var/lib/hubd", cfg.Data)
			require.Equal(t, "0.0.0.0:8080", cfg.Listen)
			require.Equal(t, "0.0.0.0:9090", cfg.Admin.Listen)
			require.Equal(t, "json", cfg.Log.Format)
			require.Equal(t, tc.store, cfg.Store)
			require.Equal(t, tc.store == "postgres", cfg.Postgres.DSN != "", "postgres.dsn from the Secret")
			require.Equal(t, strings.Contains(tc.values, "redis: true"), cfg.Redis.Addr != "", "redis.addr from the Secret")
		})
	}
}

func slicesSorted(m map[string]map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range maps.Keys(m) {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// existingSecret stands for a Secret the chart does not create.
var existingSecret = map[string]any{
	"jwtSecret": "s3cret", "postgresDSN": "postgres://hubd@db:5432/app", "redisAddr": "redis:6379", "redisPassword": "pw",
}

// podEnv is the container's environment as the kubelet would set it, with
// secret keys read from the rendered Secret (or existingSecret).
func podEnv(t *testing.T, objs map[string]map[string]any, ctr map[string]any) []string {
	t.Helper()
	var env []string
	for _, e := range ctr["env"].([]any) {
		m := e.(map[string]any)
		if v, ok := m["value"]; ok {
			env = append(env, fmt.Sprintf("%s=%v", m["name"], v))
			continue
		}
		ref := dig(t, m, "valueFrom", "secretKeyRef").(map[string]any)
		data := existingSecret
		if sec, ok := objs["Secret/"+ref["name"].(string)]; ok {
			data = sec["stringData"].(map[string]any)
		}
		v, ok := data[ref["key"].(string)]
		if !ok || v == "" {
			require.Equal(t, true, ref["optional"], "%s: key %s is required", m["name"], ref["key"])
			continue
		}
		env = append(env, fmt.Sprintf("%s=%v", m["name"], v))
	}
	return env
}

// loadRenderedConfig decodes a hubd.yaml the way the daemon does.
func loadRenderedConfig(t *testing.T, doc string, environ []string) server.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hubd.yaml")
	require.NoError(t, os.WriteFile(p, []byte(doc), 0o600))
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	server.AddFlags(fs)
	require.NoError(t, fs.Parse([]string{"--config", p}))
	cfg, err := server.LoadConfig(fs, environ)
	require.NoError(t, err, "config:\n%s", doc)
	return cfg
}

func TestChartRefusesReplicasWithoutSharedBackends(t *testing.T) {
	c := loadChart(t)
	for _, v := range []string{
		"replicaCount: 2\n",
		"replicaCount: 2\nbackends: {postgres: true}\n",
		"replicaCount: 2\nbackends: {redis: true}\n",
	} {
		_, err := c.render(t, v)
		require.ErrorContains(t, err, "replicaCount > 1 needs backends.postgres and backends.redis", v)
	}
}

func TestChartChecksumsFollowConfig(t *testing.T) {
	c := loadChart(t)
	checksums := func(values string) (string, string) {
		objs, err := c.render(t, values)
		require.NoError(t, err)
		ann := dig(t, objs["Deployment/rel-hubd"], "spec", "template", "metadata", "annotations").(map[string]any)
		return ann["checksum/config"].(string), ann["checksum/files"].(string)
	}
	baseCfg, baseFiles := checksums("")
	cfg, files := checksums("config: {log: {level: debug}}\n")
	require.NotEqual(t, baseCfg, cfg, "a config change rolls the pods")
	require.Equal(t, baseFiles, files)
	cfg, files = checksums("hubs: {files: {chat.yaml: \"hubBasics: {name: chatHub}\\n\"}}\n")
	require.Equal(t, baseCfg, cfg)
	require.NotEqual(t, baseFiles, files, "a hub change rolls the pods")

	objs, err := c.render(t, "rolloutOnConfigChange: false\n")
	require.NoError(t, err)
	require.NotContains(t, dig(t, objs["Deployment/rel-hubd"], "spec", "template", "metadata", "annotations"), "checksum/config")
}

func TestChartHubFiles(t *testing.T) {
	c := loadChart(t)
	hub, err := os.ReadFile(filepath.Join(repoRoot, "configs", "hubs", "chat.yaml"))
	require.NoError(t, err)
	vals, err := yaml.Marshal(map[string]any{"hubs": map[string]any{"files": map[string]any{"chat.yaml": string(hub)}}})
	require.NoError(t, err)
	objs, err := c.render(t, string(vals))
	require.NoError(t, err)
	require.Equal(t, string(hub), dig(t, objs["ConfigMap/rel-hubd-hubs"], "data", "chat.yaml"), "a hub file is carried byte for byte")
}
