package sio

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodePacket(t *testing.T) {
	deep := "2[\"e\"," + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "]"
	tests := []struct {
		name    string
		in      string
		want    Packet
		wantErr string
		refusal string // the refusal it counts as, when not a plain parse error
	}{
		{name: "connect main", in: "0", want: Packet{Type: pConnect, Nsp: "/", ID: -1, Data: []byte{}}},
		{name: "connect custom with auth", in: `0/custom,{"token":"123"}`, want: Packet{Type: pConnect, Nsp: "/custom", ID: -1, Data: []byte(`{"token":"123"}`)}},
		{name: "connect custom without comma", in: "0/random", want: Packet{Type: pConnect, Nsp: "/random", ID: -1, Data: []byte{}}},
		{name: "disconnect custom", in: "1/custom,", want: Packet{Type: pDisconnect, Nsp: "/custom", ID: -1, Data: []byte{}}},
		{name: "event", in: `2["message",1,"2",{"3":[true]}]`, want: Packet{Type: pEvent, Nsp: "/", ID: -1, Data: []byte(`["message",1,"2",{"3":[true]}]`)}},
		{name: "event with ack and nsp", in: `2/a,12["x"]`, want: Packet{Type: pEvent, Nsp: "/a", ID: 12, Data: []byte(`["x"]`)}},
		{name: "ack", in: `3456[1]`, want: Packet{Type: pAck, Nsp: "/", ID: 456, Data: []byte(`[1]`)}},
		{name: "binary event", in: `52-["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`, want: Packet{Type: pBinaryEvent, Nsp: "/", ID: -1, Attachments: 2, Data: []byte(`["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`)}},
		{name: "binary event at the default count", in: `510-["m",{"_placeholder":true,"num":9}]`, want: Packet{Type: pBinaryEvent, Nsp: "/", ID: -1, Attachments: 10, Data: []byte(`["m",{"_placeholder":true,"num":9}]`)}},
		{name: "longest namespace name", in: `2/` + strings.Repeat("n", MaxNamespaceLen-1) + `,["x"]`, want: Packet{Type: pEvent, Nsp: "/" + strings.Repeat("n", MaxNamespaceLen-1), ID: -1, Data: []byte(`["x"]`)}},
		{name: "binary ack", in: `61-/c,7[{"_placeholder":true,"num":0}]`, want: Packet{Type: pBinaryAck, Nsp: "/c", ID: 7, Attachments: 1, Data: []byte(`[{"_placeholder":true,"num":0}]`)}},

		{name: "empty", in: "", wantErr: "empty packet"},
		{name: "unknown type", in: "abc", wantErr: "unknown packet type"},
		{name: "type 7", in: `7["x"]`, wantErr: "unknown packet type"},
		{name: "event object payload", in: "2{}", wantErr: "event payload must be an array"},
		{name: "event number name", in: "2[1,2]", wantErr: "event name must be a string"},
		{name: "event empty array", in: "2[]", wantErr: "event name must be a string"},
		{name: "event no payload", in: "2", wantErr: "event payload must be an array"},
		{name: "bad ack id", in: `2abc["message-with-ack",1]`, wantErr: "invalid JSON"},
		{name: "truncated json", in: `2["message",{"a":`, wantErr: "invalid JSON"},
		{name: "too deep", in: deep, wantErr: "nested too deep"},
		{name: "binary zero attachments", in: `50-["m"]`, wantErr: "bad attachment count"},
		{name: "binary no dash", in: `52["m"]`, wantErr: "bad attachment count"},
		{name: "binary huge count", in: `599999-["m"]`, wantErr: "too many attachments", refusal: RefuseTooManyAttachments},
		{name: "binary one past the default count", in: `511-["m",{"_placeholder":true,"num":0}]`, wantErr: "too many attachments", refusal: RefuseTooManyAttachments},
		{name: "namespace name too long", in: `2/` + strings.Repeat("n", MaxNamespaceLen) + `,["x"]`, wantErr: "namespace name too long", refusal: RefuseNamespaceTooLong},
		{name: "namespace name too long without comma", in: `0/` + strings.Repeat("n", MaxNamespaceLen), wantErr: "namespace name too long", refusal: RefuseNamespaceTooLong},
		{name: "connect with array", in: `0[1]`, wantErr: "connect payload must be an object"},
		{name: "disconnect with payload", in: `1{"a":1}`, wantErr: "unexpected disconnect payload"},
		{name: "connect error from client", in: `4{"message":"x"}`, wantErr: "not accepted from a client"},
		{name: "ack without id", in: `3[1]`, wantErr: "ack without id"},
		{name: "ack object", in: `31{}`, wantErr: "ack payload must be an array"},
		{name: "id too long", in: `21234567890123456789["x"]`, wantErr: "bad ack id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodePacket([]byte(tt.in), defaultLimits)
			if tt.wantErr != "" {
				require.Error(t, err)
				require.ErrorIs(t, err, ErrInvalidPacket)
				require.Contains(t, err.Error(), tt.wantErr)
				want := tt.refusal
				if want == "" {
					want = RefuseParseError
				}
				require.Equal(t, want, refusalOf(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestCheckPlaceholders(t *testing.T) {
	tests := []struct {
		name        string
		args        string
		attachments int
		wantErr     string
	}{
		{name: "ok", args: `[{"_placeholder":true,"num":0},{"a":{"_placeholder":true,"num":1}}]`, attachments: 2},
		{name: "num out of range", args: `[{"_placeholder":true,"num":2}]`, attachments: 2, wantErr: "out of range"},
		{name: "negative num", args: `[{"_placeholder":true,"num":-1}]`, attachments: 1, wantErr: "out of range"},
		{name: "fractional num", args: `[{"_placeholder":true,"num":0.5}]`, attachments: 1, wantErr: "out of range"},
		{name: "missing num", args: `[{"_placeholder":true}]`, attachments: 1, wantErr: "without num"},
		{name: "no placeholder", args: `[1,"x"]`, attachments: 1, wantErr: "without placeholder"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []json.RawMessage
			require.NoError(t, json.Unmarshal([]byte(tt.args), &args))
			err := checkPlaceholders(args, tt.attachments)
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}
}

func TestEncodePacket(t *testing.T) {
	type obj struct {
		A int    `json:"a"`
		B string `json:"b,omitempty"`
	}
	tests := []struct {
		name    string
		nsp     string
		typ     int
		id      int64
		ev      string
		hasName bool
		args    []any
		want    string
		binary  [][]byte
	}{
		{name: "plain", nsp: "/", typ: pEvent, id: -1, ev: "hello", hasName: true, args: []any{1, "two", true, nil, 2.5}, want: `42["hello",1,"two",true,null,2.5]`},
		{name: "nsp and id", nsp: "/hub/chat", typ: pEvent, id: 7, ev: "x", hasName: true, want: `42/hub/chat,7["x"]`},
		{name: "raw and struct", nsp: "/", typ: pEvent, id: -1, ev: "e", hasName: true, args: []any{json.RawMessage(`{"k":[1]}`), obj{A: 1}}, want: `42["e",{"k":[1]},{"a":1}]`},
		{name: "escaping", nsp: "/", typ: pEvent, id: -1, ev: "q\"\\\n\x01", hasName: true, want: `42["q\"\\\n\u0001"]`},
		{name: "binary event", nsp: "/c", typ: pEvent, id: -1, ev: "b", hasName: true, args: []any{[]byte{1, 2}, "s", []byte{3}}, want: `452-/c,["b",{"_placeholder":true,"num":0},"s",{"_placeholder":true,"num":1}]`, binary: [][]byte{{1, 2}, {3}}},
		{name: "ack", nsp: "/", typ: pAck, id: 456, args: []any{1, "2"}, want: `43456[1,"2"]`},
		{name: "binary ack", nsp: "/", typ: pAck, id: 789, args: []any{[]byte{1}}, want: `461-789[{"_placeholder":true,"num":0}]`, binary: [][]byte{{1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames, err := encodePacket(tt.nsp, tt.typ, tt.id, tt.ev, tt.hasName, tt.args)
			require.NoError(t, err)
			require.Len(t, frames, 1+len(tt.binary))
			require.Equal(t, tt.want, string(frames[0].payload()))
			require.False(t, frames[0].binary)
			for i, b := range tt.binary {
				require.True(t, frames[i+1].binary)
				require.Equal(t, b, frames[i+1].payload())
			}
			// What we send must decode with our own strict decoder (minus
			// the Engine.IO type byte).
			if tt.hasName {
				_, err := DecodePacket(frames[0].payload()[1:], defaultLimits)
				require.NoError(t, err)
			}
		})
	}
}

func TestEncodePacketRejectsNaN(t *testing.T) {
	_, err := encodePacket("/", pEvent, -1, "e", true, []any{func() {}})
	require.Error(t, err)
}

func TestFrameHeader(t *testing.T) {
	tests := []struct {
		name   string
		n      int
		header []byte
	}{
		{name: "small", n: 5, header: []byte{0x81, 5}},
		{name: "125", n: 125, header: []byte{0x81, 125}},
		{name: "126", n: 126, header: []byte{0x81, 126, 0, 126}},
		{name: "65535", n: 65535, header: []byte{0x81, 126, 0xff, 0xff}},
		{name: "65536", n: 65536, header: []byte{0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newFrameBuf(tt.n)
			b = append(b, make([]byte, tt.n)...)
			f := finish(b, false)
			w := f.wire()
			require.Equal(t, tt.header, w[:len(tt.header)])
			require.Len(t, w, len(tt.header)+tt.n)
			require.Len(t, f.payload(), tt.n)
		})
	}
}

func TestDecodePayload(t *testing.T) {
	type pk struct {
		typ    byte
		data   string
		binary bool
	}
	tests := []struct {
		name    string
		in      string
		want    []pk
		wantErr bool
	}{
		{name: "one", in: "4hello", want: []pk{{'4', "hello", false}}},
		{name: "several", in: "4a\x1e3\x1e4b", want: []pk{{'4', "a", false}, {'3', "", false}, {'4', "b", false}}},
		{name: "binary", in: "4x\x1ebAQIDBA==", want: []pk{{'4', "x", false}, {'4', "\x01\x02\x03\x04", true}}},
		{name: "empty", in: "", wantErr: true},
		{name: "bad type", in: "abc", wantErr: true},
		{name: "empty packet", in: "4a\x1e\x1e4b", wantErr: true},
		{name: "trailing separator", in: "4a\x1e", wantErr: true},
		{name: "bad base64", in: "b!!!", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []pk
			err := DecodePayload([]byte(tt.in), func(typ byte, data []byte, binary bool) error {
				got = append(got, pk{typ, string(data), binary})
				return nil
			})
			if tt.wantErr {
				require.Error(t, err)
				require.True(t, errors.Is(err, ErrInvalidPacket))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}
