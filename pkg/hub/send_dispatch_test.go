package hub

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
)

// A hub:send payload is decoded once, by the dispatcher, when it decodes
// whole; one that does not is refused as before: after the membership
// check (NOT_JOINED for a room not joined), with the decode's BAD_REQUEST
// otherwise. A stored message's ack is the result map's ack of before.
func TestSendDispatchDecodesOnceAndRefusesAsBefore(t *testing.T) {
	e, c := newSendEnv(t)
	entry := InboundEvent("hub:send")
	tests := []struct {
		name, payload, code string
	}{
		{name: "plain", payload: `{"roomId":"s1","messageType":"text","content":{"body":"hi"},"clientMessageId":"c1"}`},
		{name: "keys the scan leaves to decode", payload: `{"ROOMID":"s1","messagetype":"text","content":{"body":"hi"}}`},
		{name: "escaped roomId", payload: `{"roomId":"\u00731","messageType":"text","content":{"body":"hi"}}`},
		{name: "bad field, joined room", payload: `{"roomId":"s1","messageType":5}`, code: CodeBadRequest},
		{name: "bad field, room not joined", payload: `{"roomId":"elsewhere","messageType":5}`, code: CodeNotJoined},
		{name: "room not joined", payload: `{"roomId":"elsewhere","messageType":"text","content":{"body":"hi"}}`, code: CodeNotJoined},
		{name: "no roomId", payload: `{"messageType":"text","content":{"body":"hi"}}`, code: CodeBadRequest},
		{name: "not an object", payload: `["s1"]`, code: CodeBadRequest},
		{name: "empty", payload: ``, code: CodeBadRequest},
		{name: "invalid content", payload: `{"roomId":"s1","messageType":"text","content":{"body":1}}`, code: CodeInvalidMessage},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := &call{c: c, payload: json.RawMessage(tc.payload)}
			ack, err := sendAck(e.h, context.Background(), entry, in)
			if tc.code != "" {
				require.Error(t, err)
				require.Equal(t, tc.code, clientErr(t, err).Code)
				return
			}
			require.NoError(t, err)
			require.True(t, in.decoded, "decoded by the dispatcher")
			require.NotNil(t, in.sent)
			stored, err := e.store.Get(context.Background(), e.h.Name(), in.sent.ID)
			require.NoError(t, err)
			require.Equal(t, msgstore.StatusPublished, stored.Status)
			want, err := appendAck(nil, map[string]any{"message": in.sent})
			require.NoError(t, err)
			require.Equal(t, string(want), string(ack))
		})
	}
}

// sequenced hands the sequencer a closure holding a delivery's fields one
// by one (one allocation): a field added to delivery must be carried there
// too.
func TestSequencedCarriesEveryDeliveryField(t *testing.T) {
	var names []string
	for f := range reflect.TypeFor[delivery]().Fields() {
		names = append(names, f.Name)
	}
	require.Equal(t, []string{"To", "Event", "Kind", "Users", "Sender", "Offset"}, names,
		"delivery changed: carry the new field through Hub.sequenced's closure")
}

// A joined member's message rate key, kept with the member, is the one
// every other path counts under: its sends through the dispatcher and
// through REST (Admit) share one limit.
func TestJoinedMembersRateKeyIsTheUsers(t *testing.T) {
	e, c, a := newSendEnvLimit(t, 2, "msg:rulesTest:"+alice)
	require.Equal(t, e.h.messageRateKey(alice), "msg:rulesTest:"+alice)
	entry := InboundEvent("hub:send")
	payload := json.RawMessage(`{"roomId":"s1","messageType":"text","content":{"body":"hi"}}`)

	in := &call{c: c, payload: payload}
	_, err := sendAck(e.h, context.Background(), entry, in)
	require.NoError(t, err)
	require.Equal(t, "msg:"+e.h.Name()+":"+alice, in.actor.msgKey)
	_, err = admitted(context.Background(), e.h, a, "hub:send", func() (*msgstore.Message, error) {
		return e.h.Send(context.Background(), a, SendInput{MessageType: "text", Content: json.RawMessage(`{"body":"rest"}`)})
	})
	require.NoError(t, err)
	_, err = sendAck(e.h, context.Background(), entry, &call{c: c, payload: payload})
	require.Error(t, err)
	require.Equal(t, CodeRateLimited, clientErr(t, err).Code)
}
