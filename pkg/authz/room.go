package authz

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/spec"
)

// Layer names reported in decisions, denials, logs and metrics.
const (
	LayerEligibility   = "roomEligibility"
	LayerAbsoluteRoles = "absoluteRoles"
	LayerCheckRoles    = "checkRoles"
	LayerCheckScript   = "checkScript"
	LayerAuthSource    = "authSource"
	LayerAuthScript    = "authScript"
	LayerNone          = "none"
)

// Denial codes (the client-facing error codes of the wire contract).
const (
	CodeRoomNotFound    = "ROOM_NOT_FOUND"
	CodeRoomNotEligible = "ROOM_NOT_ELIGIBLE"
	CodeForbidden       = "FORBIDDEN"
	CodeUnavailable     = "UNAVAILABLE"
	CodeInternal        = "INTERNAL"
)

// Denied is returned when a user may not join a room. Layer names the layer
// that decided; Code is the client error code. The reason never carries
// record contents.
type Denied struct {
	Code   string
	Layer  string
	Reason string
	Err    error
}

func (d *Denied) Error() string {
	if d.Err != nil {
		return fmt.Sprintf("%s: %s: %v", d.Layer, d.Reason, d.Err)
	}
	return d.Layer + ": " + d.Reason
}

func (d *Denied) Unwrap() error { return d.Err }

// Permissions are the effective permissions of a member in a room.
type Permissions struct {
	CanRead             bool     `json:"canRead"`
	CanSend             bool     `json:"canSend"`
	AllowedMessageTypes []string `json:"allowedMessageTypes"`
	Moderated           bool     `json:"moderated"`
	CanModerate         bool     `json:"canModerate"`
	CanDeleteAny        bool     `json:"canDeleteAny"`
	CanManageRoom       bool     `json:"canManageRoom"`
}

// PermissionsOf turns a hub role into permissions.
func PermissionsOf(r spec.HubRole) Permissions {
	allowed := r.AllowedTypes()
	if allowed == nil {
		allowed = []string{}
	}
	return Permissions{
		CanRead: r.CanRead, CanSend: r.CanSend, AllowedMessageTypes: allowed,
		Moderated: r.Moderated, CanModerate: r.CanModerate,
		CanDeleteAny: r.CanDeleteAny, CanManageRoom: r.CanManageRoom,
	}
}

// DefaultPermissions are those of a member authorized without a specific
// hub role (an authSource or authScript whose hubRole is null).
func DefaultPermissions() Permissions {
	return Permissions{CanRead: true, CanSend: true, AllowedMessageTypes: []string{}}
}

// AllowsType reports whether the permissions allow sending messageType.
func (p Permissions) AllowsType(messageType string) bool {
	return len(p.AllowedMessageTypes) == 0 || slices.Contains(p.AllowedMessageTypes, messageType)
}

// Decision is a successful authorization.
type Decision struct {
	HubRole     string // "" when authorized without a specific role
	Permissions Permissions
	Layer       string // deciding layer
	Source      string // name of the authSource/authScript that matched
	Room        records.Record
}

// Policy is the compiled form of a hub's room settings.
type Policy struct {
	hub         *spec.Hub
	eligibility *scripting.Program
	checkScript *scripting.Program
	conditions  []*scripting.Program // per authSource, nil when none
	authScripts []*scripting.Program
}

// Compile compiles every MScript of the hub's room settings.
func Compile(h *spec.Hub) (*Policy, error) {
	p := &Policy{hub: h}
	rs := h.RoomSettings
	var err error
	if p.eligibility, err = compileOpt(rs.RoomEligibility); err != nil {
		return nil, fmt.Errorf("roomSettings.roomEligibility: %w", err)
	}
	if p.checkScript, err = compileOpt(rs.CheckScript); err != nil {
		return nil, fmt.Errorf("roomSettings.checkScript: %w", err)
	}
	for i, src := range rs.AuthSources {
		prog, err := compileOpt(src.Condition)
		if err != nil {
			return nil, fmt.Errorf("roomSettings.authSources[%d].condition: %w", i, err)
		}
		p.conditions = append(p.conditions, prog)
	}
	for i, s := range rs.AuthScripts {
		prog, err := compileOpt(s.Script)
		if err != nil {
			return nil, fmt.Errorf("roomSettings.authScripts[%d].script: %w", i, err)
		}
		p.authScripts = append(p.authScripts, prog)
	}
	return p, nil
}

func compileOpt(src spec.MScript) (*scripting.Program, error) {
	if strings.TrimSpace(string(src)) == "" {
		return nil, nil
	}
	return scripting.Compile(string(src))
}

// Authorizer runs the layered room authorization of a hub.
type Authorizer struct {
	Records records.Source
	Scripts *scripting.Engine
}

// Authorize decides whether sess may join roomID, in the order the spec
// lays down: eligibility, absoluteRoles, checkRoles, checkScript,
// authSources, authScripts. It returns *Denied on refusal.
func (a *Authorizer) Authorize(ctx context.Context, p *Policy, sess *Session, roomID string) (*Decision, error) {
	room, err := a.Room(ctx, p, roomID)
	if err != nil {
		return nil, err
	}
	dec, err := a.Gate(ctx, p, sess, roomID, room)
	if dec != nil || err != nil {
		return dec, err
	}
	return a.Sources(ctx, p, sess, roomID, room)
}

// Room loads the room record and runs roomEligibility (layer 1). Its
// answer is never cached: nobody joins a room that is not eligible now.
func (a *Authorizer) Room(ctx context.Context, p *Policy, roomID string) (records.Record, error) {
	roomObj := p.hub.RoomSettings.RoomDataObject
	room, err := a.Records.Get(ctx, roomObj, roomID)
	switch {
	case errors.Is(err, records.ErrNotFound):
		return nil, &Denied{Code: CodeRoomNotFound, Layer: LayerEligibility, Reason: "room not found"}
	case err != nil:
		return nil, &Denied{Code: CodeUnavailable, Layer: LayerEligibility, Reason: "room lookup failed", Err: err}
	}
	if p.eligibility != nil {
		ok, err := a.Scripts.EvalBool(ctx, p.eligibility, roomID, map[string]any{roomObj: room, "room": room})
		if err != nil {
			return nil, &Denied{Code: CodeRoomNotEligible, Layer: LayerEligibility, Reason: "eligibility script failed", Err: err}
		}
		if !ok {
			return nil, &Denied{Code: CodeRoomNotEligible, Layer: LayerEligibility, Reason: "room is not eligible"}
		}
	}
	return room, nil
}

// Gate runs layers 2 to 4 on an eligible room: an absoluteRoles user gets
// the system role (a decision), checkRoles and checkScript may refuse
// (*Denied); nil, nil means the sources decide.
func (a *Authorizer) Gate(ctx context.Context, p *Policy, sess *Session, roomID string, room records.Record) (*Decision, error) {
	rs := p.hub.RoomSettings
	if sess.RoleID != "" && slices.Contains(rs.AbsoluteRoles, sess.RoleID) {
		sys := spec.SystemRole()
		return &Decision{HubRole: sys.Name, Permissions: PermissionsOf(sys), Layer: LayerAbsoluteRoles, Room: room}, nil
	}
	if len(rs.CheckRoles) > 0 && !slices.Contains(rs.CheckRoles, sess.RoleID) {
		return nil, &Denied{Code: CodeForbidden, Layer: LayerCheckRoles, Reason: "role not admitted by checkRoles"}
	}
	if p.checkScript != nil {
		ok, err := a.Scripts.EvalBool(ctx, p.checkScript, roomID, map[string]any{"user": sess.Claims, rs.RoomDataObject: room, "room": room})
		if err != nil {
			return nil, &Denied{Code: CodeForbidden, Layer: LayerCheckScript, Reason: "checkScript failed", Err: err}
		}
		if !ok {
			return nil, &Denied{Code: CodeForbidden, Layer: LayerCheckScript, Reason: "checkScript returned false"}
		}
	}
	return nil, nil
}

// Sources runs layers 5 and 6, authSources then authScripts, the first
// match wins. Their decisions are what the auth cache may hold.
func (a *Authorizer) Sources(ctx context.Context, p *Policy, sess *Session, roomID string, room records.Record) (*Decision, error) {
	h := p.hub
	rs := h.RoomSettings
	user := sess.Claims
	for i, src := range rs.AuthSources {
		rec, err := a.Records.FindOne(ctx, src.SourceObject, map[string]string{
			src.UserField: sess.UserID,
			src.RoomField: roomID,
		})
		if errors.Is(err, records.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, &Denied{Code: CodeUnavailable, Layer: LayerAuthSource, Reason: "authSource " + src.Name + " lookup failed", Err: err}
		}
		if cond := p.conditions[i]; cond != nil {
			ok, err := a.Scripts.EvalBool(ctx, cond, roomID, map[string]any{
				src.SourceObject: rec, "record": rec, "user": user, "room": room,
			})
			if err != nil {
				return nil, &Denied{Code: CodeForbidden, Layer: LayerAuthSource, Reason: "authSource " + src.Name + " condition failed", Err: err}
			}
			if !ok {
				continue
			}
		}
		return a.grant(h, src.HubRole, LayerAuthSource, src.Name, room), nil
	}
	for i, s := range rs.AuthScripts {
		ok, err := a.Scripts.EvalBool(ctx, p.authScripts[i], roomID, map[string]any{"user": user, "room": room, rs.RoomDataObject: room})
		if err != nil {
			return nil, &Denied{Code: CodeForbidden, Layer: LayerAuthScript, Reason: "authScript " + s.Name + " failed", Err: err}
		}
		if ok {
			return a.grant(h, s.HubRole, LayerAuthScript, s.Name, room), nil
		}
	}
	return nil, &Denied{Code: CodeForbidden, Layer: LayerNone, Reason: "no authSource or authScript matched"}
}

func (a *Authorizer) grant(h *spec.Hub, role, layer, source string, room records.Record) *Decision {
	d := &Decision{HubRole: role, Layer: layer, Source: source, Room: room}
	switch r, ok := h.Role(role); {
	case role == "":
		d.Permissions = DefaultPermissions()
	case role == spec.SystemRole().Name && !ok:
		d.Permissions = PermissionsOf(spec.SystemRole())
	case ok:
		d.Permissions = PermissionsOf(*r)
	default:
		// Validation rejects unknown role references; fail closed if one slips through.
		d.Permissions = Permissions{AllowedMessageTypes: []string{}}
	}
	return d
}
