package hub

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"
	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/spec"
)

// BenchmarkSendEvent is a client's hub:send as the socket dispatcher runs
// it, from its payload to the bytes of its ack: the roomId decode, the
// membership and pre-checks, the request decode, the content check, the
// store commit (embedded, group commit), the sequencer and the room's
// broadcast (no socket of the room is local), then the ack. Parallel
// senders share the group commits; cpu-us/msg is the process CPU per
// message, which load from other processes does not inflate.
func BenchmarkSendEvent(b *testing.B) {
	e, c := newSendEnv(b)
	entry := InboundEvent("hub:send")
	payload := json.RawMessage(`{"roomId":"s1","messageType":"text","content":{"body":"1764000000123456789"}}`)
	ctx := context.Background()
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), testenv.ProcessCPU()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := sendAck(e.h, ctx, entry, &call{c: c, payload: payload}); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
	b.ReportMetric(float64((testenv.ProcessCPU()-cpu0).Microseconds())/float64(b.N), "cpu-us/msg")
}

// newSendEnv is a rules hub whose room s1 has alice as its one member,
// joined from a client without a socket; no rate limit is reached.
func newSendEnv(tb testing.TB) (*rulesEnv, *client) {
	e, c, _ := newSendEnvLimit(tb, math.MaxInt32, "")
	return e, c
}

// newSendEnvLimit is newSendEnv with a message rate limit and the member's
// rate key; it returns alice's actor too, as REST makes it.
func newSendEnvLimit(tb testing.TB, limit int, msgKey string) (*rulesEnv, *client, *Actor) {
	e := newRulesEnv(tb, func(hs *spec.Hub) { hs.Guardrails.MessageRateLimit = limit })
	a, err := e.h.ActorFor(context.Background(), sessionOf(alice), rulesRoom)
	require.NoError(tb, err)
	m := &member{userID: alice, roomID: rulesRoom, msgKey: msgKey, decision: &authz.Decision{HubRole: a.HubRole, Permissions: a.Permissions}}
	e.h.mu.Lock()
	r := newRoom(rulesRoom)
	r.members[alice] = m
	e.h.rooms[rulesRoom] = r
	e.h.mu.Unlock()
	return e, &client{sess: sessionOf(alice), rooms: joinedRooms{{id: rulesRoom, m: m}}}, a
}

// sendAck runs in as onEvent does and returns its ack's argument, as
// onEvent writes it.
func sendAck(h *Hub, ctx context.Context, entry *Inbound, in *call) ([]byte, error) {
	res, err := h.dispatch(ctx, entry, in)
	if err != nil {
		return nil, err
	}
	if in.sent != nil {
		return appendSendAck(make([]byte, 0, arrivedSize(in.sent)+32), in.sent), nil
	}
	return appendAck(make([]byte, 0, ackSize(res)), res)
}
