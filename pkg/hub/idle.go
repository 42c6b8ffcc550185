package hub

import (
	"time"

	"github.com/hubd/hubd/pkg/sio"
)

// oversizeSlack is the room the Socket.IO envelope (event name, roomId,
// messageType, ...) may take on top of the content's maxMessageSize.
const oversizeSlack = 4 << 10

// applyGuardrails installs the per-hub packet size cap, enforced on the raw
// packet before any JSON is parsed.
func (h *Hub) applyGuardrails(def *Definition) {
	max := def.Spec.Guardrails.MaxMessageSize
	if max <= 0 {
		h.ns.SetMaxEventBytes(0, nil)
		return
	}
	h.ns.SetMaxEventBytes(max+oversizeSlack, h.onOversize)
}

// onOversize answers a packet over the cap without parsing it; the
// connection stays open.
func (h *Hub) onOversize(s *sio.Socket, ev *sio.Event, size int) {
	name := ev.Name
	if name == "" {
		name = "unknown"
	}
	err := errorf(CodeMessageTooLarge, "packet of %d bytes is larger than this hub allows", size)
	metricName := name
	if InboundEvent(name) == nil {
		metricName = "unknown"
	}
	h.fail(s, ev, metricName, nil, err)
}

// idleLoop disconnects sockets with no activity (no packets, no
// heartbeats) for the hub's connectionTimeout. It runs until stop closes.
func (h *Hub) idleLoop(stop <-chan struct{}) {
	const maxCheck = 5 * time.Second
	t := time.NewTimer(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		timeout := time.Duration(h.Spec().Guardrails.ConnectionTimeout) * time.Millisecond
		next := maxCheck
		if timeout > 0 {
			now := time.Now()
			for _, s := range h.ns.Sockets() {
				if idle := now.Sub(s.LastActivity()); idle >= timeout {
					h.log.Debug("idle socket disconnected")
					h.emitSocket(s, errorEvent(newError(CodeIdleTimeout, "connection idle for too long"), "", ""))
					s.Disconnect("idle timeout")
				}
			}
			if q := timeout / 4; q < next {
				next = q
			}
			if next < 50*time.Millisecond {
				next = 50 * time.Millisecond
			}
		}
		t.Reset(next)
	}
}
