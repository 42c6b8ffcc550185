package server

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a goroutine outlives the tests: no
// goroutine of a daemon outlives its Run, nor of a server whose test
// closed it.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
