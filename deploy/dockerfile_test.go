// Package deploy_test keeps the deployment files honest without Docker or
// Helm: the Dockerfile's build and copies, and the chart rendered with the
// template functions it uses.
package deploy_test

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// repoRoot is the repository root, relative to this package.
const repoRoot = ".."

// instruction is one Dockerfile instruction with its continuation lines
// joined.
type instruction struct {
	cmd  string // upper case
	args string
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	require.NoError(t, err)
	defer f.Close()
	var (
		out  []instruction
		cont string
	)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cont == "") {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cont += strings.TrimSuffix(line, "\\") + " "
			continue
		}
		line = cont + line
		cont = ""
		cmd, args, _ := strings.Cut(line, " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
	}
	require.NoError(t, sc.Err())
	require.Empty(t, cont, "dangling line continuation")
	return out
}

// dockerignore is a .dockerignore matcher: the last matching pattern wins, a
// "!" pattern re-includes, and a pattern matching a parent directory
// matches everything below it.
type dockerignore []string

func readDockerignore(t *testing.T) dockerignore {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	require.NoError(t, err)
	var d dockerignore
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			d = append(d, l)
		}
	}
	return d
}

func (d dockerignore) excluded(p string) bool {
	p = path.Clean(p)
	excluded := false
	for _, pat := range d {
		neg := strings.HasPrefix(pat, "!")
		pat = path.Clean(strings.TrimPrefix(pat, "!"))
		if globMatch(pat, p) {
			excluded = !neg
		}
	}
	return excluded
}

// globMatch matches p or one of its parent directories against pat, with
// "**" matching any number of directories.
func globMatch(pat, p string) bool {
	re := "^" + strings.NewReplacer(`\*\*/`, `(.*/)?`, `\*`, `[^/]*`, `\?`, `[^/]`).Replace(regexp.QuoteMeta(pat)) + "(/.*)?$"
	return regexp.MustCompile(re).MatchString(p)
}

func TestDockerignoreMatcher(t *testing.T) {
	d := dockerignore{"*", "!pkg/", "**/*_test.go", "**/testdata/"}
	tests := []struct {
		path string
		want bool
	}{
		{"README.md", true},
		{"pkg", false},
		{"pkg/msgstore/store.go", false},
		{"pkg/msgstore/store_test.go", true},
		{"pkg/spec/testdata/bad/x.yaml", true},
		{"bench/node/node_modules/ws/index.js", true},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			require.Equal(t, tc.want, d.excluded(tc.path))
		})
	}
}

func TestDockerfile(t *testing.T) {
	ins := readDockerfile(t)
	ignore := readDockerignore(t)
	var (
		froms, runs, copied []string
		last                = map[string]string{} // of the final stage
	)
	for _, in := range ins {
		switch in.cmd {
		case "FROM":
			froms = append(froms, in.args)
			last = map[string]string{}
		case "RUN":
			runs = append(runs, in.args)
		case "COPY":
			fields := strings.Fields(in.args)
			if strings.HasPrefix(fields[0], "--from=") {
				continue
			}
			var srcs []string
			for _, f := range fields[:len(fields)-1] {
				if !strings.HasPrefix(f, "--") {
					srcs = append(srcs, f)
				}
			}
			require.NotEmpty(t, srcs, "COPY %s", in.args)
			for _, s := range srcs {
				s = strings.TrimSuffix(s, "/")
				_, err := os.Stat(filepath.Join(repoRoot, s))
				require.NoError(t, err, "COPY source %s exists", s)
				require.False(t, ignore.excluded(s), "COPY source %s is not excluded by .dockerignore", s)
				copied = append(copied, s)
			}
		}
		last[in.cmd] = in.args
	}

	require.Len(t, froms, 2, "a build stage and a runtime stage")
	require.Regexp(t, `^golang:1\.26(\.\d+)?(-\S+)? AS build$`, froms[0])
	goMod, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	require.NoError(t, err)
	require.Regexp(t, `(?m)^go 1\.26(\.\d+)?$`, string(goMod), "the build image matches go.mod")
	build := `CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" ./cmd/hubd`
	found := false
	for _, r := range runs {
		found = found || strings.Contains(r, build)
	}
	require.True(t, found, "a RUN has %s", build)

	require.Equal(t, `["hubd"]`, last["ENTRYPOINT"])
	require.Equal(t, `["serve", "--config", "/etc/hubd/hubd.yaml"]`, last["CMD"])
	require.Equal(t, "8080 9090", last["EXPOSE"], "the public and the admin port")
	require.Equal(t, "HUBD_LISTEN=0.0.0.0:8080 HUBD_ADMIN__LISTEN=0.0.0.0:9090", last["ENV"])
	var vols []string
	require.NoError(t, json.Unmarshal([]byte(last["VOLUME"]), &vols))
	require.ElementsMatch(t, []string{"/etc/hubd", "/var/lib/hubd"}, vols)
	require.NotContains(t, []string{"", "root", "0", "0:0"}, last["USER"], "runs as a non-root user")

	// Every package of this module that the binary needs is copied, nothing
	// it embeds is excluded, and none needs cgo.
	cmd := exec.Command("go", "list", "-deps", "-f", `{{if .Module}}{{if .Module.Main}}{{.ImportPath}}|{{.Dir}}|{{len .CgoFiles}}|{{join .EmbedFiles ","}}{{end}}{{end}}`, "./cmd/hubd")
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "go list: %s", out)
	root, err := filepath.Abs(repoRoot)
	require.NoError(t, err)
	pkgs := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		require.Len(t, f, 4, "go list line %q", line)
		rel, err := filepath.Rel(root, f[1])
		require.NoError(t, err)
		rel = filepath.ToSlash(rel)
		under := false
		for _, c := range copied {
			under = under || rel == c || strings.HasPrefix(rel, c+"/")
		}
		require.True(t, under, "package %s (%s) is copied into the build stage", f[0], rel)
		require.False(t, ignore.excluded(rel), "package %s is not excluded", f[0])
		require.Equal(t, "0", f[2], "package %s has no cgo files", f[0])
		for _, e := range strings.Split(f[3], ",") {
			if e != "" {
				require.False(t, ignore.excluded(rel+"/"+e), "embedded file %s/%s is not excluded", rel, e)
			}
		}
		pkgs++
	}
	require.Greater(t, pkgs, 5, "go list found the module's packages")
}
