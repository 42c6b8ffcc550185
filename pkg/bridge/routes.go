package bridge

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/spec"
)

// Data event operations in topic names.
const (
	OpCreated = "created"
	OpUpdated = "updated"
	OpDeleted = "deleted"
)

// TopicName builds a data event topic name from pattern.
func TopicName(pattern, service, object, op string) string {
	return strings.NewReplacer(
		"{service}", service,
		"{objectLower}", strings.ToLower(object),
		"{object}", object,
		"{op}", op,
	).Replace(pattern)
}

func checkPattern(p string) error {
	if !strings.Contains(p, "{op}") || !(strings.Contains(p, "{object}") || strings.Contains(p, "{objectLower}")) {
		return &ConfigError{Field: "topicPattern", Reason: fmt.Sprintf("%q must contain {op} and {object} or {objectLower}", p)}
	}
	rest := strings.NewReplacer("{service}", "", "{objectLower}", "", "{object}", "", "{op}", "").Replace(p)
	if strings.ContainsAny(rest, "{}") {
		return &ConfigError{Field: "topicPattern", Reason: fmt.Sprintf("%q has an unknown placeholder", p)}
	}
	return nil
}

// routes maps each consumed topic to what its records mean for which hubs.
// It is built from the hubs on every Update and not changed afterwards.
type routes struct {
	topics map[string][]route
}

// route is one reason a hub consumes a topic.
type route struct {
	target Target
	kind   string // KindRoom, KindMembership, KindKafkaEvent
	op     string // data events: created, updated, deleted
	object string // data events: the DataObject name

	// room object
	eligibility *scripting.Program

	// membership object: the distinct (roomField, userField) pairs of the
	// hub's authSources reading this object
	links []link

	// kafkaEvents entry
	event  string
	filter *scripting.Program // nil: every record
	room   *scripting.Program
}

type link struct{ roomField, userField string }

func (r *routes) topicList() []string {
	out := make([]string, 0, len(r.topics))
	for t := range r.topics {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

func buildRoutes(targets []Target, service, pattern string, log *zap.Logger) *routes {
	r := &routes{topics: make(map[string][]route)}
	for _, t := range targets {
		s := t.Spec()
		hlog := log.With(zap.String("hub", t.Name()))
		if s.EventSettings.AutoBridgeDataEvents {
			r.addDataObjects(t, s, service, pattern, hlog)
		}
		for i, ke := range s.EventSettings.KafkaEvents {
			rt, err := kafkaRoute(t, ke)
			if err != nil {
				// The spec loader compiles these too; a failure here means
				// the spec was not validated. Skip the entry, keep the rest.
				hlog.Error("kafkaEvents entry skipped", zap.Int("index", i), zap.String("name", ke.Name), zap.Error(err))
				continue
			}
			r.topics[ke.Topic] = append(r.topics[ke.Topic], rt)
		}
	}
	return r
}

func (r *routes) addDataObjects(t Target, s *spec.Hub, service, pattern string, log *zap.Logger) {
	rs := s.RoomSettings
	var elig *scripting.Program
	if rs.RoomEligibility != "" {
		p, err := scripting.Compile(string(rs.RoomEligibility))
		if err != nil {
			log.Error("roomEligibility does not compile; room updates will not close rooms", zap.Error(err))
		} else {
			p.Name = "bridge:roomEligibility"
			elig = p
		}
	}
	for _, op := range []string{OpUpdated, OpDeleted} {
		topic := TopicName(pattern, service, rs.RoomDataObject, op)
		r.topics[topic] = append(r.topics[topic], route{target: t, kind: KindRoom, op: op, object: rs.RoomDataObject, eligibility: elig})
	}
	links := map[string][]link{}
	var objects []string
	for _, src := range rs.AuthSources {
		if src.SourceObject == "" || src.SourceObject == rs.RoomDataObject || src.RoomField == "" || src.UserField == "" {
			continue
		}
		l := link{roomField: src.RoomField, userField: src.UserField}
		if _, ok := links[src.SourceObject]; !ok {
			objects = append(objects, src.SourceObject)
		}
		if !slices.Contains(links[src.SourceObject], l) {
			links[src.SourceObject] = append(links[src.SourceObject], l)
		}
	}
	for _, obj := range objects {
		for _, op := range []string{OpCreated, OpUpdated, OpDeleted} {
			topic := TopicName(pattern, service, obj, op)
			r.topics[topic] = append(r.topics[topic], route{target: t, kind: KindMembership, op: op, object: obj, links: links[obj]})
		}
	}
}

func kafkaRoute(t Target, ke spec.HubKafkaEvent) (route, error) {
	rt := route{target: t, kind: KindKafkaEvent, event: ke.Name}
	if ke.Topic == "" || ke.Name == "" {
		return rt, fmt.Errorf("topic and name are required")
	}
	if ke.FilterExpression != "" {
		p, err := scripting.Compile(string(ke.FilterExpression))
		if err != nil {
			return rt, fmt.Errorf("filterExpression: %w", err)
		}
		p.Name = "bridge:filter"
		rt.filter = p
	}
	if ke.TargetRoomExpression == "" {
		return rt, fmt.Errorf("targetRoomExpression is required")
	}
	p, err := scripting.Compile(string(ke.TargetRoomExpression))
	if err != nil {
		return rt, fmt.Errorf("targetRoomExpression: %w", err)
	}
	p.Name = "bridge:targetRoom"
	rt.room = p
	return rt, nil
}
