package sio

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Once full (a client's junk names are enough), an interner hands out the
// names it lacks without taking its lock: the dispatchers of every
// connection look their packets' names up in it.
func TestFullInternerTakesNoLock(t *testing.T) {
	var in interner
	for i := range maxInterned {
		in.str([]byte("junk" + strconv.Itoa(i)))
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	done := make(chan string, 1)
	go func() { done <- in.str([]byte("hub:send")) }()
	select {
	case s := <-done:
		require.Equal(t, "hub:send", s)
	case <-time.After(5 * time.Second):
		t.Fatal("a full interner's lookup waited for its lock")
	}
}
