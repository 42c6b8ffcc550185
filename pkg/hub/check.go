package hub

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/spec"
)

// hook is one script of a spec with the names its context provides.
type hook struct {
	path string
	src  spec.MScript
	vars []string
}

// hooks lists every script of a hub with the context variables the daemon
// gives it (authz, logic, schedule and the Kafka bridge build the same).
func hooks(h *spec.Hub) []hook {
	rs := h.RoomSettings
	obj := rs.RoomDataObject
	out := []hook{
		{"roomSettings.roomEligibility", rs.RoomEligibility, []string{obj, "room"}},
		{"roomSettings.checkScript", rs.CheckScript, []string{"user", obj, "room"}},
	}
	for i, s := range rs.AuthSources {
		out = append(out, hook{fmt.Sprintf("roomSettings.authSources[%d].condition", i), s.Condition,
			[]string{s.SourceObject, "record", "user", "room"}})
	}
	for i, s := range rs.AuthScripts {
		out = append(out, hook{fmt.Sprintf("roomSettings.authScripts[%d].script", i), s.Script, []string{"user", "room", obj}})
	}
	hl := h.HubLogic
	out = append(out, hook{"hubLogic.stateScript", hl.StateScript, []string{"session", "user", "roomId", "room"}})
	for i, m := range hl.MessageHandlers {
		out = append(out, hook{fmt.Sprintf("hubLogic.messageHandlers[%d].script", i), m.Script,
			[]string{"session", "user", "message", "roomId", "room"}})
	}
	for i, a := range hl.ScheduledActions {
		out = append(out, hook{fmt.Sprintf("hubLogic.scheduledActions[%d].script", i), a.Script, []string{"roomId", "room"}})
	}
	for i, k := range h.EventSettings.KafkaEvents {
		out = append(out,
			hook{fmt.Sprintf("eventSettings.kafkaEvents[%d].filterExpression", i), k.FilterExpression, []string{"data"}},
			hook{fmt.Sprintf("eventSettings.kafkaEvents[%d].targetRoomExpression", i), k.TargetRoomExpression, []string{"data"}})
	}
	return out
}

// CheckScripts finds what would fail at every call of a hub's scripts: a
// free name its hook's context does not provide, and a lib path the
// service library does not have. Each problem names its field path. h may
// be a partly decoded spec (spec.Hub.Partial).
func CheckScripts(h *spec.Hub, eng *scripting.Engine) []error {
	var errs []error
	for _, hk := range hooks(h) {
		if strings.TrimSpace(string(hk.src)) == "" {
			continue
		}
		prog, err := scripting.Compile(string(hk.src))
		if err != nil {
			continue // reported by the spec's own validation
		}
		names := scripting.Analyze(prog)
		// A context whose object name did not decode (a spec with errors)
		// is unknown: only its lib paths are checked.
		known := !slices.Contains(hk.vars, "")
		for _, free := range names.Free {
			if known && !slices.Contains(hk.vars, free) {
				errs = append(errs, fmt.Errorf("%s: unknown name %q (this script's context has %s)",
					hk.path, free, strings.Join(dedupe(hk.vars), ", ")))
			}
		}
		for _, path := range names.Lib {
			if ok, err := libHas(eng, path); err == nil && !ok {
				errs = append(errs, fmt.Errorf("%s: lib.%s does not exist in the service library", hk.path, strings.Join(path, ".")))
			}
		}
	}
	return errs
}

// libHas reports whether lib.<path> is defined in the engine's library.
func libHas(eng *scripting.Engine, path []string) (bool, error) {
	src := fmt.Sprintf("(function () { try { return typeof lib.%s !== \"undefined\"; } catch (e) { return false; } })()",
		strings.Join(path, "."))
	prog, err := scripting.Compile(src)
	if err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return eng.EvalBool(ctx, prog, "", nil)
}

func dedupe(list []string) []string {
	var out []string
	for _, x := range list {
		if x != "" && !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
