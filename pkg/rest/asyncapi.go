package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/spec"
)

// AsyncAPIVersion is the version of the generated event documents.
const AsyncAPIVersion = "3.0.0"

// AsyncAPI returns the AsyncAPI 3.0 document of one hub's Socket.IO
// namespace, generated from the protocol table (pkg/hub) and the hub's
// spec: the inbound events it enables (send), the outbound ones (receive),
// its custom events by direction, its message and content schemas, and
// the error codes.
func AsyncAPI(h *spec.Hub) ([]byte, error) {
	if h == nil {
		return nil, fmt.Errorf("asyncapi: nil hub spec")
	}
	g := &docGen{h: h, schemas: obj{}}
	g.messageSchemas()
	g.schemas["ErrorCode"] = obj{"type": "string", "enum": hub.ErrorCodes}
	a := &asyncGen{g: g, messages: obj{}, channelMsgs: obj{}, operations: obj{}}
	for _, e := range hub.Protocol {
		if e.Enabled != nil && !e.Enabled(h) {
			continue
		}
		a.add("send", e.Name, e.Summary, a.payload(e.Fields, nil), obj{
			"permission": string(e.Permission), "rateLimit": string(e.Rate), "joinedRoom": e.Room,
			"moderated": e.Moderated, "stored": string(e.Persist), "ephemeral": e.Ephemeral, "enabledBy": e.Toggle,
		})
	}
	for _, o := range hub.Outbounds {
		if hub.ToggleOn(h, o.Toggle) {
			a.add("receive", o.Name, o.Summary, a.typed(o.Payload, nil), nil)
		}
	}
	a.customEvents()
	title := h.Name() + " events"
	desc := "Socket.IO events of the " + h.Name() + " hub (namespace /hub/" + h.Name() + "), generated from its spec. " +
		"Every client event may ask for an ack: `{ok: true, ...}` or `{ok: false, error: {code, message, details?}}`."
	doc := obj{
		"asyncapi":           AsyncAPIVersion,
		"info":               obj{"title": title, "version": "1", "description": desc},
		"defaultContentType": "application/json",
		"servers": obj{"hubd": obj{"host": "localhost", "protocol": "ws", "pathname": "/socket.io/",
			"description": "The hubd daemon (Socket.IO v4 over WebSocket or HTTP long-polling); authenticate with auth.token."}},
		"channels": obj{"hub": obj{"address": "/hub/" + h.Name(), "title": "namespace /hub/" + h.Name(),
			"messages": a.channelMsgs}},
		"operations": a.operations,
		"components": obj{"schemas": g.schemas, "messages": a.messages},
	}
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("asyncapi %s: encode: %w", h.Name(), err)
	}
	return b, nil
}

type asyncGen struct {
	g                                 *docGen
	messages, channelMsgs, operations obj
}

// key turns an event name into a component key (letters, digits, . - _).
func key(name string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			return r
		}
		return '_'
	}, name)
}

func (a *asyncGen) add(action, name, summary string, payload obj, ext obj) {
	k := key(action + "." + name)
	m := obj{"name": name, "title": name, "summary": summary, "payload": payload}
	if ext != nil {
		m["x-hubd"] = ext
	}
	a.messages[k] = m
	a.channelMsgs[k] = obj{"$ref": "#/components/messages/" + k}
	a.operations[k] = obj{"action": action, "summary": summary,
		"channel":  obj{"$ref": "#/channels/hub"},
		"messages": []obj{{"$ref": "#/channels/hub/messages/" + k}}}
}

// fieldSchemas are the schemas of payload fields by name; others are any
// JSON value.
var fieldSchemas = map[string]obj{
	"roomId": {"type": "string"}, "messageId": {"type": "string"}, "userId": {"type": "string"},
	"since": {"type": "string"}, "before": {"type": "string"}, "after": {"type": "string"},
	"limit": {"type": "integer", "minimum": 1}, "event": {"type": "string"}, "emoji": {"type": "string"},
	"reason": {"type": "string"}, "durationSeconds": {"type": "number", "minimum": 0}, "token": {"type": "string"},
	"content": {"type": "object"}, "settings": {"type": "object"}, "clientMessageId": {"type": "string", "maxLength": 128},
	"forwarded": {"type": "boolean"}, "error": {"type": "string"}, "by": {"type": "string"},
	"lastReadTimestamp": {"type": "string", "format": "date-time"}, "expiresAt": {"type": "string", "format": "date-time"},
	"until": {"type": "string", "format": "date-time"}, "seq": {"type": "integer", "minimum": 1},
	"retryAfterMs": {"type": "integer", "minimum": 1}, "hubRole": {"type": []string{"string", "null"}},
	"deletedBy": {"type": "string"},
}

func (a *asyncGen) payload(fields []string, extra obj) obj {
	props := obj{}
	var required []string
	for _, f := range fields {
		name := strings.TrimSuffix(f, "?")
		if name == f {
			required = append(required, name)
		}
		props[name] = a.fieldSchema(name)
	}
	for k, v := range extra {
		props[k] = v
	}
	p := obj{"type": "object", "properties": props}
	if len(required) > 0 {
		p["required"] = required
	}
	return p
}

func (a *asyncGen) fieldSchema(name string) obj {
	switch name {
	case "message":
		return ref("Message")
	case "messages":
		return obj{"type": "array", "items": ref("Message")}
	case "messageType":
		return ref("MessageType")
	case "code":
		return ref("ErrorCode")
	}
	if s, ok := fieldSchemas[name]; ok {
		return s
	}
	return obj{}
}

// customEvents adds the hub's custom events: a clientToRoom event is sent
// with hub:event and received under its name; server events are received.
func (a *asyncGen) customEvents() {
	for _, ce := range a.g.h.EventSettings.CustomEvents {
		desc := fmt.Sprintf("custom event %s (%s", ce.Name, ce.Direction)
		if ce.Ephemeral {
			desc += ", ephemeral)"
		} else {
			desc += ", stored and replayed with history)"
		}
		ext := obj{"direction": string(ce.Direction), "ephemeral": ce.Ephemeral}
		if ce.Direction == spec.ClientToRoom {
			a.add("send", "hub:event."+ce.Name, "send the "+desc+" with hub:event",
				a.payload([]string{"roomId", "event", "data?"}, obj{"event": obj{"const": ce.Name}}), ext)
		}
		a.add("receive", ce.Name, desc, a.typed(reflect.TypeFor[hub.CustomEvent](), nil), ext)
	}
}

func serveAsyncAPI(c *call) (result, error) {
	doc, err := AsyncAPI(c.spec)
	if err != nil {
		return result{}, err
	}
	return result{status: http.StatusOK, raw: doc}, nil
}
