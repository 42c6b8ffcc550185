package rest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/spec"
)

// fakeHub is an in-memory Hub. Room "r1" exists; "gone" does not; user
// "u9" is not authorized; "u8" is blocked. Errors set in errs are returned
// by the named method.
type fakeHub struct {
	spec *spec.Hub

	mu    sync.Mutex
	msgs  map[string]*msgstore.Message
	seq   int64
	errs  map[string]error
	calls []string
	list  hub.ListInput
}

var _ Hub = (*fakeHub)(nil)

var fakeTime = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

func newFakeHub(h *spec.Hub) *fakeHub {
	f := &fakeHub{spec: h, msgs: map[string]*msgstore.Message{}, errs: map[string]error{}}
	f.add("m1", "u1", msgstore.StatusPublished)
	f.add("m2", "u2", msgstore.StatusPending)
	return f
}

func (f *fakeHub) add(id, sender, status string) *msgstore.Message {
	f.seq++
	m := &msgstore.Message{ID: id, RoomID: "r1", Seq: f.seq, SenderID: sender, MessageType: "text",
		Content: json.RawMessage(`{"body":"hello"}`), Timestamp: fakeTime, Status: status}
	f.msgs[id] = m
	return m
}

func (f *fakeHub) record(format string, args ...any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := fmt.Sprintf(format, args...)
	f.calls = append(f.calls, call)
	for i := range call {
		if call[i] == ' ' {
			return f.errs[call[:i]]
		}
	}
	return f.errs[call]
}

func (f *fakeHub) message(a *hub.Actor, id string) (*msgstore.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.msgs[id]
	if !ok || m.RoomID != a.RoomID {
		return nil, &hub.Error{Code: hub.CodeNotFound, Message: "no message " + id}
	}
	cp := *m
	return &cp, nil
}

func (f *fakeHub) Spec() *spec.Hub { return f.spec }

func (f *fakeHub) Admit(_ context.Context, e *hub.Inbound, a *hub.Actor) error {
	return f.record("Admit %s %s", e.Name, a.UserID())
}

func (f *fakeHub) ActorFor(_ context.Context, sess *authz.Session, roomID string) (*hub.Actor, error) {
	if err := f.record("ActorFor %s %s", sess.UserID, roomID); err != nil {
		return nil, err
	}
	switch {
	case roomID == "gone":
		return nil, &hub.Error{Code: hub.CodeRoomNotFound, Message: "room not found", Details: map[string]string{"layer": "room"}}
	case sess.UserID == "u9":
		return nil, &hub.Error{Code: hub.CodeForbidden, Message: "not authorized for this room", Details: map[string]string{"layer": "authSources"}}
	case sess.UserID == "u8":
		return nil, &hub.Error{Code: hub.CodeBlocked, Message: "blocked in this room"}
	}
	perms := authz.DefaultPermissions()
	perms.CanModerate = sess.UserID == "mod"
	return &hub.Actor{Session: sess, RoomID: roomID, HubRole: "member", Permissions: perms}, nil
}

func (f *fakeHub) Send(_ context.Context, a *hub.Actor, in hub.SendInput) (*msgstore.Message, error) {
	if err := f.record("Send %s %s", a.RoomID, in.MessageType); err != nil {
		return nil, err
	}
	content, problems := f.spec.ValidateContent(in.MessageType, in.Content)
	if len(problems) > 0 {
		return nil, &hub.Error{Code: hub.CodeInvalidMessage, Message: "invalid message", Details: problems}
	}
	status := msgstore.StatusPublished
	if r, ok := f.spec.Role(a.HubRole); f.spec.Guardrails.GlobalModeration || (ok && r.Moderated) {
		status = msgstore.StatusPending
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	m := &msgstore.Message{ID: fmt.Sprintf("m%d", f.seq), RoomID: a.RoomID, Seq: f.seq, SenderID: a.UserID(),
		MessageType: in.MessageType, Content: content, Timestamp: fakeTime, Status: status,
		ReplyTo: in.ReplyTo, Forwarded: in.Forwarded, ClientMessageID: in.ClientMessageID}
	f.msgs[m.ID] = m
	return m, nil
}

func (f *fakeHub) ListMessages(_ context.Context, a *hub.Actor, in hub.ListInput) ([]*msgstore.Message, error) {
	if err := f.record("ListMessages %s", a.RoomID); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.list = in
	f.mu.Unlock()
	m, err := f.message(a, "m1")
	if err != nil {
		return nil, nil // another room: empty
	}
	return []*msgstore.Message{m}, nil
}

func (f *fakeHub) MessageRoom(_ context.Context, id string) (string, error) {
	if err := f.record("MessageRoom %s", id); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.msgs[id]; ok {
		return m.RoomID, nil
	}
	return "", &hub.Error{Code: hub.CodeNotFound, Message: "no message " + id}
}

func (f *fakeHub) GetMessage(_ context.Context, a *hub.Actor, id string) (*msgstore.Message, error) {
	if err := f.record("GetMessage %s", id); err != nil {
		return nil, err
	}
	return f.message(a, id)
}

func (f *fakeHub) EditMessage(_ context.Context, a *hub.Actor, id string, content json.RawMessage) (*msgstore.Message, error) {
	if err := f.record("EditMessage %s %s", id, content); err != nil {
		return nil, err
	}
	m, err := f.message(a, id)
	if err != nil {
		return nil, err
	}
	norm, problems := f.spec.ValidateContent(m.MessageType, content)
	if len(problems) > 0 {
		return nil, &hub.Error{Code: hub.CodeInvalidMessage, Message: "invalid message", Details: problems}
	}
	m.Content = norm
	edited := fakeTime.Add(time.Minute)
	m.EditedAt = &edited
	return m, nil
}

func (f *fakeHub) DeleteMessage(_ context.Context, a *hub.Actor, id string) (*msgstore.Message, error) {
	if err := f.record("DeleteMessage %s", id); err != nil {
		return nil, err
	}
	m, err := f.message(a, id)
	if err != nil {
		return nil, err
	}
	m.Status = msgstore.StatusDeleted
	return m, nil
}

func (f *fakeHub) React(_ context.Context, a *hub.Actor, id, emoji string) (*msgstore.Message, error) {
	if err := f.record("React %s %s", id, emoji); err != nil {
		return nil, err
	}
	m, err := f.message(a, id)
	if err != nil {
		return nil, err
	}
	m.Reaction, _ = json.Marshal([]map[string]string{{"emoji": emoji, "userId": a.UserID(), "timestamp": msgstore.FormatTime(fakeTime)}})
	return m, nil
}

func (f *fakeHub) Presence(_ context.Context, a *hub.Actor) ([]hub.PresenceEntry, error) {
	if err := f.record("Presence %s", a.RoomID); err != nil {
		return nil, err
	}
	return []hub.PresenceEntry{{UserID: "u1", Status: "online", Sockets: 2}, {UserID: "u2", Status: "away", Sockets: 1}}, nil
}

func (f *fakeHub) Receipts(_ context.Context, a *hub.Actor) ([]hub.Receipt, error) {
	if err := f.record("Receipts %s", a.RoomID); err != nil {
		return nil, err
	}
	return []hub.Receipt{{UserID: "u2", LastReadTimestamp: fakeTime}}, nil
}

func (f *fakeHub) Deliveries(_ context.Context, a *hub.Actor, id string) ([]hub.Delivery, error) {
	if err := f.record("Deliveries %s", id); err != nil {
		return nil, err
	}
	if _, err := f.message(a, id); err != nil {
		return nil, err
	}
	return []hub.Delivery{{UserID: "u2", DeliveredAt: fakeTime}}, nil
}

func (f *fakeHub) Unread(_ context.Context, a *hub.Actor) (int64, error) {
	if err := f.record("Unread %s", a.RoomID); err != nil {
		return 0, err
	}
	return 7, nil
}

func (f *fakeHub) EmitServerEvent(_ context.Context, roomID, event string, data json.RawMessage, toUserID string) error {
	return f.record("EmitServerEvent %s %s %s to=%q", roomID, event, data, toUserID)
}

func (f *fakeHub) PendingMessages(_ context.Context, a *hub.Actor) ([]*msgstore.Message, error) {
	if err := f.record("PendingMessages %s", a.RoomID); err != nil {
		return nil, err
	}
	m, err := f.message(a, "m2")
	if err != nil {
		return nil, err
	}
	return []*msgstore.Message{m}, nil
}

func (f *fakeHub) Approve(_ context.Context, a *hub.Actor, id string) (*msgstore.Message, error) {
	if err := f.record("Approve %s", id); err != nil {
		return nil, err
	}
	m, err := f.message(a, id)
	if err != nil {
		return nil, err
	}
	m.Status = msgstore.StatusPublished
	return m, nil
}

func (f *fakeHub) Reject(_ context.Context, a *hub.Actor, id, reason string) (*msgstore.Message, error) {
	if err := f.record("Reject %s %q", id, reason); err != nil {
		return nil, err
	}
	m, err := f.message(a, id)
	if err != nil {
		return nil, err
	}
	m.Status = msgstore.StatusRejected
	return m, nil
}

func (f *fakeHub) Block(_ context.Context, a *hub.Actor, userID, reason string, d time.Duration) error {
	return f.record("Block %s %s %q %s", a.RoomID, userID, reason, d)
}

func (f *fakeHub) Unblock(_ context.Context, a *hub.Actor, userID string) error {
	return f.record("Unblock %s %s", a.RoomID, userID)
}

func (f *fakeHub) Silence(_ context.Context, a *hub.Actor, userID string) error {
	return f.record("Silence %s %s", a.RoomID, userID)
}

func (f *fakeHub) Unsilence(_ context.Context, a *hub.Actor, userID string) error {
	return f.record("Unsilence %s %s", a.RoomID, userID)
}

func (f *fakeHub) Kick(_ context.Context, a *hub.Actor, userID, reason string) error {
	return f.record("Kick %s %s %q", a.RoomID, userID, reason)
}

func (f *fakeHub) UpdateRoom(_ context.Context, a *hub.Actor, settings json.RawMessage) (json.RawMessage, error) {
	if err := f.record("UpdateRoom %s %s", a.RoomID, settings); err != nil {
		return nil, err
	}
	return settings, nil
}
