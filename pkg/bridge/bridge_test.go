package bridge

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zaptest"

	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/spec"
)

const waitFor = 10 * time.Second
const tick = 10 * time.Millisecond

// call is one thing the bridge asked of a hub.
type call struct {
	Op      string // emit, system, close, reauthorize
	RoomID  string
	Event   string // emit, close (hub:roomClosed), reauthorize (removal event); system: the action
	UserID  string
	Payload map[string]any // JSON round trip of what was passed
	// Announce: reauthorize asks other nodes to announce a removal.
	Announce bool
}

// fakeHub is a Target that records every call.
type fakeHub struct {
	def *hub.Definition
	// removes makes Reauthorize report a removal for these users.
	removes map[string]bool

	mu    sync.Mutex
	calls []call
}

func newFakeHub(t testing.TB, s *spec.Hub) *fakeHub {
	t.Helper()
	eng, err := scripting.NewEngine(scripting.Options{Runtimes: 1})
	require.NoError(t, err)
	t.Cleanup(eng.Close)
	return &fakeHub{def: &hub.Definition{Spec: s, Scripts: eng}, removes: map[string]bool{}}
}

func (f *fakeHub) Name() string                { return f.def.Spec.Name() }
func (f *fakeHub) Spec() *spec.Hub             { return f.def.Spec }
func (f *fakeHub) Definition() *hub.Definition { return f.def }

func (f *fakeHub) record(c call, payload any) {
	b, _ := json.Marshal(payload)
	_ = json.Unmarshal(b, &c.Payload)
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
}

func (f *fakeHub) BridgeEvent(roomID string, e hub.Event) {
	f.record(call{Op: "emit", RoomID: roomID, Event: e.Name()}, e.Payload())
}

func (f *fakeHub) SystemMessage(_ context.Context, roomID, action string, data hub.SystemData) (*msgstore.Message, error) {
	f.record(call{Op: "system", RoomID: roomID, Event: action}, data)
	return nil, nil
}

func (f *fakeHub) CloseRoom(roomID string, p hub.RoomClosed) {
	f.record(call{Op: "close", RoomID: roomID, Event: EventRoomClosed}, p)
}

func (f *fakeHub) Reauthorize(_ context.Context, roomID, userID string, e hub.Event, announce bool) bool {
	f.record(call{Op: "reauthorize", RoomID: roomID, UserID: userID, Event: e.Name(), Announce: announce}, e.Payload())
	return f.removes[userID]
}

func (f *fakeHub) snapshot() []call {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]call(nil), f.calls...)
}

// waitCalls polls until the hub has n calls and returns them.
func (f *fakeHub) waitCalls(t *testing.T, n int) []call {
	t.Helper()
	require.Eventually(t, func() bool { return len(f.snapshot()) >= n }, waitFor, tick, "want %d calls, have %v", n, f.snapshot())
	return f.snapshot()
}

// chatSpec is a hub whose rooms are `chat` records, members are
// `chatMember` records, and messages are `chatMessage`.
func chatSpec(name string) *spec.Hub {
	return &spec.Hub{
		HubBasics: spec.HubBasics{Name: name},
		RoomSettings: spec.HubRoomSettings{
			RoomDataObject:  "chat",
			RoomEligibility: "chat.chatEnabled !== false",
			AuthSources: []spec.HubAuthSource{
				{Name: "members", SourceObject: "chatMember", UserField: "userId", RoomField: "chatId", HubRole: "member"},
				{Name: "owners", SourceObject: "chatMember", UserField: "userId", RoomField: "chatId", HubRole: "owner"},
				{Name: "self", SourceObject: "chat", UserField: "ownerId", RoomField: "id"},
			},
		},
		MessageSettings: spec.HubMessageSettings{DataObjectName: "chatMessage"},
		EventSettings: spec.HubEventSettings{
			AutoBridgeDataEvents: true,
			KafkaEvents: []spec.HubKafkaEvent{
				{Name: "participantAdded", Topic: "calls-events", FilterExpression: `data.type === "participant.added"`, TargetRoomExpression: "data.chatId"},
				{Name: "broadcastAll", Topic: "ops-events", TargetRoomExpression: "data.rooms"},
				{Name: "throws", Topic: "bad-events", FilterExpression: "data.x.y.z", TargetRoomExpression: "data.chatId"},
			},
		},
	}
}

// allTopics are the topics chatSpec consumes with service "svc".
var allTopics = []string{
	"svc-dbevent-chat-updated", "svc-dbevent-chat-deleted",
	"svc-dbevent-chatMember-created", "svc-dbevent-chatMember-updated", "svc-dbevent-chatMember-deleted",
	"calls-events", "ops-events", "bad-events",
}

type env struct {
	cluster *kfake.Cluster
	addrs   []string
	prod    *kgo.Client
}

func newEnv(t testing.TB) *env {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.SeedTopics(1, allTopics...))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.AllowAutoTopicCreation())
	require.NoError(t, err)
	t.Cleanup(prod.Close)
	return &env{cluster: c, addrs: c.ListenAddrs(), prod: prod}
}

func (e *env) produce(t *testing.T, topic, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(t, e.prod.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte(value)}).FirstErr())
}

type observed struct {
	mu     sync.Mutex
	counts map[string]int
}

func (o *observed) observe(dir, kind, result string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.counts[dir+"/"+kind+"/"+result]++
}

func (o *observed) get(key string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[key]
}

// startBridge runs a bridge for targets until the test ends (or stop is
// called) and returns it.
func startBridge(t testing.TB, e *env, group string, obs *observed, targets ...Target) (*Bridge, func()) {
	t.Helper()
	return startBridgeWith(t, Options{Brokers: e.addrs, Group: group, Observer: obs.observe}, targets...)
}

// startBridgeWith runs a bridge with o, its zero fields set for tests:
// service "svc", new groups read from the start, failures retried and
// checked within a fraction of a second.
func startBridgeWith(t testing.TB, o Options, targets ...Target) (*Bridge, func()) {
	t.Helper()
	var mu sync.Mutex
	current := targets
	o.Service = "svc"
	o.Hubs = func() []Target {
		mu.Lock()
		defer mu.Unlock()
		return current
	}
	if o.ClientOptions == nil {
		// Tests produce before the group has joined: read from the start.
		o.ClientOptions = []kgo.Opt{kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500 * time.Millisecond)}
	}
	if o.Logger == nil {
		o.Logger = zaptest.NewLogger(t)
	}
	fast := []struct {
		v *time.Duration
		d time.Duration
	}{
		{&o.CheckInterval, 200 * time.Millisecond}, {&o.RebuildAfter, time.Second}, {&o.RetryMin, 20 * time.Millisecond},
		{&o.RetryMax, 500 * time.Millisecond}, {&o.PollInterval, 100 * time.Millisecond}, {&o.PublishTimeout, 2 * time.Second},
	}
	for _, f := range fast {
		if *f.v == 0 {
			*f.v = f.d
		}
	}
	b, err := New(o)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err)
			case <-time.After(waitFor):
				t.Error("Run did not return after cancel")
			}
			b.Close()
		})
	}
	t.Cleanup(stop)
	return b, stop
}

func newObserved() *observed { return &observed{counts: map[string]int{}} }

func groupName(t testing.TB) string {
	return "g-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
}

func TestRoomEvents(t *testing.T) {
	e := newEnv(t)
	h := newFakeHub(t, chatSpec("chatHub"))
	obs := newObserved()
	startBridge(t, e, groupName(t), obs, h)

	tests := []struct {
		name  string
		topic string
		value string
		want  []call
	}{
		{
			name:  "update wrapped with old record",
			topic: "svc-dbevent-chat-updated",
			value: `{"old_chat":{"id":"r1","title":"a"},"chat":{"id":"r1","title":"b"}}`,
			want: []call{
				{Op: "emit", RoomID: "r1", Event: EventRoomUpdated, Payload: map[string]any{"roomId": "r1", "record": map[string]any{"id": "r1", "title": "b"}, "old": map[string]any{"id": "r1", "title": "a"}}},
				{Op: "system", RoomID: "r1", Event: "roomUpdated", Payload: map[string]any{}},
			},
		},
		{
			name:  "update as plain record with numeric id",
			topic: "svc-dbevent-chat-updated",
			value: `{"id":12,"title":"c"}`,
			want: []call{
				{Op: "emit", RoomID: "12", Event: EventRoomUpdated, Payload: map[string]any{"roomId": "12", "record": map[string]any{"id": float64(12), "title": "c"}}},
				{Op: "system", RoomID: "12", Event: "roomUpdated", Payload: map[string]any{}},
			},
		},
		{
			name:  "soft delete closes",
			topic: "svc-dbevent-chat-deleted",
			value: `{"id":"r2","isActive":false}`,
			want: []call{
				{Op: "system", RoomID: "r2", Event: "roomClosed", Payload: map[string]any{"reason": CloseDeleted}},
				{Op: "close", RoomID: "r2", Event: EventRoomClosed, Payload: map[string]any{"roomId": "r2", "reason": CloseDeleted, "record": map[string]any{"id": "r2", "isActive": false}}},
			},
		},
		{
			name:  "update to inactive closes",
			topic: "svc-dbevent-chat-updated",
			value: `{"chat":{"id":"r3","isActive":false}}`,
			want: []call{
				{Op: "system", RoomID: "r3", Event: "roomClosed", Payload: map[string]any{"reason": CloseInactive}},
				{Op: "close", RoomID: "r3", Event: EventRoomClosed, Payload: map[string]any{"roomId": "r3", "reason": CloseInactive, "record": map[string]any{"id": "r3", "isActive": false}}},
			},
		},
		{
			name:  "eligibility turning false closes",
			topic: "svc-dbevent-chat-updated",
			value: `{"id":"r4","chatEnabled":false}`,
			want: []call{
				{Op: "system", RoomID: "r4", Event: "roomClosed", Payload: map[string]any{"reason": CloseIneligible}},
				{Op: "close", RoomID: "r4", Event: EventRoomClosed, Payload: map[string]any{"roomId": "r4", "reason": CloseIneligible, "record": map[string]any{"id": "r4", "chatEnabled": false}}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.snapshot())
			e.produce(t, tc.topic, tc.value)
			got := h.waitCalls(t, before+len(tc.want))[before:]
			require.Equal(t, tc.want, got)
		})
	}
	require.Equal(t, len(tests), obs.get("in/room/handled"))
}

func TestMemberEvents(t *testing.T) {
	e := newEnv(t)
	h := newFakeHub(t, chatSpec("chatHub"))
	h.removes["gone"] = true
	startBridge(t, e, groupName(t), newObserved(), h)

	rec := func(user string) map[string]any { return map[string]any{"id": "m1", "chatId": "r1", "userId": user} }
	payload := func(user string) map[string]any {
		return map[string]any{"roomId": "r1", "userId": user, "record": rec(user)}
	}
	tests := []struct {
		name  string
		topic string
		value string
		want  []call
	}{
		{
			name:  "created joins",
			topic: "svc-dbevent-chatMember-created",
			value: `{"id":"m1","chatId":"r1","userId":"u1"}`,
			want: []call{
				{Op: "emit", RoomID: "r1", Event: EventMemberJoined, Payload: payload("u1")},
				{Op: "system", RoomID: "r1", Event: "memberJoined", Payload: map[string]any{"userId": "u1"}},
			},
		},
		{
			name:  "deleted reauthorizes then leaves",
			topic: "svc-dbevent-chatMember-deleted",
			value: `{"id":"m1","chatId":"r1","userId":"gone"}`,
			want: []call{
				{Op: "reauthorize", RoomID: "r1", UserID: "gone", Event: EventMemberLeft, Payload: payload("gone")},
				{Op: "emit", RoomID: "r1", Event: EventMemberLeft, Payload: payload("gone")},
				{Op: "system", RoomID: "r1", Event: "memberLeft", Payload: map[string]any{"userId": "gone"}},
			},
		},
		{
			name:  "updated and still authorized stays",
			topic: "svc-dbevent-chatMember-updated",
			value: `{"chatMember":{"id":"m1","chatId":"r1","userId":"u1"}}`,
			want: []call{
				{Op: "reauthorize", RoomID: "r1", UserID: "u1", Event: EventMemberLeft, Payload: payload("u1"), Announce: true},
			},
		},
		{
			name:  "updated and no longer authorized leaves",
			topic: "svc-dbevent-chatMember-updated",
			value: `{"id":"m1","chatId":"r1","userId":"gone"}`,
			want: []call{
				{Op: "reauthorize", RoomID: "r1", UserID: "gone", Event: EventMemberLeft, Payload: payload("gone"), Announce: true},
				{Op: "emit", RoomID: "r1", Event: EventMemberLeft, Payload: payload("gone")},
				{Op: "system", RoomID: "r1", Event: "memberLeft", Payload: map[string]any{"userId": "gone"}},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(h.snapshot())
			e.produce(t, tc.topic, tc.value)
			got := h.waitCalls(t, before+len(tc.want))[before:]
			require.Equal(t, tc.want, got)
		})
	}
	// The updated-and-kept case must not have been followed by a memberLeft:
	// the next record's calls come right after its reauthorization.
	// A membership created inactive is no member: nothing happens.
	n := len(h.snapshot())
	e.produce(t, "svc-dbevent-chatMember-created", `{"id":"m3","chatId":"r8","userId":"u8","isActive":false}`)
	e.produce(t, "svc-dbevent-chatMember-created", `{"id":"m2","chatId":"r9","userId":"u9"}`)
	got := h.waitCalls(t, n+2)
	require.Equal(t, "r9", got[n].RoomID)
}

func TestKafkaEvents(t *testing.T) {
	e := newEnv(t)
	h := newFakeHub(t, chatSpec("chatHub"))
	obs := newObserved()
	startBridge(t, e, groupName(t), obs, h)

	// Records of one partition are handled in order, so a skipped record is
	// proved skipped by the next one arriving first.
	e.produce(t, "calls-events", `{"type":"participant.removed","chatId":"r1"}`)
	e.produce(t, "calls-events", `{"type":"participant.added","chatId":"r1","who":"u2"}`)
	got := h.waitCalls(t, 1)
	require.Equal(t, []call{{Op: "emit", RoomID: "r1", Event: "participantAdded",
		Payload: map[string]any{"roomId": "r1", "data": map[string]any{"type": "participant.added", "chatId": "r1", "who": "u2"}}}}, got)

	e.produce(t, "ops-events", `{"rooms":["a","b"]}`)
	got = h.waitCalls(t, 3)[1:]
	require.Equal(t, []string{"a", "b"}, []string{got[0].RoomID, got[1].RoomID})
	require.Equal(t, "broadcastAll", got[0].Event)

	e.produce(t, "ops-events", `{"rooms":null}`)
	e.produce(t, "bad-events", `{"chatId":"r1"}`)
	e.produce(t, "calls-events", `not json`)
	require.Eventually(t, func() bool {
		return obs.get("in/kafkaEvent/skipped") == 2 && obs.get("in/kafkaEvent/error") == 1 && obs.get("in/kafkaEvent/malformed") == 1
	}, waitFor, tick)
	require.Len(t, h.snapshot(), 3)
}

func TestMalformedSkippedAndCommitted(t *testing.T) {
	e := newEnv(t)
	group := groupName(t)
	h := newFakeHub(t, chatSpec("chatHub"))
	obs := newObserved()
	_, stop := startBridge(t, e, group, obs, h)

	for _, v := range []string{`not json`, `[1,2]`, `null`, `{"title":"no id"}`} {
		e.produce(t, "svc-dbevent-chat-updated", v)
	}
	e.produce(t, "svc-dbevent-chatMember-created", `{"id":"m1","userId":"u1"}`)
	e.produce(t, "svc-dbevent-chat-updated", `{"id":"ok1"}`)
	got := h.waitCalls(t, 2)
	require.Equal(t, "ok1", got[0].RoomID)
	require.Equal(t, 4, obs.get("in/room/malformed"))
	require.Equal(t, 1, obs.get("in/membership/malformed"))
	stop()

	// A new member of the same group starts after the committed offsets:
	// nothing of the above comes again.
	h2 := newFakeHub(t, chatSpec("chatHub"))
	startBridge(t, e, group, newObserved(), h2)
	e.produce(t, "svc-dbevent-chat-updated", `{"id":"ok2"}`)
	got = h2.waitCalls(t, 2)
	require.Equal(t, "ok2", got[0].RoomID, "records handled before the restart were delivered again: %v", got)
}

func TestSharedRoomObjectReachesEveryHub(t *testing.T) {
	e := newEnv(t)
	a := newFakeHub(t, chatSpec("hubA"))
	bSpec := chatSpec("hubB")
	bSpec.EventSettings.KafkaEvents = nil
	bHub := newFakeHub(t, bSpec)
	off := chatSpec("hubOff")
	off.EventSettings.AutoBridgeDataEvents = false
	off.EventSettings.KafkaEvents = nil
	offHub := newFakeHub(t, off)
	startBridge(t, e, groupName(t), newObserved(), a, bHub, offHub)

	e.produce(t, "svc-dbevent-chat-updated", `{"id":"r1"}`)
	require.Equal(t, "r1", a.waitCalls(t, 2)[0].RoomID)
	require.Equal(t, "r1", bHub.waitCalls(t, 2)[0].RoomID)
	// offHub consumes nothing; a later record for the others proves it got
	// its chance.
	e.produce(t, "svc-dbevent-chat-updated", `{"id":"r2"}`)
	a.waitCalls(t, 4)
	require.Empty(t, offHub.snapshot())
}

func TestUpdateChangesTopics(t *testing.T) {
	e := newEnv(t)
	only := chatSpec("chatHub")
	only.EventSettings.AutoBridgeDataEvents = false
	only.EventSettings.KafkaEvents = only.EventSettings.KafkaEvents[:1]
	h := newFakeHub(t, only)

	var mu sync.Mutex
	targets := []Target{}
	b, err := New(Options{
		Brokers: e.addrs, Service: "svc", Group: groupName(t),
		Hubs:          func() []Target { mu.Lock(); defer mu.Unlock(); return targets },
		ClientOptions: []kgo.Opt{kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(500 * time.Millisecond)},
		Logger:        zaptest.NewLogger(t),
	})
	require.NoError(t, err)
	t.Cleanup(b.Close)
	require.Empty(t, b.Topics())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	mu.Lock()
	targets = []Target{h}
	mu.Unlock()
	b.Update()
	require.Equal(t, []string{"calls-events"}, b.Topics())
	e.produce(t, "calls-events", `{"type":"participant.added","chatId":"r1"}`)
	require.Equal(t, "r1", h.waitCalls(t, 1)[0].RoomID)

	// A reload that enables the auto-bridge adds the data event topics.
	full := chatSpec("chatHub")
	h2 := newFakeHub(t, full)
	mu.Lock()
	targets = []Target{h2}
	mu.Unlock()
	b.Update()
	require.Len(t, b.Topics(), len(allTopics))
	e.produce(t, "svc-dbevent-chat-updated", `{"id":"r5"}`)
	got := h2.waitCalls(t, 2)
	require.Equal(t, "r5", got[len(got)-2].RoomID)
}

func TestTopicName(t *testing.T) {
	tests := []struct {
		pattern, want string
	}{
		{DefaultTopicPattern, "chat-service-dbevent-chatMember-created"},
		{"{service}.{objectLower}.{op}", "chat-service.chatmember.created"},
		{"mb-{object}-{op}", "mb-chatMember-created"},
	}
	for _, tc := range tests {
		t.Run(tc.pattern, func(t *testing.T) {
			require.NoError(t, checkPattern(tc.pattern))
			require.Equal(t, tc.want, TopicName(tc.pattern, "chat-service", "chatMember", OpCreated))
		})
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name  string
		opts  Options
		field string
	}{
		{"no brokers", Options{Service: "s"}, "brokers"},
		{"no service", Options{Brokers: []string{"127.0.0.1:1"}}, "service"},
		{"pattern without op", Options{Brokers: []string{"127.0.0.1:1"}, Service: "s", TopicPattern: "{service}-{object}"}, "topicPattern"},
		{"pattern without object", Options{Brokers: []string{"127.0.0.1:1"}, Service: "s", TopicPattern: "{service}-{op}"}, "topicPattern"},
		{"unknown placeholder", Options{Brokers: []string{"127.0.0.1:1"}, Service: "s", TopicPattern: "{svc}-{object}-{op}"}, "topicPattern"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.opts)
			var ce *ConfigError
			require.ErrorAs(t, err, &ce)
			require.Equal(t, tc.field, ce.Field)
		})
	}
}

func TestRoutes(t *testing.T) {
	s := chatSpec("chatHub")
	h := newFakeHub(t, s)
	r := buildRoutes([]Target{h}, "svc", DefaultTopicPattern, zaptest.NewLogger(t))
	want := append([]string(nil), allTopics...)
	require.ElementsMatch(t, want, r.topicList())
	// The two authSources on chatMember share one link; the one on the room
	// object itself is not a membership object.
	mem := r.topics["svc-dbevent-chatMember-created"]
	require.Len(t, mem, 1)
	require.Equal(t, []link{{roomField: "chatId", userField: "userId"}}, mem[0].links)
	require.NotContains(t, r.topics, "svc-dbevent-chat-created")
}

func TestTopicCreatedAfterStart(t *testing.T) {
	e := newEnv(t)
	s := chatSpec("chatHub")
	s.EventSettings.AutoBridgeDataEvents = false
	s.EventSettings.KafkaEvents = []spec.HubKafkaEvent{{Name: "late", Topic: "late-events", TargetRoomExpression: "data.chatId"}}
	h := newFakeHub(t, s)
	obs := newObserved()
	startBridge(t, e, groupName(t), obs, h)
	// The topic does not exist when the consumer starts; it is picked up
	// once created. Records produced before the pick-up are read too: the
	// tests reset new groups to the start.
	e.produce(t, "late-events", `{"chatId":"r1"}`)
	require.Equal(t, "r1", h.waitCalls(t, 1)[0].RoomID)
}

func TestRebalanceKeepsEveryRecord(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "svc-dbevent-chatMember-created"))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	prod, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	require.NoError(t, err)
	t.Cleanup(prod.Close)
	e := &env{cluster: c, addrs: c.ListenAddrs(), prod: prod}

	s := chatSpec("chatHub")
	s.EventSettings.KafkaEvents = nil
	a, b := newFakeHub(t, s), newFakeHub(t, s)
	seen := func() map[string]bool {
		out := map[string]bool{}
		for _, h := range []*fakeHub{a, b} {
			for _, c := range h.snapshot() {
				if c.Op == "emit" {
					out[c.Payload["userId"].(string)] = true
				}
			}
		}
		return out
	}
	next := 0
	produceBatch := func(n int) {
		recs := make([]*kgo.Record, n)
		for i := range recs {
			next++
			recs[i] = &kgo.Record{Topic: "svc-dbevent-chatMember-created", Key: fmt.Appendf(nil, "k%d", next),
				Value: fmt.Appendf(nil, `{"id":"m%d","chatId":"r1","userId":"u%d"}`, next, next)}
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		require.NoError(t, prod.ProduceSync(ctx, recs...).FirstErr())
	}
	waitAll := func() {
		require.Eventually(t, func() bool { return len(seen()) == next }, waitFor, tick, "handled %d of %d", len(seen()), next)
	}

	group := groupName(t)
	_, stopA := startBridge(t, e, group, newObserved(), a)
	produceBatch(50)
	waitAll()
	// B joins: the partitions are shared after a rebalance.
	startBridge(t, e, group, newObserved(), b)
	produceBatch(50)
	waitAll()
	// A leaves: B takes every partition and nothing is lost.
	stopA()
	produceBatch(50)
	waitAll()
	require.NotEmpty(t, b.snapshot())
}
