package server

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Version is hubd's version. Release builds set it:
//
//	go build -ldflags "-X github.com/hubd/hubd/pkg/server.Version=v1.2.0" ./cmd/hubd
//
// Without it, the module version of the build is used ("(devel)" for a
// build from a work tree).
var Version = ""

// Commit is the VCS revision, set the same way (-X ...server.Commit=abc123)
// when the build has no VCS data of its own.
var Commit = ""

// BuildInfo is what `hubd version` prints and hubd_build_info exports.
type BuildInfo struct {
	Version   string
	Commit    string // VCS revision, "+dirty" when the tree had changes; "unknown" without VCS data
	GoVersion string
}

// ReadBuildInfo returns the version, commit and Go version of this binary.
func ReadBuildInfo() BuildInfo {
	b := BuildInfo{Version: Version, Commit: Commit, GoVersion: runtime.Version()}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		if b.Version == "" {
			b.Version = "unknown"
		}
		return b
	}
	if b.Version == "" {
		b.Version = info.Main.Version
	}
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			if Commit == "" {
				b.Commit = s.Value
			}
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && b.Commit != "unknown" {
		b.Commit += "+dirty"
	}
	return b
}

func (b BuildInfo) String() string {
	return fmt.Sprintf("hubd %s (commit %s, %s)", b.Version, b.Commit, b.GoVersion)
}

// buildInfoGauge is hubd_build_info: 1, labelled with the build.
func buildInfoGauge(b BuildInfo) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "hubd_build_info", Help: "Always 1; the labels say which hubd build runs.",
	}, []string{"version", "commit", "goversion"})
	g.WithLabelValues(b.Version, b.Commit, b.GoVersion).Set(1)
	return g
}
