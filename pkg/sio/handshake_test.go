package sio

import (
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func requireQueryLikeNetURL(t *testing.T, raw string) {
	t.Helper()
	v, _ := url.ParseQuery(raw)
	want := engineQuery{transport: v.Get("transport"), eio: v.Get("EIO"), sid: v.Get("sid")}
	require.Equal(t, want, parseEngineQuery(raw), "%q", raw)
}

// The Engine.IO parameters read from a query are the ones net/url reads.
func TestParseEngineQueryMatchesNetURL(t *testing.T) {
	for _, raw := range []string{
		"",
		"EIO=4&transport=websocket",
		"EIO=4&transport=polling&t=P1a2b3c&sid=AbC-_dEf0123456789xy",
		"transport=websocket&EIO=4&token=eyJhbGciOi.eyJ1c2VySWQi.sig",
		"EIO=3&EIO=4&transport=polling&transport=websocket",
		"EIO&transport=&sid",
		"EIO=4=5&transport==websocket",
		"&&EIO=4&&transport=websocket&",
		"EIO=4;x=1&transport=websocket",
		"EIO=4&transport=websocket;sid=1&sid=2",
		"transport=web%73ocket&EIO=4",
		"transport=websocket&EIO=%34&sid=a+b",
		"transport=websocket&EIO=4&sid=%zz&sid=ok",
		"tr%61nsport=polling&EIO=4",
		"eio=4&TRANSPORT=websocket&Sid=x",
		"EIO=4&transport=websocket&" + strings.Repeat("x=1&", 40),
		strings.Repeat("&", 40) + "EIO=4",
		"EIO=4&transport=websocket&sid=é",
	} {
		requireQueryLikeNetURL(t, raw)
	}
}

func FuzzParseEngineQuery(f *testing.F) {
	f.Add("EIO=4&transport=websocket")
	f.Add("EIO=4&transport=polling&sid=abc;d&sid=e")
	f.Add("transport=%77ebsocket&EIO=4+")
	f.Fuzz(func(t *testing.T, raw string) {
		requireQueryLikeNetURL(t, raw)
	})
}
