package hub

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/lease"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/records"
)

// One owner per room with logic. With Deps.Leases set (several nodes), a
// room's message handlers, state script and scheduled actions run only on
// the holder of the room's lease ("sched:<hub>:<roomId>", see schedule.go),
// so that they share one module state and one per-room queue cluster-wide.
// A node that is not the owner forwards a handler-bound send or a state
// request as a server-side event with a correlation id; the node holding
// the lease runs it on its room queue and answers with another server-side
// event, which the forwarding node relays to its client. Without leases
// (one node) nothing of this runs.
const (
	ownerRequestEvent = "hubd:ownerRequest"
	ownerReplyEvent   = "hubd:ownerReply"
	// forwardTimeout bounds the wait for the owner's answer (less when the
	// caller's context ends earlier). It is below leaseTTL, so a request
	// sent to an owner that died is answered before a new owner can run it.
	forwardTimeout = leaseTTL / 2
	// maxBorrowed bounds the leases held for rooms without members here.
	maxBorrowed = 4096
)

// Kinds of forwarded requests.
const (
	fwdSend  = "send"
	fwdState = "state"
)

// ownerRequest is a request forwarded to the room's owner.
type ownerRequest struct {
	ID      string            `json:"id"`
	Kind    string            `json:"kind"`
	Room    string            `json:"room"`
	User    string            `json:"user"`
	RoleID  string            `json:"roleId,omitempty"`
	Claims  map[string]any    `json:"claims,omitempty"`
	Record  records.Record    `json:"record,omitempty"`
	Message *msgstore.Message `json:"message,omitempty"`
}

// ownerReply is the owner's answer: a stored message, a state, or an error.
type ownerReply struct {
	ID      string            `json:"id"`
	Message *msgstore.Message `json:"message,omitempty"`
	State   json.RawMessage   `json:"state,omitempty"`
	Error   *Error            `json:"error,omitempty"`
}

// ownerState is the forwarding side: requests waiting for their answer, and
// leases held for rooms that have no members on this node (a REST send).
type ownerState struct {
	mu       sync.Mutex
	pending  map[string]chan *ownerReply
	borrowed map[string]*roomLease
}

// ownerLease returns this node's lease view of the room: the running
// schedule's, else a borrowed one (created when create is set).
func (h *Hub) ownerLease(roomID string, create bool) *roomLease {
	if rl := h.logic.leaseOf(roomID); rl != nil {
		return rl
	}
	o := &h.owner
	o.mu.Lock()
	defer o.mu.Unlock()
	rl := o.borrowed[roomID]
	if rl == nil && create {
		if o.borrowed == nil || len(o.borrowed) >= maxBorrowed {
			o.borrowed = make(map[string]*roomLease)
		}
		rl = &roomLease{key: h.leaseKey(roomID)}
		o.borrowed[roomID] = rl
	}
	return rl
}

// forgetBorrowed drops a borrowed lease view that no longer holds.
func (h *Hub) forgetBorrowed(roomID string, rl *roomLease) {
	o := &h.owner
	o.mu.Lock()
	if o.borrowed[roomID] == rl {
		delete(o.borrowed, roomID)
	}
	o.mu.Unlock()
}

// takeBorrowed hands a borrowed lease view to the room's new schedule.
func (h *Hub) takeBorrowed(roomID string) *roomLease {
	o := &h.owner
	o.mu.Lock()
	defer o.mu.Unlock()
	rl := o.borrowed[roomID]
	delete(o.borrowed, roomID)
	return rl
}

func (h *Hub) leaseKey(roomID string) string { return "sched:" + h.name + ":" + roomID }

// ownsRoom reports whether this node runs the room's logic. Called with
// the room's turn held. Without leases the node is alone and owns every
// room.
func (h *Hub) ownsRoom(ctx context.Context, roomID string, create bool) bool {
	if h.deps.Leases == nil {
		return true
	}
	rl := h.ownerLease(roomID, create)
	if rl == nil {
		return false
	}
	if h.mayRun(ctx, roomID, rl) {
		return true
	}
	h.forgetBorrowed(roomID, rl)
	return false
}

// forward sends req to the room's owner and waits for its answer, at most
// forwardTimeout. No answer in time means the owner may have run it.
func (h *Hub) forward(ctx context.Context, req ownerRequest) (*ownerReply, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return nil, wrapError(CodeInternal, "request id", err)
	}
	req.ID = id.String()
	ch := make(chan *ownerReply, 1)
	o := &h.owner
	o.mu.Lock()
	if o.pending == nil {
		o.pending = make(map[string]chan *ownerReply)
	}
	o.pending[req.ID] = ch
	o.mu.Unlock()
	defer func() {
		o.mu.Lock()
		delete(o.pending, req.ID)
		o.mu.Unlock()
	}()
	if err := h.ns.ServerSideEmit(ownerRequestEvent, req); err != nil {
		h.countForward(req.Kind, "unpublished")
		return nil, wrapError(CodeUnavailable, "the room's owner node could not be reached, try again", err)
	}
	t := time.NewTimer(forwardTimeout)
	defer t.Stop()
	select {
	case rep := <-ch:
		h.countForward(req.Kind, "answered")
		return rep, nil
	case <-t.C:
	case <-ctx.Done():
	}
	// Ask for the lease at the next chance: the owner may be gone.
	if rl := h.ownerLease(req.Room, false); rl != nil {
		rl.recheck.Store(true)
	}
	h.countForward(req.Kind, "no_answer")
	h.log.Warn("the room's owner node did not answer", zap.String("room", req.Room), zap.String("kind", req.Kind))
	return nil, errNoOwnerAnswer
}

var errNoOwnerAnswer = errors.New("no answer from the room's owner node")

// onOwnerReply hands an answer to the request waiting for it.
func (h *Hub) onOwnerReply(raw json.RawMessage) {
	var rep ownerReply
	if err := json.Unmarshal(raw, &rep); err != nil || rep.ID == "" {
		return
	}
	o := &h.owner
	o.mu.Lock()
	ch := o.pending[rep.ID]
	delete(o.pending, rep.ID)
	o.mu.Unlock()
	if ch != nil {
		ch <- &rep
	}
}

// refusedNow reports whether the cached answer of the leaser refused the
// lease and is not due for renewal yet: this node cannot be the owner.
func (rl *roomLease) refusedNow(now time.Time) bool {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	return !rl.held && now.Before(rl.next) && !rl.recheck.Load()
}

// onOwnerRequest runs a forwarded request when this node owns the room.
// A node with no lease view of the room, or whose last ask was refused,
// cannot own it and ignores the request without leaving the adapter's
// goroutine; otherwise the request
// takes its place in the room's queue in arrival order.
func (h *Hub) onOwnerRequest(raw json.RawMessage) {
	var req ownerRequest
	if err := json.Unmarshal(raw, &req); err != nil || req.ID == "" || req.Room == "" {
		h.log.Warn("malformed owner request from another node", zap.Error(err))
		return
	}
	if h.deps.Leases == nil {
		return
	}
	if rl := h.ownerLease(req.Room, false); rl == nil || rl.refusedNow(lease.Now(h.deps.Leases)) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), forwardTimeout)
	wait := h.logic.enqueue(req.Room)
	started := h.spawn(func(hctx context.Context) {
		defer cancel()
		defer context.AfterFunc(hctx, cancel)() // the hub closing ends the request
		release, err := wait(ctx)
		if err != nil {
			return
		}
		defer release()
		if !h.ownsRoom(ctx, req.Room, false) {
			return
		}
		rep := h.serveOwnerRequest(ctx, &req)
		rep.ID = req.ID
		if err := h.ns.ServerSideEmit(ownerReplyEvent, rep); err != nil {
			h.log.Warn("owner reply not sent", zap.String("room", req.Room), zap.Error(err))
		}
	})
	if !started { // the hub closed: the turn is given up at once
		cancel()
		if release, err := wait(ctx); err == nil {
			release()
		}
	}
}

// serveOwnerRequest runs a forwarded request with the room's turn held.
func (h *Hub) serveOwnerRequest(ctx context.Context, req *ownerRequest) *ownerReply {
	a := &Actor{
		Session: &authz.Session{UserID: req.User, RoleID: req.RoleID, Claims: req.Claims},
		RoomID:  req.Room, Room: req.Record,
	}
	def := h.Definition()
	switch req.Kind {
	case fwdSend:
		if req.Message == nil {
			return &ownerReply{Error: newError(CodeBadRequest, "no message")}
		}
		msg := req.Message
		msg.HubName, msg.RoomID, msg.SenderID = h.name, req.Room, req.User
		prog := def.handler(msg.MessageType)
		if prog == nil {
			return &ownerReply{Error: errorf(CodeTypeNotAllowed, "no handler for %q", msg.MessageType)}
		}
		stored, err := h.handleOwned(ctx, a, def, prog, msg)
		if err != nil {
			return &ownerReply{Error: clientError(err)}
		}
		return &ownerReply{Message: stored}
	case fwdState:
		state, err := h.evalState(ctx, a.Session, req.Room, req.Record)
		if err != nil {
			return &ownerReply{Error: newError(CodeInternal, "state unavailable")}
		}
		return &ownerReply{State: state}
	}
	return &ownerReply{Error: errorf(CodeBadRequest, "unknown request %q", req.Kind)}
}

// clientError is err as the error a client sees.
func clientError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return wrapError(CodeInternal, "internal error", err)
}

// forwardSend hands a handler-bound message to the room's owner.
func (h *Hub) forwardSend(ctx context.Context, a *Actor, msg *msgstore.Message) (*msgstore.Message, error) {
	rep, err := h.forward(ctx, h.actorRequest(fwdSend, a, a.RoomID, a.Room, msg))
	if errors.Is(err, errNoOwnerAnswer) {
		return nil, wrapError(CodeOutcomeUnknown,
			"the room's owner node did not answer in time: the message may have been handled; retrying with the same clientMessageId is safe", err)
	}
	if err != nil {
		return nil, err
	}
	if rep.Error != nil {
		return nil, rep.Error
	}
	if rep.Message != nil {
		rep.Message.HubName = h.name
	}
	return rep.Message, nil
}

// forwardState asks the room's owner for the state script's answer.
func (h *Hub) forwardState(ctx context.Context, s *authz.Session, roomID string, room records.Record) (json.RawMessage, error) {
	rep, err := h.forward(ctx, ownerRequest{Kind: fwdState, Room: roomID, User: s.UserID, RoleID: s.RoleID, Claims: s.Claims, Record: room})
	if err != nil {
		return nil, err
	}
	if rep.Error != nil {
		return nil, rep.Error
	}
	return rep.State, nil
}

func (h *Hub) actorRequest(kind string, a *Actor, roomID string, room records.Record, msg *msgstore.Message) ownerRequest {
	return ownerRequest{Kind: kind, Room: roomID, User: a.UserID(), RoleID: a.Session.RoleID, Claims: a.Session.Claims,
		Record: room, Message: msg}
}

func (h *Hub) countForward(kind, result string) {
	if mt := h.deps.Metrics; mt != nil {
		mt.OwnerForwards.WithLabelValues(h.name, kind, result).Inc()
	}
}
