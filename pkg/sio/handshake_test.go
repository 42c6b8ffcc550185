package sio

import (
	"bufio"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unsafe"

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

// within reports whether s's bytes lie inside t's.
func within(s, t string) bool {
	if s == "" || t == "" {
		return false
	}
	ps, pt := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(t)))
	return ps >= pt && ps < pt+uintptr(len(t))
}

// What a connection keeps of its handshake does not pin the request line
// or the other headers' values, and reads the same.
func TestHandshakeKeepsNoRequestLine(t *testing.T) {
	for _, target := range []string{
		"/socket.io/?EIO=4&transport=websocket",
		"/socket.io/?EIO=4&transport=polling&t=PabcDEF&token=tok",
		"/socket.io?EIO=4&transport=websocket",
		"/other/?x=%41",
	} {
		for _, method := range []string{"GET", "POST", "PUT"} {
			raw := method + " " + target + " HTTP/1.1\r\nHost: h.test\r\nUser-Agent: ua\r\n" +
				"Authorization: Bearer abc\r\nX-Other: o\r\n\r\n"
			r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
			require.NoError(t, err)
			r.RemoteAddr = "10.0.0.1:5000"
			line := r.Method + " " + r.RequestURI // the request line's parts
			h := newHandshake(r, []string{"authorization"}, "/socket.io/")
			for _, kept := range []string{h.method, h.path, h.rawQuery} {
				require.False(t, within(kept, r.RequestURI), "%q kept from the request line", kept)
			}
			require.False(t, within(h.method, r.Method), "method kept from the request line")
			require.Equal(t, []headerField{{"Authorization", []string{"Bearer abc"}}}, h.header)
			require.NotSame(t, &r.Header["Authorization"][0], &h.header[0].values[0])

			got := h.request()
			require.Equal(t, r.Method, got.Method, line)
			require.Equal(t, r.URL.Path, got.URL.Path, line)
			require.Equal(t, r.URL.RawQuery, got.URL.RawQuery, line)
			require.Equal(t, "h.test", got.Host)
			require.Equal(t, "10.0.0.1:5000", got.RemoteAddr)
			require.Equal(t, http.Header{"Authorization": {"Bearer abc"}}, got.Header)
		}
	}
}
