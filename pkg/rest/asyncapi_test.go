package rest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/spec"
)

type schema struct {
	Type       any               `json:"type"`
	Ref        string            `json:"$ref"`
	Properties map[string]schema `json:"properties"`
	Required   []string          `json:"required"`
	Items      *schema           `json:"items"`
}

// Every receive payload of the AsyncAPI document is its declared struct
// (pkg/hub/outbound.go): the same fields, required unless left out when
// empty, nested structs included.
func TestAsyncAPIReceivePayloadsAreTheDeclaredStructs(t *testing.T) {
	h := loadSpec(t, "../../configs/hubs/chat.yaml")
	h.HubLogic.StateScript = "({})"
	h.MessageSettings.EnableReaction = true
	es := &h.EventSettings
	es.EnableTypingIndicator, es.EnableRecordingIndicator, es.EnablePresence = true, true, true
	es.EnableReadReceipts, es.EnableDeliveryReceipts = true, true
	es.CustomEvents = []spec.HubCustomEvent{{Name: "notice", Direction: spec.ServerToClient}}
	b, err := AsyncAPI(h)
	require.NoError(t, err)
	var doc struct {
		Components struct {
			Messages map[string]struct {
				Name    string `json:"name"`
				Payload schema `json:"payload"`
			} `json:"messages"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(b, &doc))
	check := func(name string, fields []string) schema {
		m, ok := doc.Components.Messages[key("receive."+name)]
		require.True(t, ok, "no receive message for %s", name)
		require.Equal(t, name, m.Name)
		var props, required []string
		for _, f := range fields {
			n := strings.TrimSuffix(f, "?")
			props = append(props, n)
			if n == f {
				required = append(required, n)
			}
		}
		require.ElementsMatch(t, props, keys(m.Payload.Properties), name)
		require.ElementsMatch(t, required, m.Payload.Required, name)
		return m.Payload
	}
	for _, o := range hub.Outbounds {
		check(o.Name, o.Fields)
	}
	check("notice", hub.CustomEventFields)

	joined := check("hub:joined", []string{"hubRole", "permissions", "roomId"}).Properties
	require.Equal(t, []any{"string", "null"}, joined["hubRole"].Type)
	require.Contains(t, joined["permissions"].Properties, "allowedMessageTypes")
	require.Equal(t, "array", joined["permissions"].Properties["allowedMessageTypes"].Type)
	presence := doc.Components.Messages[key("receive.hub:presence")].Payload.Properties
	require.Equal(t, []string{"id"}, presence["user"].Required)
	history := doc.Components.Messages[key("receive.hub:history")].Payload.Properties
	require.Equal(t, refSchemas+"Message", history["messages"].Items.Ref)
	errs := doc.Components.Messages[key("receive.hub:error")].Payload.Properties
	require.Equal(t, refSchemas+"ErrorCode", errs["code"].Ref)
	require.Equal(t, "integer", errs["retryAfterMs"].Type)
}

func keys(m map[string]schema) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
