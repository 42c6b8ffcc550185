package hub

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: every
// hub the tests start is closed, and Close waits for the hub's background
// work (tasks.go).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
