package hub

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/sio"
)

// heldStore is a message store whose List does not answer until released,
// whatever its context says: a store stuck in a call.
type heldStore struct {
	msgstore.Store
	lists    atomic.Int32
	entered  chan struct{}
	release  chan struct{}
	returned atomic.Bool
}

func (s *heldStore) List(ctx context.Context, hub, roomID string, q msgstore.Query) ([]*msgstore.Message, error) {
	s.lists.Add(1)
	s.entered <- struct{}{}
	<-s.release
	s.returned.Store(true)
	return nil, ctx.Err()
}

// TestCloseWaitsForBackgroundWork: a hub's background work (here the
// store read after an unknown write outcome) runs under the hub: Close
// ends its context and returns only after it returned, and once closed
// the hub starts none, whatever other nodes send, so nothing of the hub
// reaches the store after the daemon closed it.
func TestCloseWaitsForBackgroundWork(t *testing.T) {
	old := unknownWait
	unknownWait = time.Millisecond
	t.Cleanup(func() { unknownWait = old })
	held := &heldStore{entered: make(chan struct{}, 8), release: make(chan struct{})}
	e := newSocketEnv(t, func(d *Deps) {
		held.Store = d.Store
		d.Store = held
	})
	h := e.h

	h.afterUnknownOutcome("r1")
	<-held.entered
	closed := make(chan struct{})
	go func() {
		h.Close("test over")
		close(closed)
	}()
	require.Eventually(t, func() bool {
		h.tasks.mu.Lock()
		defer h.tasks.mu.Unlock()
		return h.tasks.closed
	}, 5*time.Second, time.Millisecond, "Close reached its background work")
	require.Error(t, h.tasks.ctx.Err(), "the background work's context ended")
	select {
	case <-closed:
		t.Fatal("Close returned while a store call of the hub still ran")
	default:
	}
	close(held.release)
	<-closed
	require.True(t, held.returned.Load())

	// Closed: operations from other nodes and unknown outcomes start nothing.
	lists := held.lists.Load()
	for _, op := range []string{opRemoveUser, opCloseRoom, opReauthorize, opCatchUp, opResync} {
		raw, err := json.Marshal(roomOp{Op: op, Room: "r1", User: "u1", Event: "hub:memberLeft", Payload: json.RawMessage(`{}`)})
		require.NoError(t, err)
		h.onServerSideEvent(&sio.Event{Name: clusterEvent, Args: []json.RawMessage{raw}})
	}
	h.afterUnknownOutcome("r1")
	require.False(t, h.spawn(func(context.Context) { t.Error("a task ran after Close") }))
	h.tasks.wg.Wait()
	require.Equal(t, lists, held.lists.Load(), "no store call after Close")
	h.Close("again") // idempotent
}
