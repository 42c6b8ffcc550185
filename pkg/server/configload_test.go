package server

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

func writeConfig(t *testing.T, doc string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "hubd.yaml")
	require.NoError(t, os.WriteFile(p, []byte(doc), 0o600))
	return p
}

// TestConfigUnknownKeys: a misspelled key is an error naming the file,
// the key's path and the key meant; every one is reported at once.
func TestConfigUnknownKeys(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		env  []string
		want []string
	}{
		{name: "top-level key", doc: "stroe: postgres\n",
			want: []string{"hubd.yaml: stroe: unknown key (did you mean store?)"}},
		{name: "nested key", doc: "socketio:\n  pingIntervall: 1s\n",
			want: []string{"hubd.yaml: socketio.pingIntervall: unknown key (did you mean socketio.pingInterval?)"}},
		{name: "unknown section", doc: "sockets:\n  path: /x/\n",
			want: []string{"hubd.yaml: sockets.path: unknown key"}},
		{name: "a value where a section belongs", doc: "socketio: 5\n",
			want: []string{"hubd.yaml: socketio: must be a map of keys, not a value"}},
		{name: "every problem at once", doc: "stroe: postgres\nauth:\n  jwtScret: x\nlog: {format: xml}\n",
			want: []string{"stroe: unknown key", "auth.jwtScret: unknown key (did you mean auth.jwtSecret?)",
				`log.format: "xml" is not console or json [set with --log-format, HUBD_LOG__FORMAT, log.format in the --config file]`}},
		{name: "unknown nested variable", env: []string{"HUBD_SOCKETIO__PING_INTERVALL=1s"},
			want: []string{"HUBD_SOCKETIO__PING_INTERVALL: unknown variable", "(did you mean HUBD_SOCKETIO__PING_INTERVAL?)"}},
		{name: "section variable", env: []string{"HUBD_AUTH__SESSION=x"},
			want: []string{"HUBD_AUTH__SESSION: unknown variable"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var args []string
			if tc.doc != "" {
				args = []string{"--config", writeConfig(t, tc.doc)}
			}
			_, err := loadWith(t, args, tc.env)
			require.Error(t, err)
			for _, w := range tc.want {
				require.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestConfigUnknownFlatVariable: a HUBD_* variable without "__" that names
// no key is ignored with a warning (shells export variables of other tools).
func TestConfigUnknownFlatVariable(t *testing.T) {
	c, warnings, err := loadConfig(flagSet(t, nil), []string{"HUBD_STROE=postgres", "HUBD_TEST_DATABASE_URL=x"})
	require.NoError(t, err)
	require.Equal(t, "auto", c.Store)
	require.Len(t, warnings, 2)
	require.Contains(t, warnings, "HUBD_STROE: unknown variable: no config key stroe (did you mean HUBD_STORE?); ignored")
}

func TestConfigKnownKeysAccepted(t *testing.T) {
	file := writeConfig(t, `
admin:
socketio: {pingInterval: 2s}
recordSource:
  tables: {chatMember: app_members, Room: rooms}
Listen: 127.0.0.1:7000
`)
	c, err := loadWith(t, []string{"--config", file}, []string{"HUBD_SOCKETIO__PING_TIMEOUT=3s", "HUBD_ADMIN_LISTEN=127.0.0.1:0"})
	require.NoError(t, err)
	require.Equal(t, map[string]string{"chatMember": "app_members", "Room": "rooms"}, c.RecordSource.Tables, "map keys are kept as written")
	require.Equal(t, "127.0.0.1:7000", c.Listen, "keys match case-insensitively")
	require.Equal(t, "127.0.0.1:0", c.Admin.Listen)
	require.Equal(t, "2s", c.SocketIO.PingInterval.String())
	require.Equal(t, "3s", c.SocketIO.PingTimeout.String())
}

// TestConfigEnvLists: every list key takes a comma-separated value from
// the environment.
func TestConfigEnvLists(t *testing.T) {
	lists := []string{}
	for _, info := range configKeys() {
		if info.kind == listKey {
			lists = append(lists, info.name)
		}
	}
	require.Subset(t, lists, []string{"socketio.allowedOrigins", "kafka.brokers", "scripting.httpAllow",
		"auth.publicKeyFiles", "auth.jwtSecrets", "auth.algorithms", "recordSource.elasticsearch.urls"})
	for _, key := range lists {
		t.Run(key, func(t *testing.T) {
			env := []string{envName(key) + "=a.example, b.example,,c.example"}
			if key == "kafka.brokers" {
				env = append(env, "HUBD_KAFKA__SERVICE=svc")
			}
			k, _, err := loadConfig(flagSet(t, nil), env)
			require.NoError(t, err)
			got := listValue(t, k, key)
			require.Equal(t, []string{"a.example", "b.example", "c.example"}, got)
		})
	}
	c, err := loadWith(t, nil, []string{"HUBD_SOCKETIO__ALLOWED_ORIGINS=https://a.example,https://b.example"})
	require.NoError(t, err)
	require.Equal(t, []string{"https://a.example", "https://b.example"}, c.SocketIO.AllowedOrigins)
}

// listValue reads the []string field of c that key names.
func listValue(t *testing.T, c Config, key string) []string {
	t.Helper()
	fields := map[string][]string{
		"socketio.allowedOrigins": c.SocketIO.AllowedOrigins, "kafka.brokers": c.Kafka.Brokers,
		"scripting.httpAllow": c.Scripting.HTTPAllow, "auth.publicKeyFiles": c.Auth.PublicKeyFiles,
		"auth.jwtSecrets": c.Auth.JWTSecrets, "auth.algorithms": c.Auth.Algorithms,
		"recordSource.elasticsearch.urls": c.RecordSource.Elasticsearch.URLs, "scripting.kvShared": c.Scripting.KVShared,
	}
	v, ok := fields[key]
	require.True(t, ok, "list key %s is not in this test's table", key)
	return v
}

// TestConfigPathsRelativeToFile: paths in a config file are relative to
// the file; paths from flags and variables to the working directory.
func TestConfigPathsRelativeToFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "etc", "hubd.yaml")
	require.NoError(t, os.MkdirAll(filepath.Dir(file), 0o700))
	require.NoError(t, os.WriteFile(file, []byte(`
hubs: hubs
records: ../records
lib: /abs/lib
auth: {publicKeyFiles: [keys/a.pem, /abs/b.pem], jwksFile: jwks.json}
`), 0o600))
	c, err := loadWith(t, []string{"--config", file, "--data", "d"}, nil)
	require.NoError(t, err)
	etc := filepath.Dir(file)
	require.Equal(t, filepath.Join(etc, "hubs"), c.Hubs)
	require.Equal(t, filepath.Join(dir, "records"), c.Records)
	require.Equal(t, "/abs/lib", c.Lib)
	require.Equal(t, "d", c.Data, "a flag is relative to the working directory")
	require.Equal(t, []string{filepath.Join(etc, "keys/a.pem"), "/abs/b.pem"}, c.Auth.PublicKeyFiles)
	require.Equal(t, filepath.Join(etc, "jwks.json"), c.Auth.JWKSFile)
}

func TestEnvName(t *testing.T) {
	for key, want := range map[string]string{
		"listen": "HUBD_LISTEN", "socketio.allowedOrigins": "HUBD_SOCKETIO__ALLOWED_ORIGINS",
		"auth.session.introspectionURL": "HUBD_AUTH__SESSION__INTROSPECTION_URL", "scripting.sql": "HUBD_SCRIPTING__SQL",
	} {
		require.Equal(t, want, envName(key))
		got, ok := envKey(want)
		require.True(t, ok, want)
		require.Equal(t, key, got, "%s names %s", want, key)
	}
	require.True(t, strings.HasPrefix(howToSet("listen"), "--listen, HUBD_LISTEN"))
}

func flagSet(t *testing.T, args []string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	AddFlags(fs)
	require.NoError(t, fs.Parse(args))
	return fs
}
