package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMemoryLimit(t *testing.T) {
	write := func(t *testing.T, root, file, content string) {
		p := filepath.Join(root, file)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	}
	env := func(vars map[string]string) func(string) string {
		return func(k string) string { return vars[k] }
	}
	cases := []struct {
		name  string
		files map[string]string
		ratio float64
		env   map[string]string
		want  int64
	}{
		{"cgroup v2 limit", map[string]string{"sys/fs/cgroup/memory.max": "1073741824\n"}, 0.9, nil, 966367641},
		{"cgroup v2 without limit", map[string]string{"sys/fs/cgroup/memory.max": "max\n"}, 0.9, nil, 0},
		{"cgroup v1 limit", map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912"}, 0.5, nil, 268435456},
		{"cgroup v1 without limit", map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712"}, 0.9, nil, 0},
		{"no cgroup files", nil, 0.9, nil, 0},
		{"garbage", map[string]string{"sys/fs/cgroup/memory.max": "lots"}, 0.9, nil, 0},
		{"GOMEMLIMIT set wins", map[string]string{"sys/fs/cgroup/memory.max": "1073741824"}, 0.9, map[string]string{"GOMEMLIMIT": "700MiB"}, 0},
		{"ratio 0 disables", map[string]string{"sys/fs/cgroup/memory.max": "1073741824"}, 0, nil, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for f, c := range tc.files {
				write(t, root, f, c)
			}
			require.Equal(t, tc.want, memoryLimit(tc.ratio, root, env(tc.env)))
		})
	}
}
