package spec

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func BenchmarkValidateContent(b *testing.B) {
	hubs, err := LoadDir("../../configs/hubs", testOpts)
	require.NoError(b, err)
	chat := hubs[0]
	cases := []struct {
		name, typ, content string
	}{
		{"text", "text", `{"body":"hello there, how are you doing today?"}`},
		{"location", "location", `{"lat":52.52,"lng":13.405,"address":"Alexanderplatz 1","label":"Meet here"}`},
		{"poll", "poll", `{"question":"Lunch?","options":["pizza","sushi","salad"],"closesAt":"2026-01-02T12:00:00Z"}`},
		{"invalid", "image", `{"width":-1,"height":"x","extra":true}`},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			content := json.RawMessage(tc.content)
			b.ReportAllocs()
			for b.Loop() {
				chat.ValidateContent(tc.typ, content)
			}
		})
	}
}

func BenchmarkLoadDir(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts LoadOptions
	}{
		{"parse", LoadOptions{}},
		{"parse+compile", testOpts},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := LoadDir("../../configs/hubs", bc.opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
