package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/hub"
)

// Events emitted to rooms by the auto-bridge (declared in pkg/hub).
var (
	EventRoomUpdated  = hub.OutRoomUpdated.Name()
	EventRoomClosed   = hub.OutRoomClosed.Name()
	EventMemberJoined = hub.OutMemberJoined.Name()
	EventMemberLeft   = hub.OutMemberLeft.Name()
)

// Reasons a room is closed (payload field "reason").
const (
	CloseDeleted    = "deleted"
	CloseInactive   = "inactive"
	CloseIneligible = "ineligible"
)

// applied collects the dedup keys of the records one poll applied; they
// are marked together, before the poll's offsets are committed.
type applied struct {
	keys []string
	set  map[string]bool
}

func (a *applied) add(key string) {
	if a.set == nil {
		a.set = map[string]bool{}
	}
	a.set[key] = true
	a.keys = append(a.keys, key)
}

// handle applies one record unless it was applied before (in this poll or,
// per the dedup store, earlier) and adds its key to done. It reports false
// when it left the record alone because ctx ended (shutdown) before the
// dedup store answered: the record must not be committed, the next
// consumer of its partition decides.
func (b *Bridge) handle(ctx context.Context, r *routes, rec *kgo.Record, done *applied) bool {
	if len(r.topics[rec.Topic]) == 0 {
		return true // a topic dropped by a reload while its records were in flight
	}
	key := eventKey(rec)
	seen := done.set[key]
	if !seen {
		var known bool
		if seen, known = b.seen(ctx, key); !known {
			return false
		}
	}
	if seen {
		b.health.duplicates.Inc()
		b.log.Debug("event applied before; skipped", zap.String("topic", rec.Topic), zap.Int32("partition", rec.Partition), zap.Int64("offset", rec.Offset))
		return true
	}
	b.apply(ctx, r, rec)
	done.add(key)
	return true
}

// apply delivers one record to every hub that consumes its topic. It never
// fails: a record that cannot be used is logged, counted and skipped so the
// partition moves on.
func (b *Bridge) apply(ctx context.Context, r *routes, rec *kgo.Record) {
	rts := r.topics[rec.Topic]
	log := b.log.With(zap.String("topic", rec.Topic), zap.Int32("partition", rec.Partition), zap.Int64("offset", rec.Offset))
	var doc map[string]any // data events: decoded once for every hub
	var docErr error
	decoded := false
	for _, rt := range rts {
		octx, cancel := context.WithTimeout(ctx, b.opts.OpTimeout)
		var res string
		if rt.kind == KindKafkaEvent {
			res = b.kafkaEvent(octx, rt, rec.Value, log)
		} else {
			if !decoded {
				doc, docErr = decodeObject(rec.Value)
				decoded = true
			}
			switch {
			case docErr != nil:
				log.Warn("malformed data event skipped", zap.String("hub", rt.target.Name()), zap.Error(docErr))
				res = ResultMalformed
			case rt.kind == KindRoom:
				res = b.roomEvent(octx, rt, doc, log)
			default:
				res = b.memberEvent(octx, rt, doc, log)
			}
		}
		cancel()
		b.opts.Observer("in", rt.kind, res)
	}
}

// dataEventError is a data event payload that is not a JSON object.
type dataEventError struct{ err error }

func (e *dataEventError) Error() string { return "data event is not a JSON object: " + e.err.Error() }
func (e *dataEventError) Unwrap() error { return e.err }

func decodeObject(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, &dataEventError{err: err}
	}
	if m == nil {
		return nil, &dataEventError{err: errNull}
	}
	return m, nil
}

var errNull = errors.New("null")

// unwrap finds the record of a data event: `{ old_<object>, <object> }` or
// `{ <object> }` give the record under the object name, anything else is
// the record itself.
func unwrap(doc map[string]any, object string) (rec, old map[string]any) {
	if r, ok := doc[object].(map[string]any); ok {
		old, _ = doc["old_"+object].(map[string]any)
		return r, old
	}
	return doc, nil
}

// idOf turns a JSON id (string or number) into a string; "" if it is
// neither.
func idOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	}
	return ""
}

func inactive(rec map[string]any) bool {
	v, ok := rec["isActive"].(bool)
	return ok && !v
}

// roomEvent handles an update or delete of the room DataObject.
func (b *Bridge) roomEvent(ctx context.Context, rt route, doc map[string]any, log *zap.Logger) string {
	rec, old := unwrap(doc, rt.object)
	roomID := idOf(rec["id"])
	if roomID == "" {
		log.Warn("room data event without an id skipped", zap.String("hub", rt.target.Name()))
		return ResultMalformed
	}
	t := rt.target
	reason := ""
	switch {
	case rt.op == OpDeleted:
		reason = CloseDeleted
	case inactive(rec):
		reason = CloseInactive
	case rt.eligibility != nil:
		ok, err := t.Definition().Scripts.EvalBool(ctx, rt.eligibility, roomID, map[string]any{rt.object: rec, "room": rec})
		if err != nil {
			// Joins fail closed on this error; open sessions are kept, a
			// rejoin will be refused.
			log.Warn("roomEligibility failed on a room update; room kept open", zap.String("hub", t.Name()), zap.Error(err))
		} else if !ok {
			reason = CloseIneligible
		}
	}
	if reason != "" {
		b.systemMessage(ctx, t, roomID, "roomClosed", hub.SystemData{Reason: reason}, log)
		t.CloseRoom(roomID, hub.RoomClosed{Reason: reason, Record: rec, RoomID: roomID})
		return ResultHandled
	}
	t.BridgeEvent(roomID, hub.OutRoomUpdated.Of(hub.RoomUpdated{Old: old, Record: rec, RoomID: roomID}))
	b.systemMessage(ctx, t, roomID, "roomUpdated", hub.SystemData{}, log)
	return ResultHandled
}

// memberEvent handles a change of a membership DataObject (an authSource's
// sourceObject).
func (b *Bridge) memberEvent(ctx context.Context, rt route, doc map[string]any, log *zap.Logger) string {
	rec, _ := unwrap(doc, rt.object)
	t := rt.target
	res := ResultMalformed
	type pair struct{ room, user string }
	seen := map[pair]bool{}
	for _, l := range rt.links {
		p := pair{idOf(rec[l.roomField]), idOf(rec[l.userField])}
		if p.room == "" || p.user == "" || seen[p] {
			continue
		}
		seen[p] = true
		res = ResultHandled
		member := hub.Member{Record: rec, RoomID: p.room, UserID: p.user}
		left := func() {
			t.BridgeEvent(p.room, hub.OutMemberLeft.Of(member))
			b.systemMessage(ctx, t, p.room, "memberLeft", hub.SystemData{UserID: p.user}, log)
		}
		switch {
		case rt.op == OpCreated && inactive(rec):
			res = ResultSkipped // created inactive: not a member
		case rt.op == OpCreated:
			t.BridgeEvent(p.room, hub.OutMemberJoined.Of(member))
			b.systemMessage(ctx, t, p.room, "memberJoined", hub.SystemData{UserID: p.user}, log)
		case rt.op == OpDeleted || inactive(rec):
			// The member's own sockets get hub:memberLeft when they are
			// removed; the room hears it after, without them.
			t.Reauthorize(ctx, p.room, p.user, hub.OutMemberLeft.Of(member), false)
			left()
		case rt.op == OpUpdated:
			// A node other than this one that removes the member announces
			// it when this node has none of their sockets.
			if t.Reauthorize(ctx, p.room, p.user, hub.OutMemberLeft.Of(member), true) {
				left()
			}
		}
	}
	if res == ResultMalformed {
		log.Warn("membership data event without room and user fields skipped", zap.String("hub", t.Name()))
	}
	return res
}

// kafkaEvent handles a record of a kafkaEvents topic: filter, target room,
// emit `{ roomId, data }` under the entry's name.
func (b *Bridge) kafkaEvent(ctx context.Context, rt route, value []byte, log *zap.Logger) string {
	t := rt.target
	if !json.Valid(value) {
		log.Warn("kafka event is not JSON; skipped", zap.String("hub", t.Name()), zap.String("event", rt.event))
		return ResultMalformed
	}
	data := json.RawMessage(value)
	eng := t.Definition().Scripts
	vars := map[string]any{"data": data}
	if rt.filter != nil {
		ok, err := eng.EvalBool(ctx, rt.filter, "", vars)
		if err != nil {
			log.Warn("filterExpression failed; record skipped", zap.String("hub", t.Name()), zap.String("event", rt.event), zap.Error(err))
			return ResultError
		}
		if !ok {
			return ResultSkipped
		}
	}
	v, err := eng.Eval(ctx, rt.room, "", vars)
	if err != nil {
		log.Warn("targetRoomExpression failed; record skipped", zap.String("hub", t.Name()), zap.String("event", rt.event), zap.Error(err))
		return ResultError
	}
	rooms := roomsOf(v)
	if len(rooms) == 0 {
		log.Debug("targetRoomExpression gave no room; record skipped", zap.String("hub", t.Name()), zap.String("event", rt.event))
		return ResultSkipped
	}
	for _, roomID := range rooms {
		t.BridgeEvent(roomID, hub.Custom(rt.event).Of(hub.CustomEvent{Data: data, RoomID: roomID}))
	}
	return ResultHandled
}

// roomsOf reads the result of a targetRoomExpression: one id, or an array
// of ids.
func roomsOf(v any) []string {
	if arr, ok := v.([]any); ok {
		out := make([]string, 0, len(arr))
		for _, e := range arr {
			if id := idOf(e); id != "" {
				out = append(out, id)
			}
		}
		return out
	}
	if id := idOf(v); id != "" {
		return []string{id}
	}
	return nil
}

func (b *Bridge) systemMessage(ctx context.Context, t Target, roomID, action string, data hub.SystemData, log *zap.Logger) {
	if _, err := t.SystemMessage(ctx, roomID, action, data); err != nil {
		log.Warn("system message not stored", zap.String("hub", t.Name()), zap.String("action", action), zap.Error(err))
	}
}

// seen reports whether the event was applied before. A dedup store that
// fails lets the event through: applied twice rather than lost. A lookup
// cut short by the end of ctx (shutdown) is no answer: known is false and
// the event must be left for the next consumer, which asks again.
func (b *Bridge) seen(ctx context.Context, key string) (seen, known bool) {
	if ctx.Err() != nil {
		return false, false
	}
	dctx, cancel := context.WithTimeout(ctx, b.opts.OpTimeout)
	defer cancel()
	ok, err := b.dedup.Seen(dctx, key)
	if err != nil {
		if ctx.Err() != nil {
			return false, false
		}
		b.logs.warn("dedup", "dedup lookup failed; event applied", zap.Error(err))
	}
	return ok, true
}

// mark records the events of a poll as applied.
func (b *Bridge) mark(ctx context.Context, done *applied) {
	if len(done.keys) == 0 {
		return
	}
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.opts.OpTimeout)
	defer cancel()
	if err := b.dedup.Mark(dctx, done.keys); err != nil {
		b.logs.warn("dedup", "dedup mark failed; a redelivery would apply the event again", zap.Error(err))
	}
}
