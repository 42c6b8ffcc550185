package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"sync"
	"time"

	"github.com/google/uuid"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/sio"
	"github.com/hubd/hubd/pkg/spec"
)

// Script kinds: the Program names the scripting Observer reports, and so the
// label values of the script metrics.
const (
	ScriptKindState     = "state"
	ScriptKindHandler   = "handler"
	ScriptKindScheduled = "scheduled"
)

// compiledLogic is the compiled hubLogic of a Definition.
type compiledLogic struct {
	handlers map[string]*scripting.Program // by message type
	actions  []*scheduledAction
}

// scheduledAction is one compiled hubLogic.scheduledActions entry.
type scheduledAction struct {
	name      string
	interval  time.Duration
	keepAlive bool
	prog      *scripting.Program
}

// compileLogic compiles the message handlers and scheduled actions.
func compileLogic(hl *spec.HubLogic) (*compiledLogic, error) {
	cl := &compiledLogic{handlers: make(map[string]*scripting.Program, len(hl.MessageHandlers))}
	for i, mh := range hl.MessageHandlers {
		p, err := scripting.Compile(string(mh.Script))
		if err != nil {
			return nil, fmt.Errorf("hubLogic.messageHandlers[%d].script: %w", i, err)
		}
		p.Name = ScriptKindHandler
		cl.handlers[mh.MessageType] = p
	}
	for i, sa := range hl.ScheduledActions {
		p, err := scripting.Compile(string(sa.Script))
		if err != nil {
			return nil, fmt.Errorf("hubLogic.scheduledActions[%d].script: %w", i, err)
		}
		p.Name = ScriptKindScheduled
		cl.actions = append(cl.actions, &scheduledAction{
			name: sa.Name, interval: time.Duration(sa.IntervalMs) * time.Millisecond, keepAlive: sa.KeepAlive, prog: p,
		})
	}
	return cl, nil
}

// handler returns the compiled handler of a message type, or nil.
func (d *Definition) handler(messageType string) *scripting.Program {
	if d.logic == nil {
		return nil
	}
	return d.logic.handlers[messageType]
}

// action returns the compiled scheduled action called name, or nil.
func (d *Definition) action(name string) *scheduledAction {
	if d.logic == nil {
		return nil
	}
	for _, a := range d.logic.actions {
		if a.name == name {
			return a
		}
	}
	return nil
}

// logicState is the hub's live hubLogic state: the per-room queues that
// serialise handlers and scheduled ticks, and the running scheduled actions.
// The zero value is ready to use.
type logicState struct {
	mu     sync.Mutex
	queues map[string]*roomQueue
	sched  map[string]*roomSchedule // by room id
	frozen frozenCache
	// releasing counts lease releases running in the background.
	releasing sync.WaitGroup
}

// frozenCache holds the scripting.Frozen form of the context values that
// many script calls share, so that each script runtime converts them once:
// a session's claims (keyed by the session) and a room record (keyed by the
// record's map; records are snapshots that are replaced, never changed in
// place). A key keeps its session or record alive while cached.
type frozenCache struct {
	mu sync.Mutex
	m  map[any]*scripting.Frozen
}

// maxFrozenCached bounds the cache; it is emptied when full.
const maxFrozenCached = 4096

func (c *frozenCache) get(key, v any) *scripting.Frozen {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.m[key]; ok {
		return f
	}
	if c.m == nil || len(c.m) >= maxFrozenCached {
		c.m = make(map[any]*scripting.Frozen)
	}
	f := scripting.Freeze(v)
	c.m[key] = f
	return f
}

// claims returns the frozen claims of a session ({} when it has none).
func (c *frozenCache) claims(s *authz.Session) *scripting.Frozen {
	if s.Claims == nil {
		return c.get(s, map[string]any{})
	}
	return c.get(s, s.Claims)
}

// record returns the frozen room record, nil (null) for none.
func (c *frozenCache) record(r records.Record) *scripting.Frozen {
	if r == nil {
		return nil
	}
	return c.get(reflect.ValueOf(r).UnsafePointer(), map[string]any(r))
}

// roomQueue admits one holder at a time, in the order they asked.
type roomQueue struct {
	busy    bool
	waiters []chan struct{}
	refs    int // holders and waiters; the queue is dropped at zero
}

// acquire waits for the room's turn. The returned release must be called
// exactly once. Waiting ends early with ctx.
func (l *logicState) acquire(ctx context.Context, roomID string) (release func(), err error) {
	return l.enqueue(roomID)(ctx)
}

// enqueue takes a place in the room's queue now and returns the wait for
// its turn, which must be called exactly once.
func (l *logicState) enqueue(roomID string) func(ctx context.Context) (func(), error) {
	l.mu.Lock()
	if l.queues == nil {
		l.queues = make(map[string]*roomQueue)
	}
	q := l.queues[roomID]
	if q == nil {
		q = &roomQueue{}
		l.queues[roomID] = q
	}
	q.refs++
	release := func() { l.release(roomID, q) }
	if !q.busy {
		q.busy = true
		l.mu.Unlock()
		return func(context.Context) (func(), error) { return release, nil }
	}
	ch := make(chan struct{})
	q.waiters = append(q.waiters, ch)
	l.mu.Unlock()
	return func(ctx context.Context) (func(), error) { return l.wait(ctx, roomID, q, ch, release) }
}

// wait waits for the turn ch announces, or until ctx ends.
func (l *logicState) wait(ctx context.Context, roomID string, q *roomQueue, ch chan struct{}, release func()) (func(), error) {
	select {
	case <-ch:
		return release, nil
	case <-ctx.Done():
	}
	l.mu.Lock()
	for i, w := range q.waiters {
		if w == ch {
			q.waiters = append(q.waiters[:i], q.waiters[i+1:]...)
			q.refs--
			if q.refs == 0 {
				delete(l.queues, roomID)
			}
			l.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	l.mu.Unlock()
	// The turn was handed over just as ctx ended: pass it on.
	release()
	return nil, ctx.Err()
}

func (l *logicState) release(roomID string, q *roomQueue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	q.refs--
	if len(q.waiters) > 0 {
		next := q.waiters[0]
		q.waiters = q.waiters[1:]
		close(next) // busy stays true: the turn passes to next
		return
	}
	q.busy = false
	if q.refs == 0 && l.queues[roomID] == q {
		delete(l.queues, roomID)
	}
}

// Targets of a broadcast.
const (
	toAll    = "all"
	toOthers = "others"
	toSender = "sender"
	toUsers  = "users"
)

// target is where a message goes: everyone, everyone but the sender, the
// sender, or a list of user ids.
type target struct {
	kind  string
	users []string
}

// handlerResult is the validated return value of a message handler (or, with
// only serverMessages, of a scheduled action).
type handlerResult struct {
	accept       bool
	rejectReason string
	broadcast    bool
	to           target
	modified     json.RawMessage // nil: keep the content
	persist      bool
	server       []*serverMessage
}

// serverMessage is a message the script asks the hub to send as "system".
type serverMessage struct {
	typ     string
	content json.RawMessage
	to      target
	persist bool
}

// resultError is a script result that does not have the documented shape.
type resultError struct {
	field string
	msg   string
}

func (e *resultError) Error() string { return e.field + ": " + e.msg }

func badResult(field, format string, args ...any) error {
	return &resultError{field: field, msg: fmt.Sprintf(format, args...)}
}

// defaultRejectReason is sent when a handler rejects without a reason.
const defaultRejectReason = "rejected by the message handler"

var (
	handlerKeys   = []string{"accept", "rejectReason", "broadcast", "broadcastTo", "modifiedContent", "persist", "serverMessages"}
	scheduledKeys = []string{"serverMessages"}
	serverMsgKeys = []string{"type", "content", "to", "persist"}
)

// parseResult checks a script result. For a handler (handler true) accept
// is required; for a scheduled action only serverMessages is allowed and
// null/undefined means nothing to do. Server message contents are validated
// against their type; modifiedContent is left to the caller.
func parseResult(v any, hs *spec.Hub, handler bool) (handlerResult, error) {
	res := handlerResult{broadcast: true, persist: true, to: target{kind: toAll}}
	if v == nil && !handler {
		return res, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return handlerResult{}, badResult("result", "must be an object, got %s", jsKind(v))
	}
	keys := scheduledKeys
	if handler {
		keys = handlerKeys
	}
	if err := knownKeys("result", obj, keys); err != nil {
		return handlerResult{}, err
	}
	if handler {
		acc, ok := obj["accept"].(bool)
		if !ok {
			return handlerResult{}, badResult("result.accept", "must be true or false")
		}
		res.accept = acc
		res.rejectReason = defaultRejectReason
		if r, ok := obj["rejectReason"]; ok && r != nil {
			s, ok := r.(string)
			if !ok {
				return handlerResult{}, badResult("result.rejectReason", "must be a string")
			}
			if s != "" {
				res.rejectReason = s
			}
		}
		var err error
		if res.broadcast, err = optBool(obj, "broadcast", true); err != nil {
			return handlerResult{}, err
		}
		if res.persist, err = optBool(obj, "persist", true); err != nil {
			return handlerResult{}, err
		}
		if res.to, err = parseTarget("result.broadcastTo", obj["broadcastTo"]); err != nil {
			return handlerResult{}, err
		}
		if mc, ok := obj["modifiedContent"]; ok && mc != nil {
			if _, isObj := mc.(map[string]any); !isObj {
				return handlerResult{}, badResult("result.modifiedContent", "must be an object, got %s", jsKind(mc))
			}
			if res.modified, err = json.Marshal(mc); err != nil {
				return handlerResult{}, badResult("result.modifiedContent", "cannot be encoded: %v", err)
			}
		}
	}
	sm, ok := obj["serverMessages"]
	if !ok || sm == nil {
		return res, nil
	}
	list, ok := sm.([]any)
	if !ok {
		return handlerResult{}, badResult("result.serverMessages", "must be an array, got %s", jsKind(sm))
	}
	for i, item := range list {
		m, err := parseServerMessage(fmt.Sprintf("result.serverMessages[%d]", i), item, hs)
		if err != nil {
			return handlerResult{}, err
		}
		res.server = append(res.server, m)
	}
	return res, nil
}

func parseServerMessage(path string, v any, hs *spec.Hub) (*serverMessage, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, badResult(path, "must be an object, got %s", jsKind(v))
	}
	if err := knownKeys(path, obj, serverMsgKeys); err != nil {
		return nil, err
	}
	typ, _ := obj["type"].(string)
	if typ == "" {
		return nil, badResult(path+".type", "required")
	}
	if typ != string(spec.MessageSystem) && !hs.MessageTypeEnabled(typ) {
		return nil, badResult(path+".type", "message type %q is not enabled in this hub", typ)
	}
	raw, err := json.Marshal(obj["content"])
	if err != nil {
		return nil, badResult(path+".content", "cannot be encoded: %v", err)
	}
	content, problems := hs.ValidateContent(typ, raw)
	if len(problems) > 0 {
		p := problems[0]
		return nil, badResult(path+".content", "%s: %s", p.Field, p.Message)
	}
	m := &serverMessage{typ: typ, content: content}
	if m.to, err = parseTarget(path+".to", obj["to"]); err != nil {
		return nil, err
	}
	if m.persist, err = optBool(obj, "persist", true); err != nil {
		return nil, badResult(path+".persist", "must be true or false")
	}
	return m, nil
}

// parseTarget reads "all" | "others" | "sender" | [userId...]; absent is all.
func parseTarget(path string, v any) (target, error) {
	switch t := v.(type) {
	case nil:
		return target{kind: toAll}, nil
	case string:
		switch t {
		case toAll, toOthers, toSender:
			return target{kind: t}, nil
		}
		return target{}, badResult(path, `must be "all", "others", "sender" or an array of user ids, got %q`, t)
	case []any:
		users := make([]string, 0, len(t))
		for i, u := range t {
			s, ok := u.(string)
			if !ok || s == "" {
				return target{}, badResult(fmt.Sprintf("%s[%d]", path, i), "must be a user id string")
			}
			users = append(users, s)
		}
		return target{kind: toUsers, users: users}, nil
	}
	return target{}, badResult(path, `must be "all", "others", "sender" or an array of user ids, got %s`, jsKind(v))
}

func optBool(obj map[string]any, key string, def bool) (bool, error) {
	v, ok := obj[key]
	if !ok || v == nil {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, badResult("result."+key, "must be true or false")
	}
	return b, nil
}

func knownKeys(path string, obj map[string]any, keys []string) error {
	var unknown []string
	for k := range obj {
		known := false
		for _, want := range keys {
			if k == want {
				known = true
				break
			}
		}
		if !known {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return badResult(path, "unknown field %q", unknown[0])
	}
	return nil
}

func jsKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case bool:
		return "boolean"
	case int64, float64:
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// runHandler routes a validated message through the messageHandler of its
// type. Handlers of one room run one at a time in arrival order; the caller
// gets its answer once the result was applied (stored and emitted). A
// handler that fails (throws, times out, panics) or returns a malformed
// result rejects the message: nothing is stored or sent.
func (h *Hub) runHandler(ctx context.Context, a *Actor, def *Definition, prog *scripting.Program, msg *msgstore.Message) (*msgstore.Message, error) {
	release, err := h.logic.acquire(ctx, a.RoomID)
	if err != nil {
		return nil, wrapError(CodeUnavailable, "room is busy, try again", err)
	}
	if !h.ownsRoom(ctx, a.RoomID, true) {
		release()
		return h.forwardSend(ctx, a, msg)
	}
	defer release()
	return h.handleOwned(ctx, a, def, prog, msg)
}

// handleOwned runs a message handler on the room's owner, with the room's
// turn held.
func (h *Hub) handleOwned(ctx context.Context, a *Actor, def *Definition, prog *scripting.Program, msg *msgstore.Message) (*msgstore.Message, error) {
	// A repeated clientMessageId returns the message the first send stored,
	// without running the handler again. Looked up under the room queue, so a
	// repeat sent while the first is still handled waits for it.
	if msg.ClientMessageID != "" {
		orig, err := h.deps.Store.GetByClientID(ctx, h.name, msg.SenderID, msg.ClientMessageID)
		switch {
		case err == nil:
			return orig, nil
		case !errors.Is(err, msgstore.ErrNotFound):
			return nil, wrapError(CodeUnavailable, "message could not be checked", err)
		}
	}

	claims := h.logic.frozen.claims(a.Session)
	out, err := def.Scripts.EvalFields(ctx, prog, a.RoomID, newHandlerVars(msg, a.UserID(), h.logic.frozen.record(a.Room), a.RoomID, claims))
	if err != nil {
		return nil, h.handlerFailed(msg, err)
	}
	hs := def.Spec
	res, err := parseResult(out, hs, true)
	if err != nil {
		h.log.Warn("message handler returned an invalid result", zap.String("type", msg.MessageType),
			zap.String("room", a.RoomID), zap.Error(err))
		h.countScriptError(ScriptKindHandler)
		return nil, &Error{Code: CodeRejected, Message: "message handler returned an invalid result",
			Details: map[string]string{"reason": "invalid_result", "problem": err.Error()}, cause: err}
	}
	if res.modified != nil && res.accept {
		content, problems := hs.ValidateContent(msg.MessageType, res.modified)
		if len(problems) > 0 {
			details := make([]spec.FieldProblem, 0, len(problems))
			for _, p := range problems {
				p.Field = "content." + p.Field
				details = append(details, p)
			}
			return nil, &Error{Code: CodeInvalidMessage, Message: "modified content is invalid", Details: details}
		}
		msg.Content = content
	}
	var stored *msgstore.Message
	if res.accept {
		var to *target
		if res.broadcast {
			to = &res.to
		}
		if stored, err = h.deliver(ctx, msg, res.persist, to, a.UserID()); err != nil {
			return nil, err
		}
	}
	h.sendServerMessages(ctx, a.RoomID, res.server, a.UserID())
	if !res.accept {
		return nil, newError(CodeRejected, res.rejectReason)
	}
	return stored, nil
}

// handlerVars holds a handler call's variables and the members of its
// message variable, one allocation for both lists.
type handlerVars struct {
	vars [5]scripting.Field
	msg  [5]scripting.Field
}

// newHandlerVars gives a handler call's variables in name order: message,
// room, roomId, session and user.
func newHandlerVars(msg *msgstore.Message, sender string, room any, roomID string, claims any) scripting.Fields {
	hv := &handlerVars{}
	hv.vars = [5]scripting.Field{
		{Name: "message", Value: handlerMessage(hv.msg[:0], msg, sender)}, {Name: "room", Value: room},
		{Name: "roomId", Value: roomID}, {Name: "session", Value: claims}, {Name: "user", Value: claims},
	}
	return hv.vars[:]
}

// handlerMessage appends to m the message variable of a handler call: type,
// content, senderId, and clientMessageId and replyTo when set, in key
// order (as a map's members would be).
func handlerMessage(m scripting.Fields, msg *msgstore.Message, sender string) scripting.Fields {
	if msg.ClientMessageID != "" {
		m = append(m, scripting.Field{Name: "clientMessageId", Value: msg.ClientMessageID})
	}
	m = append(m, scripting.Field{Name: "content", Value: msg.Content})
	if len(msg.ReplyTo) > 0 {
		m = append(m, scripting.Field{Name: "replyTo", Value: msg.ReplyTo})
	}
	return append(m, scripting.Field{Name: "senderId", Value: sender}, scripting.Field{Name: "type", Value: msg.MessageType})
}

// handlerFailed logs a failed handler call and maps it to the client error.
func (h *Hub) handlerFailed(msg *msgstore.Message, err error) error {
	reason, text := "error", "message handler failed"
	var se *scripting.ScriptError
	if errors.As(err, &se) {
		switch se.Kind {
		case scripting.KindTimeout:
			reason, text = "timeout", "message handler timed out"
		case scripting.KindCanceled:
			reason, text = "canceled", "message handler did not finish in time"
		default:
			reason = se.Kind
		}
	}
	h.log.Warn("message handler failed", zap.String("type", msg.MessageType), zap.String("room", msg.RoomID),
		zap.String("reason", reason), zap.Error(err))
	return &Error{Code: CodeRejected, Message: text, Details: map[string]string{"reason": reason}, cause: err}
}

// countScriptError counts a script failure the engine did not see (a
// malformed result).
func (h *Hub) countScriptError(kind string) {
	if mt := h.deps.Metrics; mt != nil {
		mt.ScriptErrorsTotal.WithLabelValues(kind).Inc()
	}
}

// deliver stores msg when persist is set and emits it to `to` (nil: to
// nobody) once stored, in the room's sequence order. An unpersisted message
// gets an id and a timestamp but no sequence number and is emitted at once.
// A pending message (moderated sender) is always stored, since moderation
// works on stored messages, and goes to the moderators only.
func (h *Hub) deliver(ctx context.Context, msg *msgstore.Message, persist bool, to *target, sender string) (*msgstore.Message, error) {
	// A stored message keeps who it was for, so that history shows it
	// only to them.
	aud, nobody := audienceOf(to, sender)
	msg.Audience = aud
	if nobody && msg.Status != msgstore.StatusPending {
		persist = false
	}
	if !persist && msg.Status != msgstore.StatusPending {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, wrapError(CodeInternal, "message id", err)
		}
		msg.ID = id.String()
		msg.Timestamp = time.Now().UTC().Truncate(time.Millisecond)
		if to != nil && msg.Status == msgstore.StatusPublished {
			h.emitTo(msg, *to, sender)
		}
		return msg, nil
	}
	var onPublished func(*msgstore.Message) delivery
	if to != nil {
		t := *to
		onPublished = func(m *msgstore.Message) delivery { return h.targetDelivery(m, t, sender) }
	}
	return h.commit(ctx, msg, onPublished)
}

// sendServerMessages stores and emits the server messages of a script
// result, in order, as sender "system". sender is the user the "sender"
// and "others" targets refer to ("" for scheduled actions). A message that
// cannot be stored is logged and skipped.
func (h *Hub) sendServerMessages(ctx context.Context, roomID string, msgs []*serverMessage, sender string) {
	for _, sm := range msgs {
		m := &msgstore.Message{
			HubName: h.name, RoomID: roomID, SenderID: SystemSender, MessageType: sm.typ,
			Content: sm.content, Status: msgstore.StatusPublished,
		}
		to := sm.to
		if _, err := h.deliver(ctx, m, sm.persist, &to, sender); err != nil {
			h.log.Warn("server message not sent", zap.String("room", roomID), zap.String("type", sm.typ), zap.Error(err))
		}
	}
}

// SystemSender is the senderId of server messages.
const SystemSender = "system"

// emitTo sends hub:messageArrived for m to the target's sockets on every
// node at once (a message without a sequence number).
func (h *Hub) emitTo(m *msgstore.Message, to target, sender string) {
	d := h.targetDelivery(m, to, sender)
	switch d.To {
	case toReaders:
		h.emitRoom(m.RoomID, d.Event)
	case toTarget:
		h.deliverLocal(m.RoomID, d)
		h.toOtherNodes(opWith(roomOp{Op: opEmitTarget, Room: m.RoomID, Kind: d.Kind, Users: d.Users, User: d.Sender}, d.Event))
	}
}

// targetDelivery is the delivery of hub:messageArrived for m to a handler
// target. Targets are limited to the room's readers, except "sender",
// which reaches the sender's own sockets in the room. The payload is the
// one a published message gets (see arrived).
func (h *Hub) targetDelivery(m *msgstore.Message, to target, sender string) delivery {
	d := arrived(m)
	if to.kind == toAll || (to.kind == toOthers && sender == "") {
		d.To = toReaders
		return d
	}
	d.To, d.Kind, d.Users, d.Sender = toTarget, to.kind, to.users, sender
	return d
}

// emitTargetLocal sends hub:messageArrived to the target's sockets on this
// node.
func (h *Hub) emitTargetLocal(roomID string, to target, sender string, e Event, offset string) {
	for _, s := range h.targetSockets(roomID, to, sender) {
		h.emitSocketOffset(s, offset, e)
	}
}

// targetSockets resolves a target other than "all" to sockets.
func (h *Hub) targetSockets(roomID string, to target, sender string) []*sio.Socket {
	isReader := make(map[*sio.Socket]bool)
	for _, s := range h.ns.SocketsIn(readers(roomID)) {
		isReader[s] = true
	}
	var out []*sio.Socket
	h.mu.Lock()
	r := h.rooms[roomID]
	if r != nil {
		r.mu.Lock()
		switch to.kind {
		case toSender:
			if m := r.members[sender]; m != nil {
				for _, s := range m.sockets {
					out = append(out, s)
				}
			}
		case toOthers:
			var mine socketSet
			if m := r.members[sender]; m != nil {
				mine = m.sockets
			}
			for s := range isReader {
				if !mine.has(s) {
					out = append(out, s)
				}
			}
		case toUsers:
			seen := make(map[string]bool, len(to.users))
			for _, uid := range to.users {
				if seen[uid] {
					continue
				}
				seen[uid] = true
				if m := r.members[uid]; m != nil {
					for _, s := range m.sockets {
						if isReader[s] {
							out = append(out, s)
						}
					}
				}
			}
		}
		r.mu.Unlock()
	}
	h.mu.Unlock()
	return out
}
