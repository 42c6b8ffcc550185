package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/metrics"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/sio"
)

// newOwnerCluster is newCluster whose two hubs also share the message
// store and an in-process Socket.IO bus, as two nodes on PostgreSQL and
// Redis do.
func newOwnerCluster(t *testing.T) *cluster {
	t.Helper()
	c := newCluster(t, "testdata/logic/hub.yaml")
	c.b.h.deps.Store, c.b.store = c.a.store, c.a.store
	ad := sio.NewMemoryAdapter()
	require.NoError(t, sio.NewServer(sio.Options{Adapter: ad}).Attach(c.a.h.Namespace()))
	require.NoError(t, sio.NewServer(sio.Options{Adapter: ad.Peer()}).Attach(c.b.h.Namespace()))
	c.b.h.deps.Metrics = metrics.NewUnregistered()
	return c
}

// forwards is b's count of forwarded requests of kind with result.
func (c *cluster) forwards(t *testing.T, kind, result string) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.b.h.deps.Metrics.OwnerForwards.WithLabelValues(c.b.h.Name(), kind, result).Write(&m))
	return m.GetCounter().GetValue()
}

func countOf(t *testing.T, m *msgstore.Message) int {
	t.Helper()
	var c struct {
		Num int `json:"num"`
	}
	require.NoError(t, json.Unmarshal(m.Content, &c))
	return c.Num
}

func TestRoomLogicRunsOnItsOwnerOnly(t *testing.T) {
	c := newOwnerCluster(t)
	const room = "duel"
	c.a.addMember(room, "u1")
	c.a.h.roomActive(room, nil)
	c.b.addMember(room, "u2")
	c.b.h.roomActive(room, nil)
	ua, ub := c.a.actor(room, "u1"), c.b.actor(room, "u2")

	first, err := c.a.send(ua, `{"op":"count"}`)
	require.NoError(t, err)
	require.Equal(t, 1, countOf(t, first))
	require.Equal(t, c.la.Node(), c.la.Holder("sched:"+c.a.h.Name()+":"+room), "the first sender's node owns the room")

	// Both nodes send at once: every handler call runs on a, one at a
	// time, each seeing the one before (one module state, one queue).
	const each = 15
	var wg sync.WaitGroup
	nums := make(chan int, 2*each)
	for _, s := range []struct {
		e *logicEnv
		a *Actor
	}{{c.a, ua}, {c.b, ub}} {
		for i := 0; i < each; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				m, err := s.e.send(s.a, fmt.Sprintf(`{"op":"count","arg":"%d"}`, i))
				if err != nil {
					t.Errorf("send: %v", err)
					return
				}
				nums <- countOf(t, m)
			}(i)
		}
	}
	wg.Wait()
	close(nums)
	var got []int
	for n := range nums {
		got = append(got, n)
	}
	sort.Ints(got)
	for i, n := range got {
		require.Equal(t, i+2, n, "each count once: %v", got)
	}
	stored := c.a.stored(t, room)
	require.Len(t, stored, 2*each+1)
	for i, m := range stored {
		require.Equal(t, i+1, countOf(t, m), "handled in seq order")
	}
}

func TestForwardedSendIsHandledOnceByClientMessageID(t *testing.T) {
	c := newOwnerCluster(t)
	const room = "retry"
	c.a.addMember(room, "u1")
	c.a.h.roomActive(room, nil)
	_, err := c.a.send(c.a.actor(room, "u1"), `{"op":"count"}`)
	require.NoError(t, err)

	ub := c.b.actor(room, "u2")
	in := SendInput{MessageType: "cmd", Content: json.RawMessage(`{"op":"count"}`), ClientMessageID: "c-1"}
	m1, err := c.b.h.Send(context.Background(), ub, in)
	require.NoError(t, err)
	m2, err := c.b.h.Send(context.Background(), ub, in)
	require.NoError(t, err)
	require.Equal(t, m1.ID, m2.ID)
	require.Equal(t, 2, countOf(t, m2))
	m3, err := c.a.send(c.a.actor(room, "u1"), `{"op":"count"}`)
	require.NoError(t, err)
	require.Equal(t, 3, countOf(t, m3), "the retry did not run the handler")
	require.Len(t, c.a.stored(t, room), 3)
	require.Equal(t, 2.0, c.forwards(t, fwdSend, "answered"), "both sends of b went to a")
}

func TestOwnerGoneAnswersOutcomeUnknownThenTakenOver(t *testing.T) {
	c := newOwnerCluster(t)
	const room = "takeover"
	key := "sched:" + c.a.h.Name() + ":" + room
	c.a.addMember(room, "u1")
	c.a.h.roomActive(room, nil)
	c.b.addMember(room, "u2")
	c.b.h.roomActive(room, nil)
	_, err := c.a.send(c.a.actor(room, "u1"), `{"op":"count"}`)
	require.NoError(t, err)
	require.Equal(t, c.la.Node(), c.la.Holder(key))

	// a dies: it stops answering and renewing.
	c.a.h.Namespace().OnServerSideEvent(func(*sio.Event) {})
	ub := c.b.actor(room, "u2")
	in := SendInput{MessageType: "cmd", Content: json.RawMessage(`{"op":"count"}`), ClientMessageID: "k-1"}
	_, err = c.b.h.Send(context.Background(), ub, in)
	var he *Error
	require.ErrorAs(t, err, &he)
	require.Equal(t, CodeOutcomeUnknown, he.Code)
	require.Equal(t, 1.0, c.forwards(t, fwdSend, "no_answer"))

	// Once the lease ran out, b owns the room and the retry is handled there.
	c.clock.Advance(leaseTTL)
	m, err := c.b.h.Send(context.Background(), ub, in)
	require.NoError(t, err)
	require.Equal(t, 1, countOf(t, m), "b's own module state")
	require.Equal(t, c.lb.Node(), c.la.Holder(key))
}
