package server

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
)

func loadWith(t *testing.T, args []string, env []string) (Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	AddFlags(fs)
	require.NoError(t, fs.Parse(args))
	return LoadConfig(fs, env)
}

func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hubd.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
listen: 127.0.0.1:9000
hubs: from-file
data: file-data
auth: {jwtSecret: file-secret, leeway: 5s}
socketio: {pingInterval: 7s, allowedOrigins: [https://a.example]}
`), 0o600))

	tests := []struct {
		name  string
		args  []string
		env   []string
		check func(t *testing.T, c Config)
	}{
		{name: "defaults", check: func(t *testing.T, c Config) {
			d := DefaultConfig()
			require.Equal(t, d, c)
		}},
		{name: "file over defaults", args: []string{"--config", file}, check: func(t *testing.T, c Config) {
			require.Equal(t, "127.0.0.1:9000", c.Listen)
			require.Equal(t, filepath.Join(filepath.Dir(file), "from-file"), c.Hubs, "relative to the config file")
			require.Equal(t, "file-secret", c.Auth.JWTSecret)
			require.Equal(t, 5*time.Second, c.Auth.Leeway)
			require.Equal(t, 7*time.Second, c.SocketIO.PingInterval)
			require.Equal(t, []string{"https://a.example"}, c.SocketIO.AllowedOrigins)
			require.Equal(t, 20*time.Second, c.SocketIO.PingTimeout, "unset keys keep defaults")
		}},
		{name: "env over file", args: []string{"--config", file},
			env: []string{"HUBD_LISTEN=127.0.0.1:9100", "HUBD_JWT_SECRET=env-secret", "HUBD_SOCKETIO__PING_INTERVAL=3s", "OTHER=x"},
			check: func(t *testing.T, c Config) {
				require.Equal(t, "127.0.0.1:9100", c.Listen)
				require.Equal(t, "env-secret", c.Auth.JWTSecret)
				require.Equal(t, 3*time.Second, c.SocketIO.PingInterval)
				require.Equal(t, filepath.Join(filepath.Dir(file), "from-file"), c.Hubs, "relative to the config file")
			}},
		{name: "flags over env", args: []string{"--config", file, "--listen", "127.0.0.1:0", "--jwt-secret", "flag-secret", "--data", "d2"},
			env: []string{"HUBD_LISTEN=127.0.0.1:9100", "HUBD_JWT_SECRET=env-secret"},
			check: func(t *testing.T, c Config) {
				require.Equal(t, "127.0.0.1:0", c.Listen)
				require.Equal(t, "flag-secret", c.Auth.JWTSecret)
				require.Equal(t, "d2", c.Data)
			}},
		{name: "admin listener default", check: func(t *testing.T, c Config) {
			require.Equal(t, "127.0.0.1:9090", c.Admin.Listen)
		}},
		{name: "admin listener from the environment", env: []string{"HUBD_ADMIN__LISTEN=127.0.0.1:9191"},
			check: func(t *testing.T, c Config) { require.Equal(t, "127.0.0.1:9191", c.Admin.Listen) }},
		{name: "admin listener flag over environment", args: []string{"--admin-listen", "127.0.0.1:0"},
			env:   []string{"HUBD_ADMIN__LISTEN=127.0.0.1:9191"},
			check: func(t *testing.T, c Config) { require.Equal(t, "127.0.0.1:0", c.Admin.Listen) }},
		{name: "admin listener off", args: []string{"--admin-listen", ""},
			check: func(t *testing.T, c Config) { require.Equal(t, "", c.Admin.Listen) }},
		{name: "transport limits default", check: func(t *testing.T, c Config) {
			require.Equal(t, 10, c.SocketIO.MaxAttachments)
			require.Equal(t, 5*time.Second, c.SocketIO.AttachmentTimeout)
			require.Equal(t, 16, c.SocketIO.MaxNamespaces)
		}},
		{name: "transport limits from the environment",
			env: []string{"HUBD_SOCKETIO__MAX_ATTACHMENTS=3", "HUBD_SOCKETIO__ATTACHMENT_TIMEOUT=1s", "HUBD_SOCKETIO__MAXNAMESPACES=4"},
			check: func(t *testing.T, c Config) {
				require.Equal(t, 3, c.SocketIO.MaxAttachments)
				require.Equal(t, time.Second, c.SocketIO.AttachmentTimeout)
				require.Equal(t, 4, c.SocketIO.MaxNamespaces)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := loadWith(t, tc.args, tc.env)
			require.NoError(t, err)
			tc.check(t, c)
		})
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("socketio: {pingInterval: soon}\n"), 0o600))
	tests := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{name: "missing file", args: []string{"--config", filepath.Join(dir, "none.yaml")}, want: "read config"},
		{name: "bad duration", args: []string{"--config", bad}, want: "decode config"},
		{name: "bad log format", args: []string{"--log-format", "xml"}, want: "log.format"},
		{name: "bad path", env: []string{"HUBD_SOCKETIO__PATH=socket"}, want: "socketio.path"},
		{name: "admin on the public address", args: []string{"--listen", "127.0.0.1:8080", "--admin-listen", "127.0.0.1:8080"}, want: "admin.listen"},
		{name: "no attachments", env: []string{"HUBD_SOCKETIO__MAX_ATTACHMENTS=0"}, want: "socketio.maxAttachments"},
		{name: "no attachment timeout", env: []string{"HUBD_SOCKETIO__ATTACHMENT_TIMEOUT=0s"}, want: "socketio.attachmentTimeout"},
		{name: "no namespaces", env: []string{"HUBD_SOCKETIO__MAX_NAMESPACES=-1"}, want: "socketio.maxNamespaces"},
		{name: "negative compression threshold", env: []string{"HUBD_SOCKETIO__HTTP_COMPRESSION_THRESHOLD=-1"},
			want: "socketio.httpCompressionThreshold"},
		{name: "negative deflate threshold", env: []string{"HUBD_SOCKETIO__PER_MESSAGE_DEFLATE_THRESHOLD=-5"},
			want: "socketio.perMessageDeflateThreshold"},
		{name: "memory limit ratio over 1", env: []string{"HUBD_MEMORYLIMITRATIO=1.5"}, want: "memoryLimitRatio"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadWith(t, tc.args, tc.env)
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestConfigEnvOverFileCaseInsensitive(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hubd.yaml")
	require.NoError(t, os.WriteFile(file, []byte("socketio:\n  maxPayload: 11111\n"), 0o600))
	c, err := loadWith(t, []string{"--config", file}, []string{"HUBD_SOCKETIO__MAXPAYLOAD=22222"})
	require.NoError(t, err)
	require.EqualValues(t, 22222, c.SocketIO.MaxPayload)
}

func TestHTTPCompressionThreshold(t *testing.T) {
	tests := []struct {
		name string
		cfg  SocketIOConfig
		want int
	}{
		{name: "defaults", cfg: DefaultConfig().SocketIO, want: 1024},
		{name: "off", cfg: SocketIOConfig{HTTPCompression: false, HTTPCompressionThreshold: 1024}, want: -1},
		{name: "every response", cfg: SocketIOConfig{HTTPCompression: true, HTTPCompressionThreshold: 0}, want: 1},
		{name: "custom", cfg: SocketIOConfig{HTTPCompression: true, HTTPCompressionThreshold: 4096}, want: 4096},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, httpCompressionThreshold(tc.cfg))
		})
	}
	require.False(t, DefaultConfig().SocketIO.PerMessageDeflate, "permessage-deflate is off by default")
}
