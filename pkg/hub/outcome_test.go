package hub

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
)

// lateCommitStore stores an append but answers ErrOutcomeUnknown while
// unknown is set: the commit went through, its answer was lost.
type lateCommitStore struct {
	msgstore.Store
	unknown atomic.Bool
}

func (s *lateCommitStore) Append(ctx context.Context, m *msgstore.Message) (*msgstore.Message, bool, error) {
	stored, created, err := s.Store.Append(ctx, m)
	if err == nil && s.unknown.Load() {
		return nil, false, fmt.Errorf("append: %w", msgstore.ErrOutcomeUnknown)
	}
	return stored, created, err
}

// readUntil reads frames until one contains all of parts; it returns it.
func readUntil(t *testing.T, c *websocket.Conn, parts ...string) string {
	t.Helper()
	for {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := c.ReadMessage()
		require.NoError(t, err)
		ok := true
		for _, p := range parts {
			ok = ok && strings.Contains(string(b), p)
		}
		if ok {
			return string(b)
		}
	}
}

// TestSendWithUnknownOutcome: the store took a message but its answer was
// lost. The sender gets OUTCOME_UNKNOWN, the room still gets the message
// (read back from the store), before what follows, and a retry with the
// same clientMessageId returns it without storing it twice.
func TestSendWithUnknownOutcome(t *testing.T) {
	defer func(w time.Duration) { unknownWait = w }(unknownWait)
	unknownWait = 10 * time.Millisecond
	var store *lateCommitStore
	e := newSocketEnv(t, func(d *Deps) {
		store = &lateCommitStore{Store: d.Store}
		d.Store = store
	})
	reader := e.join(t, "u1")
	sender := e.join(t, "u2")
	nsp := e.h.Namespace().Name()
	send := func(id int, body string) string {
		msg := fmt.Sprintf(`42%s,%d["hub:send",{"roomId":"r1","messageType":"text","content":{"body":%q},"clientMessageId":"c-%s"}]`, nsp, id, body, body)
		require.NoError(t, sender.WriteMessage(websocket.TextMessage, []byte(msg)))
		return readUntil(t, sender, fmt.Sprintf("43%s,%d", nsp, id))
	}
	store.unknown.Store(true)
	ack := send(10, "lost-answer")
	require.Contains(t, ack, `"code":"OUTCOME_UNKNOWN"`, ack)
	store.unknown.Store(false)
	arrived := readUntil(t, reader, "hub:messageArrived", "lost-answer")
	require.Contains(t, arrived, `"seq":1`)

	ack = send(11, "next")
	require.Contains(t, ack, `"ok":true`, ack)
	require.Contains(t, readUntil(t, reader, "hub:messageArrived"), "next", "delivered after the first, once")
	// The retry is safe: the original, not a second copy.
	ack = send(12, "lost-answer")
	require.Contains(t, ack, `"ok":true`, ack)
	require.Contains(t, ack, `"seq":1`, ack)
	list, err := store.List(context.Background(), e.h.name, "r1", msgstore.Query{})
	require.NoError(t, err)
	require.Len(t, list, 2)
}
