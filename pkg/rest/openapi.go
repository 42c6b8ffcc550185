package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/spec"
)

// OpenAPIVersion is the version of the generated documents.
const OpenAPIVersion = "3.1.0"

// Component names of the generated document.
const (
	schemaPrefixContent = "Content."            // Content.<messageType>
	schemaPrefixSend    = "SendMessageRequest." // SendMessageRequest.<messageType>
	refSchemas          = "#/components/schemas/"
)

func ref(name string) obj { return obj{"$ref": refSchemas + name} }

var pathParamRe = regexp.MustCompile(`\{([A-Za-z]+)\}`)

// OpenAPI returns the OpenAPI 3.1 document of one hub: the routes its spec
// turns on, under /{hubName}, with the message schemas of its enabled
// message types.
func OpenAPI(h *spec.Hub) ([]byte, error) {
	if h == nil {
		return nil, fmt.Errorf("openapi: nil hub spec")
	}
	g := &docGen{h: h, schemas: obj{}}
	g.messageSchemas()
	g.requestSchemas()
	g.resultSchemas()
	g.errorSchemas()

	paths := obj{}
	for _, rt := range routes {
		if rt.enabled != nil && !rt.enabled(h) {
			continue
		}
		p := "/" + h.Name() + rt.path
		item, _ := paths[p].(obj)
		if item == nil {
			item = obj{}
			paths[p] = item
		}
		item[lowerMethod(rt.method)] = g.operation(rt)
	}

	title := h.Name() + " REST API"
	info := obj{"title": title, "version": "1"}
	desc := "REST API of the " + h.Name() + " hub, generated from its spec."
	if h.HubBasics.Description != "" {
		desc = h.HubBasics.Description + "\n\n" + desc
	}
	info["description"] = desc
	doc := obj{
		"openapi": OpenAPIVersion,
		"info":    info,
		"servers": []obj{{"url": "/", "description": "the hubd daemon"}},
		"paths":   paths,
		"components": obj{
			"schemas": g.schemas,
			"responses": obj{
				"Error": obj{
					"description": "An error; `error.code` is one of the wire contract's codes.",
					"content":     obj{"application/json": obj{"schema": ref("ErrorResponse")}},
				},
			},
			"securitySchemes": obj{
				"bearerAuth": obj{"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
					"description": "The same token as the socket handshake."},
				"tokenQuery": obj{"type": "apiKey", "in": "query", "name": "token",
					"description": "The token as the `token` query parameter (used when no Authorization header is sent)."},
			},
		},
		"security": []obj{{"bearerAuth": []string{}}, {"tokenQuery": []string{}}},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("openapi %s: encode: %w", h.Name(), err)
	}
	return b, nil
}

// docGen builds one document.
type docGen struct {
	h       *spec.Hub
	schemas obj
}

// messageTypes lists the enabled types: selected built-ins, then custom
// types.
func (g *docGen) messageTypes() []string {
	var out []string
	for _, t := range g.h.MessageSettings.MessageTypes {
		out = append(out, string(t))
	}
	for _, ct := range g.h.MessageSettings.CustomMessageTypes {
		out = append(out, ct.Name)
	}
	return out
}

// storedTypes lists the messageType values stored messages can have: the
// enabled types, then the persisted (non-ephemeral) custom events, which
// are stored as messages of their name with content {"data": ...}.
func (g *docGen) storedTypes() []string {
	out := g.messageTypes()
	for _, e := range g.h.EventSettings.CustomEvents {
		if !e.Ephemeral {
			out = append(out, e.Name)
		}
	}
	return out
}

func (g *docGen) contentSchema(t string) obj {
	if ct, ok := g.h.CustomType(t); ok {
		return customContentSchema(ct)
	}
	if e, ok := findCustomEvent(g.h, t); ok {
		return obj{"type": "object", "required": []string{"data"}, "additionalProperties": false,
			"description": "A persisted custom event " + quote(e.Name) + ": the event's data.",
			"properties":  obj{"data": obj{"description": "Any JSON value; null when the event had none."}}}
	}
	return builtinContentSchema(spec.HubMessageType(t))
}

func (g *docGen) messageSchemas() {
	ms := g.h.MessageSettings
	types := g.storedTypes()
	g.schemas["MessageType"] = obj{"type": "string", "enum": types,
		"description": "The hub's enabled message types: selected built-in types, then custom types, then persisted custom events."}

	byType := make([]obj, 0, len(types))
	for _, t := range types {
		g.schemas[schemaPrefixContent+t] = g.contentSchema(t)
		byType = append(byType, obj{
			"properties": obj{"messageType": obj{"const": t}, "content": ref(schemaPrefixContent + t)},
			"required":   []string{"messageType"},
		})
	}
	g.schemas["MessageContentByType"] = obj{
		"description": "The content of a message follows the schema of its messageType.",
		"oneOf":       byType,
	}

	props := obj{
		"id":          obj{"type": "string"},
		"roomId":      obj{"type": "string"},
		"seq":         obj{"type": "integer", "minimum": 1, "description": "Per-room sequence number, strictly increasing."},
		"senderId":    obj{"type": "string"},
		"messageType": ref("MessageType"),
		"content":     obj{"type": "object"},
		"timestamp":   obj{"type": "string", "format": "date-time"},
		"status": obj{"type": "string", "enum": []string{
			msgstore.StatusPublished, msgstore.StatusPending, msgstore.StatusRejected, msgstore.StatusDeleted}},
		"clientMessageId": obj{"type": "string"},
		"editedAt":        obj{"type": "string", "format": "date-time"},
		"rev": obj{"type": "integer", "minimum": 1,
			"description": "The room's change number of the message's last change (edit, deletion, reaction, approval, rejection); absent when never changed. A client keeps the copy with the higher rev."},
		"change": obj{"type": "object", "required": []string{"kind", "at"}, "additionalProperties": false,
			"description": "What the message's last change was.",
			"properties": obj{
				"kind":   obj{"type": "string", "enum": []string{msgstore.ChangeEdited, msgstore.ChangeDeleted, msgstore.ChangeReaction, msgstore.ChangeApproved, msgstore.ChangeRejected}},
				"by":     obj{"type": "string", "description": "The user who made the change."},
				"at":     obj{"type": "string", "format": "date-time"},
				"emoji":  obj{"type": "string", "description": "The emoji toggled (a reaction)."},
				"reason": obj{"type": "string", "description": "Why the message was rejected."},
				"approvedRev": obj{"type": "integer", "minimum": 1,
					"description": "The rev of the message's approval, when a later change replaced it."},
				"editedRev": obj{"type": "integer", "minimum": 1,
					"description": "The rev of the message's last edit, when a later change replaced it."},
				"was": obj{"type": "string", "enum": []string{
					msgstore.StatusPublished, msgstore.StatusPending, msgstore.StatusRejected, msgstore.StatusDeleted},
					"description": "The message's status before the change, when the change set another."},
			}},
		"audience": obj{"type": "object", "additionalProperties": false,
			"description": "Who may read the message (a message handler or server message for some users): only users, or everyone but except. Absent: the whole room.",
			"properties": obj{
				"users":  obj{"type": "array", "items": obj{"type": "string"}},
				"except": obj{"type": "array", "items": obj{"type": "string"}},
			}},
	}
	if ms.EnableReplyTo {
		g.schemas["ReplyTo"] = obj{"type": "object", "required": []string{"id"}, "additionalProperties": false,
			"properties": obj{
				"id":      obj{"type": "string", "minLength": 1, "description": "A published message of the same room."},
				"preview": obj{"type": "string", "maxLength": maxReplyPreview},
			}}
		props["replyTo"] = ref("ReplyTo")
	}
	if ms.EnableReaction {
		g.schemas["Reaction"] = obj{"type": "object", "required": []string{"emoji", "userId", "timestamp"},
			"properties": obj{
				"emoji":     obj{"type": "string"},
				"userId":    obj{"type": "string"},
				"timestamp": obj{"type": "string", "format": "date-time"},
			}}
		props["reaction"] = obj{"type": "array", "items": ref("Reaction")}
	}
	if ms.EnableForwarded {
		props["forwarded"] = obj{"type": "boolean"}
	}
	g.schemas["Message"] = obj{
		"type":                 "object",
		"properties":           props,
		"required":             []string{"id", "roomId", "seq", "senderId", "messageType", "content", "timestamp", "status"},
		"additionalProperties": false,
		"allOf":                []obj{ref("MessageContentByType")},
	}
}

func (g *docGen) requestSchemas() {
	ms := g.h.MessageSettings
	var variants []obj
	mapping := obj{}
	for _, t := range g.messageTypes() {
		if t == string(spec.MessageSystem) {
			continue // sent by the server only
		}
		props := obj{
			"messageType":     obj{"const": t},
			"content":         ref(schemaPrefixContent + t),
			"clientMessageId": obj{"type": "string", "maxLength": 128, "description": "Idempotency key of the sender."},
		}
		if ms.EnableReplyTo {
			props["replyTo"] = ref("ReplyTo")
		}
		if ms.EnableForwarded {
			props["forwarded"] = obj{"type": "boolean"}
		}
		name := schemaPrefixSend + t
		g.schemas[name] = obj{"type": "object", "properties": props,
			"required": []string{"messageType", "content"}, "additionalProperties": false}
		variants = append(variants, ref(name))
		mapping[t] = refSchemas + name
	}
	send := obj{"description": "A message to send: the hub:send payload without roomId."}
	if len(variants) > 0 {
		send["oneOf"] = variants
		send["discriminator"] = obj{"propertyName": "messageType", "mapping": mapping}
	} else {
		send["not"] = obj{} // only system messages: nothing can be sent
	}
	g.schemas["SendMessageRequest"] = send

	contents := make([]obj, 0)
	for _, t := range g.messageTypes() {
		contents = append(contents, ref(schemaPrefixContent+t))
	}
	g.schemas["EditMessageRequest"] = obj{"type": "object", "required": []string{"content"}, "additionalProperties": false,
		"properties": obj{"content": obj{"description": "New content, valid for the message's type.", "anyOf": contents}}}
	g.schemas["ReactionRequest"] = obj{"type": "object", "required": []string{"emoji"}, "additionalProperties": false,
		"properties": obj{"emoji": obj{"type": "string", "minLength": 1}}}

	var events []string
	for _, e := range g.h.EventSettings.CustomEvents {
		events = append(events, e.Name)
	}
	if len(events) > 0 {
		g.schemas["ServerEventRequest"] = obj{"type": "object", "required": []string{"event"}, "additionalProperties": false,
			"properties": obj{
				"event":  obj{"type": "string", "enum": events, "description": "A custom event of the hub."},
				"data":   obj{"description": "Any JSON value, emitted as `data`."},
				"userId": obj{"type": "string", "description": "Send to this user's sockets in the room only; required for serverToClient events."},
			}}
	}
	g.schemas["RejectRequest"] = obj{"type": "object", "additionalProperties": false,
		"properties": obj{"reason": obj{"type": "string"}}}
	g.schemas["BlockRequest"] = obj{"type": "object", "required": []string{"userId"}, "additionalProperties": false,
		"properties": obj{
			"userId":          obj{"type": "string", "minLength": 1},
			"reason":          obj{"type": "string"},
			"durationSeconds": obj{"type": "integer", "minimum": 0, "description": "0 or absent: until unblocked."},
		}}
	g.schemas["UserRequest"] = obj{"type": "object", "required": []string{"userId"}, "additionalProperties": false,
		"properties": obj{"userId": obj{"type": "string", "minLength": 1}}}
	g.schemas["KickRequest"] = obj{"type": "object", "required": []string{"userId"}, "additionalProperties": false,
		"properties": obj{"userId": obj{"type": "string", "minLength": 1}, "reason": obj{"type": "string"}}}
	g.schemas["UpdateRoomRequest"] = obj{"type": "object", "required": []string{"settings"}, "additionalProperties": false,
		"properties": obj{"settings": obj{"type": "object"}}}
}

// okTrue is the "ok" property of success bodies.
func okTrue() obj { return obj{"const": true} }

func resultSchema(props obj, required ...string) obj {
	props["ok"] = okTrue()
	return obj{"type": "object", "properties": props, "required": append([]string{"ok"}, required...),
		"additionalProperties": false}
}

func (g *docGen) resultSchemas() {
	s := g.schemas
	s["MessageList"] = resultSchema(obj{
		"roomId":   obj{"type": "string"},
		"messages": obj{"type": "array", "items": ref("Message"), "description": "Oldest first."},
	}, "roomId", "messages")
	s["MessageResult"] = resultSchema(obj{
		"message": ref("Message"),
		"status":  obj{"const": msgstore.StatusPending, "description": "Set when a sent message waits for approval."},
	}, "message")
	s["PresenceResult"] = resultSchema(obj{
		"roomId": obj{"type": "string"},
		"users": obj{"type": "array", "items": obj{"type": "object", "additionalProperties": false,
			"required": []string{"userId", "status", "sockets"},
			"properties": obj{
				"userId":  obj{"type": "string"},
				"status":  obj{"type": "string", "enum": []string{"online", "away"}},
				"sockets": obj{"type": "integer", "minimum": 0},
			}}},
	}, "roomId", "users")
	s["ReceiptsResult"] = resultSchema(obj{
		"roomId": obj{"type": "string"},
		"receipts": obj{"type": "array", "items": obj{"type": "object", "additionalProperties": false,
			"required": []string{"userId", "lastReadTimestamp"},
			"properties": obj{
				"userId":            obj{"type": "string"},
				"lastReadTimestamp": obj{"type": "string", "format": "date-time"},
			}}},
	}, "roomId", "receipts")
	if deliveriesOn(g.h) {
		s["DeliveriesResult"] = resultSchema(obj{
			"messageId": obj{"type": "string"},
			"deliveries": obj{"type": "array", "items": obj{"type": "object", "additionalProperties": false,
				"required": []string{"userId", "deliveredAt"},
				"properties": obj{
					"userId":      obj{"type": "string"},
					"deliveredAt": obj{"type": "string", "format": "date-time"},
				}}},
		}, "messageId", "deliveries")
	}
	s["UnreadResult"] = resultSchema(obj{
		"roomId": obj{"type": "string"},
		"unread": obj{"type": "integer", "minimum": 0},
	}, "roomId", "unread")
	if customEventsOn(g.h) {
		s["ServerEventResult"] = resultSchema(obj{
			"roomId": obj{"type": "string"},
			"event":  obj{"type": "string"},
			"userId": obj{"type": "string"},
		}, "roomId", "event")
	}
	s["ModerationResult"] = resultSchema(obj{
		"roomId": obj{"type": "string"},
		"userId": obj{"type": "string"},
	}, "roomId", "userId")
	s["RoomResult"] = resultSchema(obj{
		"roomId":   obj{"type": "string"},
		"settings": obj{"type": "object", "description": "The room's hub-level settings after the update."},
	}, "roomId", "settings")
}

func (g *docGen) errorSchemas() {
	g.schemas["ErrorCode"] = obj{"type": "string", "enum": ErrorCodes}
	g.schemas["ErrorResponse"] = obj{
		"type": "object", "required": []string{"ok", "error"}, "additionalProperties": false,
		"properties": obj{
			"ok": obj{"const": false},
			"error": obj{"type": "object", "required": []string{"code", "message"}, "additionalProperties": false,
				"properties": obj{
					"code":    ref("ErrorCode"),
					"message": obj{"type": "string"},
					"details": obj{"description": "For INVALID_MESSAGE: an array of {field, message}; for authorization failures: {layer}."},
					"retryAfterMs": obj{"type": "integer", "minimum": 0,
						"description": "For RATE_LIMITED; the Retry-After header carries it in whole seconds."},
				}},
		},
	}
}

// errorStatuses are the error responses listed on every authenticated
// operation; any other status uses the default response (also an error).
var errorStatuses = []int{
	http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound,
	http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusServiceUnavailable,
}

func (g *docGen) operation(rt *route) obj {
	op := obj{"operationId": rt.opID, "summary": rt.summary}
	if rt.desc != "" {
		op["description"] = rt.desc
	}
	var params []obj
	for _, m := range pathParamRe.FindAllStringSubmatch(rt.path, -1) {
		params = append(params, obj{"name": m[1], "in": "path", "required": true, "schema": obj{"type": "string"}})
	}
	for _, q := range rt.query {
		params = append(params, obj{"name": q.name, "in": "query", "required": false, "description": q.desc, "schema": q.schema})
	}
	if len(params) > 0 {
		op["parameters"] = params
	}
	if rt.request != "" {
		op["requestBody"] = obj{
			"required": !rt.optional,
			"content":  obj{"application/json": obj{"schema": ref(rt.request)}},
		}
	}
	responses := obj{}
	success := obj{"description": http.StatusText(rt.status)}
	if rt.response != "" {
		success["content"] = obj{"application/json": obj{"schema": ref(rt.response)}}
	} else {
		success["content"] = obj{"application/json": obj{"schema": obj{"type": "object"}}}
	}
	responses[strconv.Itoa(rt.status)] = success
	errRef := obj{"$ref": "#/components/responses/Error"}
	switch rt.auth {
	case authNone:
		op["security"] = []obj{}
		responses[strconv.Itoa(http.StatusNotFound)] = errRef
	default:
		for _, st := range errorStatuses {
			responses[strconv.Itoa(st)] = errRef
		}
		if rt.request != "" {
			responses[strconv.Itoa(http.StatusRequestEntityTooLarge)] = errRef
		}
	}
	responses["default"] = errRef
	op["responses"] = responses
	return op
}

func lowerMethod(m string) string {
	switch m {
	case http.MethodGet:
		return "get"
	case http.MethodPost:
		return "post"
	case http.MethodPatch:
		return "patch"
	case http.MethodDelete:
		return "delete"
	case http.MethodPut:
		return "put"
	}
	return m
}
