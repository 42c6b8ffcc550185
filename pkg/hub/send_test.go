package hub

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/spec"
)

// flakyStore fails Append while down is set.
type flakyStore struct {
	msgstore.Store
	mu   sync.Mutex
	down bool
}

func (f *flakyStore) Append(ctx context.Context, m *msgstore.Message) (*msgstore.Message, bool, error) {
	f.mu.Lock()
	down := f.down
	f.mu.Unlock()
	if down {
		return nil, false, errors.Join(msgstore.ErrUnavailable, errors.New("connection refused"))
	}
	return f.Store.Append(ctx, m)
}

// eventLog records the data events the hub hands out.
type eventLog struct {
	mu  sync.Mutex
	ops []string
}

func (l *eventLog) MessageEvent(_ context.Context, _ *spec.Hub, op string, m *msgstore.Message) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, op+":"+m.ID)
}

func TestSendStoreDownIsUnavailableAndNothingIsPublished(t *testing.T) {
	e := newLogicEnv(t, scripting.Options{})
	flaky := &flakyStore{Store: e.store, down: true}
	events := &eventLog{}
	e.h.deps.Store = flaky
	e.h.deps.DataEvents = events
	a := e.actor("r1", "u1")
	e.addMember("r1", "u1")

	_, err := e.h.Send(context.Background(), a, SendInput{MessageType: "text", Content: json.RawMessage(`{"body":"lost?"}`)})
	ce := clientErr(t, err)
	require.Equal(t, CodeUnavailable, ce.Code)
	require.Empty(t, e.stored(t, "r1"), "nothing stored")
	require.Empty(t, events.ops, "nothing published")

	flaky.mu.Lock()
	flaky.down = false
	flaky.mu.Unlock()
	m, err := e.h.Send(context.Background(), a, SendInput{MessageType: "text", Content: json.RawMessage(`{"body":"now"}`)})
	require.NoError(t, err)
	require.Equal(t, int64(1), m.Seq, "the failed write used no sequence number")
	require.Equal(t, []string{"created:" + m.ID}, events.ops)
}

func TestListMessagesPagesBothWays(t *testing.T) {
	e := newLogicEnv(t, scripting.Options{})
	a := e.actor("r1", "u1")
	e.addMember("r1", "u1")
	var ids []string
	for i := 0; i < 5; i++ {
		m, err := e.h.Send(context.Background(), a, SendInput{MessageType: "text", Content: json.RawMessage(`{"body":"m"}`)})
		require.NoError(t, err)
		ids = append(ids, m.ID)
	}
	page := func(in ListInput) []string {
		msgs, err := e.h.ListMessages(context.Background(), a, in)
		require.NoError(t, err)
		var out []string
		for _, m := range msgs {
			out = append(out, m.ID)
		}
		return out
	}
	require.Equal(t, ids[3:], page(ListInput{Limit: 2}), "newest, oldest first")
	require.Equal(t, ids[1:3], page(ListInput{Before: ids[3], Limit: 2}), "backwards")
	require.Equal(t, ids[2:4], page(ListInput{After: ids[1], Limit: 2}), "forwards")
	_, err := e.h.ListMessages(context.Background(), a, ListInput{After: "no-such-id"})
	require.Equal(t, CodeNotFound, clientErr(t, err).Code)
}
