package server

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// Where the container's memory limit is read: cgroup v2, then v1.
var cgroupLimitFiles = []string{
	"sys/fs/cgroup/memory.max",
	"sys/fs/cgroup/memory/memory.limit_in_bytes",
}

// noLimitAbove: cgroup v1 reports "no limit" as a number near 2^63.
const noLimitAbove = 1 << 60

// cgroupMemoryLimit returns the memory limit of the container whose
// filesystem root is root, or 0 when it has none or it cannot be read.
func cgroupMemoryLimit(root string) int64 {
	for _, f := range cgroupLimitFiles {
		b, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n > noLimitAbove {
			return 0
		}
		return n
	}
	return 0
}

// memoryLimit is the soft memory limit hubd gives the Go runtime: ratio of
// the container's limit. 0 means none is set: GOMEMLIMIT is in the
// environment (the runtime already uses it), ratio is 0, or there is no
// container limit.
func memoryLimit(ratio float64, root string, getenv func(string) string) int64 {
	if ratio <= 0 || getenv("GOMEMLIMIT") != "" {
		return 0
	}
	limit := cgroupMemoryLimit(root)
	if limit == 0 {
		return 0
	}
	return int64(float64(limit) * ratio)
}

// applyMemoryLimit sets the runtime's soft memory limit from the container
// limit, so that the garbage collector works harder before the container
// is killed for memory instead of letting the heap double (GOGC=100).
func applyMemoryLimit(ratio float64, log *zap.Logger) {
	if n := memoryLimit(ratio, "/", os.Getenv); n > 0 {
		debug.SetMemoryLimit(n)
		log.Info("memory limit set from the container's", zap.Int64("bytes", n), zap.Float64("ratio", ratio))
	}
}
