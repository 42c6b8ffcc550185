package sio

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// Known bad (and a few good) Socket.IO packets as fuzz seeds.
var sioSeeds = []string{
	`0`, `0/custom,{"token":"1"}`, `1/custom,`, `2["m",1,"2",{"3":[true]}]`, `2/a,12["x"]`, `3456[1]`,
	`52-["m",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
	`2[1,2]`, `2[{"a":1}]`, `2[null]`, `2{}`, `2[]`, `2`, `2abc["m"]`, `4abc`, `7["x"]`, `9`,
	`50-["m",{"_placeholder":true,"num":0}]`, `5-["m"]`, `5x-["m"]`, `599999-["m"]`,
	`51-["m",{"_placeholder":true,"num":1}]`, `51-["m",{"_placeholder":true,"num":-1}]`, `51-["m",{"_placeholder":true}]`,
	`2["m",{"a":`, `2["m"`, `0{"a":`, `0[1]`, `1{"a":1}`, `3[1]`,
	"2[\"e\"," + strings.Repeat("[", 100) + strings.Repeat("]", 100) + "]",
	"2[\"e\",\"" + strings.Repeat("x", 4096) + "\"]",
	"2[\"\\ud800\"]", "2/\xff,[\"e\"]",
}

func FuzzDecodePacket(f *testing.F) {
	for _, s := range sioSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := DecodePacket(b, defaultLimits)
		if err != nil {
			return
		}
		if p.Type < 0 || p.Type > 6 || p.Type == pConnectError {
			t.Fatalf("accepted type %d", p.Type)
		}
		if len(p.Data) > 0 && !json.Valid(p.Data) {
			t.Fatalf("accepted invalid JSON %q", p.Data)
		}
		if (p.Type == pBinaryEvent || p.Type == pBinaryAck) && (p.Attachments <= 0 || p.Attachments > DefaultMaxAttachments) {
			t.Fatalf("accepted attachment count %d", p.Attachments)
		}
		if p.Type == pEvent || p.Type == pBinaryEvent {
			args, err := splitArray(p.Data)
			if err != nil || len(args) == 0 {
				t.Fatalf("accepted event without args: %q", p.Data)
			}
			var name string
			if err := json.Unmarshal(args[0], &name); err != nil {
				t.Fatalf("accepted non-string event name %q", args[0])
			}
			if p.Attachments > 0 {
				_ = checkPlaceholders(args[1:], p.Attachments)
			}
		}
	})
}

// Engine.IO payload seeds.
var eioSeeds = []string{
	"4hello", "4a\x1e4b\x1e4c", "4hello\x1ebAQIDBA==", "3", "1", "2probe", "5", "6",
	"", "abc", "\x1e", "4a\x1e", "\x1e4a", "b", "b!!!", "bAQID", "7x", "4a\x1e\x1e4b",
	"4" + strings.Repeat("x", 70000),
}

func FuzzDecodePayload(f *testing.F) {
	for _, s := range eioSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		type pk struct {
			typ    byte
			data   []byte
			binary bool
		}
		var got []pk
		err := DecodePayload(b, func(typ byte, data []byte, binary bool) error {
			if typ < '0' || typ > '6' {
				t.Fatalf("type %q passed", typ)
			}
			got = append(got, pk{typ, append([]byte(nil), data...), binary})
			return nil
		})
		if err != nil {
			return
		}
		// Re-encode and decode again: same packets.
		var out []byte
		for i, p := range got {
			if i > 0 {
				out = append(out, 0x1e)
			}
			if p.binary {
				out = append(out, 'b')
				out = base64.StdEncoding.AppendEncode(out, p.data)
			} else {
				out = append(out, p.typ)
				out = append(out, p.data...)
			}
		}
		i := 0
		err = DecodePayload(out, func(typ byte, data []byte, binary bool) error {
			if i >= len(got) || got[i].typ != typ || got[i].binary != binary || !bytes.Equal(got[i].data, data) {
				t.Fatalf("round trip mismatch at %d", i)
			}
			i++
			return nil
		})
		if err != nil || i != len(got) {
			t.Fatalf("round trip failed: %v (%d of %d)", err, i, len(got))
		}
	})
}
