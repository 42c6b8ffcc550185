package sio

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

func TestAcceptedEncoding(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   string
	}{
		{name: "none", values: nil, want: ""},
		{name: "gzip", values: []string{"gzip"}, want: "gzip"},
		{name: "browser", values: []string{"gzip, deflate, br, zstd"}, want: "gzip"},
		{name: "deflate only", values: []string{"deflate"}, want: "deflate"},
		{name: "case and spaces", values: []string{" GZip ;q=0.5 , Deflate;Q=0.8"}, want: "deflate"},
		{name: "gzip refused", values: []string{"gzip;q=0, deflate"}, want: "deflate"},
		{name: "identity only", values: []string{"identity"}, want: ""},
		{name: "star", values: []string{"*"}, want: "gzip"},
		{name: "star but gzip refused", values: []string{"*;q=0.3, gzip;q=0"}, want: "deflate"},
		{name: "everything refused", values: []string{"*;q=0"}, want: ""},
		{name: "bad q is a refusal", values: []string{"gzip;q=x, deflate;q=0.1"}, want: "deflate"},
		{name: "several header lines", values: []string{"br", "deflate"}, want: "deflate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.want, acceptedEncoding(tc.values))
		})
	}
}

// rawGet sends a GET with the given Accept-Encoding, without Go's own
// transparent decompression, and returns the response with its raw body.
func rawGet(t *testing.T, u, acceptEncoding string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	if acceptEncoding != "" {
		req.Header.Set("Accept-Encoding", acceptEncoding)
	}
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	res, err := tr.RoundTrip(req)
	require.NoError(t, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res, b
}

func decode(t *testing.T, enc string, b []byte) string {
	t.Helper()
	var r io.Reader
	var err error
	switch enc {
	case "gzip":
		r, err = gzip.NewReader(bytes.NewReader(b))
	case "deflate":
		r, err = zlib.NewReader(bytes.NewReader(b))
	default:
		return string(b)
	}
	require.NoError(t, err)
	out, err := io.ReadAll(r)
	require.NoError(t, err)
	return string(out)
}

func TestPollingCompression(t *testing.T) {
	big := strings.Repeat("compressible ", 200) // 2,600 bytes
	tests := []struct {
		name      string
		threshold int
		accept    string
		wantEnc   string
	}{
		{name: "gzip", accept: "gzip, deflate", wantEnc: "gzip"},
		{name: "deflate", accept: "deflate", wantEnc: "deflate"},
		{name: "not accepted", accept: "", wantEnc: ""},
		{name: "identity", accept: "identity", wantEnc: ""},
		{name: "below the threshold", threshold: 10_000, accept: "gzip", wantEnc: ""},
		{name: "off", threshold: -1, accept: "gzip", wantEnc: ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, base := startServer(t, Options{HTTPCompressionThreshold: tc.threshold})
			s.Of("/").OnEvent(func(so *Socket, ev *Event) { _ = so.Emit("big", big) })
			sid := pollingSession(t, base)
			u := pollURL(base, sid)
			code, _ := httpPost(t, u, "40")
			require.Equal(t, http.StatusOK, code)
			res, body := rawGet(t, u, tc.accept)
			require.Empty(t, res.Header.Get("Content-Encoding"), "the CONNECT answer is below 1024 bytes")
			require.True(t, strings.HasPrefix(string(body), "40{"), string(body))

			code, _ = httpPost(t, u, `42["go"]`)
			require.Equal(t, http.StatusOK, code)
			res, body = rawGet(t, u, tc.accept)
			require.Equal(t, http.StatusOK, res.StatusCode)
			require.Equal(t, tc.wantEnc, res.Header.Get("Content-Encoding"))
			if tc.threshold >= 0 && tc.threshold < 10_000 {
				require.Contains(t, res.Header.Values("Vary"), "Accept-Encoding")
			}
			if tc.wantEnc != "" {
				require.Less(t, len(body), len(big)/4, "compressed on the wire")
			}
			require.Equal(t, `42["big","`+big+`"]`, decode(t, tc.wantEnc, body))
		})
	}
}

func TestPollingHandshakeCompressedAboveThreshold(t *testing.T) {
	_, base := startServer(t, Options{HTTPCompressionThreshold: 1})
	res, body := rawGet(t, base+"/socket.io/?EIO=4&transport=polling", "gzip")
	require.Equal(t, "gzip", res.Header.Get("Content-Encoding"))
	require.True(t, strings.HasPrefix(decode(t, "gzip", body), `0{"sid":"`))
}

// countingDialer dials WebSocket connections whose bytes read from the
// network are counted, so a test sees what compression saved on the wire.
func countingDialer(compress bool, read *atomic.Int64) *websocket.Dialer {
	return &websocket.Dialer{
		EnableCompression: compress,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: c, read: read}, nil
		},
	}
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c *countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func TestWebSocketPerMessageDeflate(t *testing.T) {
	big := strings.Repeat("compressible ", 400) // 5,200 bytes
	tests := []struct {
		name          string
		server        bool
		client        bool
		wantNegotiate bool
	}{
		{name: "both on", server: true, client: true, wantNegotiate: true},
		{name: "client does not offer", server: true, client: false},
		{name: "server option off", server: false, client: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, base := startServer(t, Options{PerMessageDeflate: tc.server})
			got := make(chan string, 1)
			s.Of("/").OnEvent(func(so *Socket, ev *Event) {
				got <- string(ev.Args[0])
				_ = so.Emit("big", big)
			})
			var read atomic.Int64
			ws, res, err := countingDialer(tc.client, &read).Dial(wsURL(base, ""), nil)
			require.NoError(t, err)
			t.Cleanup(func() { _ = ws.Close() })
			ext := res.Header.Get("Sec-WebSocket-Extensions")
			require.Equal(t, tc.wantNegotiate, strings.Contains(ext, "permessage-deflate"), ext)
			c := &wsClient{t: t, c: ws}
			c.readText() // open
			c.connectNsp("/", "")

			// The client compresses what it sends when negotiated; the
			// server reads it either way.
			c.send(`42["go","` + big + `"]`)
			require.Equal(t, `"`+big+`"`, <-got)
			before := read.Load()
			require.Equal(t, `42["big","`+big+`"]`, c.readText())
			onWire := read.Load() - before
			if tc.wantNegotiate {
				require.Less(t, onWire, int64(len(big)/4), "compressed on the wire")
			} else {
				require.Greater(t, onWire, int64(len(big)), "plain on the wire")
			}
			// Small packets go out plain whatever was negotiated.
			c.send(`42["small","x"]`)
			<-got
			require.Equal(t, `42["big","`+big+`"]`, c.readText())
		})
	}
}

func TestWebSocketPerMessageDeflateAfterUpgrade(t *testing.T) {
	big := strings.Repeat("compressible ", 400)
	s, base := startServer(t, Options{PerMessageDeflate: true})
	s.Of("/").OnEvent(func(so *Socket, ev *Event) { _ = so.Emit("big", big) })
	sid := pollingSession(t, base)
	u := pollURL(base, sid)
	code, _ := httpPost(t, u, "40")
	require.Equal(t, http.StatusOK, code)
	_, body := httpGet(t, u)
	require.True(t, strings.HasPrefix(body, "40{"), body)

	var read atomic.Int64
	ws, res, err := countingDialer(true, &read).Dial(wsURL(base, "&sid="+sid), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.Close() })
	require.Contains(t, res.Header.Get("Sec-WebSocket-Extensions"), "permessage-deflate")
	c := &wsClient{t: t, c: ws}
	c.send("2probe")
	require.Equal(t, "3probe", c.readText())
	c.send("5")
	eventually(t, func() bool { return s.engine.lookup(sid).Transport() == "websocket" }, "upgraded")
	c.send(`42["go"]`)
	before := read.Load()
	require.Equal(t, `42["big","`+big+`"]`, c.readText())
	require.Less(t, read.Load()-before, int64(len(big)/4), "compressed on the wire")
}

func TestWebSocketInflatedMessageBounded(t *testing.T) {
	var refused atomic.Value
	s, base := startServer(t, Options{PerMessageDeflate: true, MaxPayload: 10_000,
		OnRefuse: func(reason string) { refused.Store(reason) }})
	events := make(chan struct{}, 1)
	s.Of("/").OnEvent(func(*Socket, *Event) { events <- struct{}{} })
	ws, _, err := countingDialer(true, new(atomic.Int64)).Dial(wsURL(base, ""), nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = ws.Close() })
	c := &wsClient{t: t, c: ws}
	c.readText()
	c.connectNsp("/", "")
	// About 200 bytes on the wire, 100,000 once inflated.
	c.send(`42["x","` + strings.Repeat("a", 100_000) + `"]`)
	for {
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		require.True(t, errors.As(err, &ce), "closed with a code: %v", err)
		require.Equal(t, websocket.CloseMessageTooBig, ce.Code)
		break
	}
	require.Equal(t, RefusePayloadTooLarge, refused.Load())
	require.Empty(t, events, "the message never reached a handler")
}

func TestDeflatedWire(t *testing.T) {
	inflate := func(t *testing.T, wire []byte) string {
		t.Helper()
		require.Equal(t, byte(0x80|rsv1|opText), wire[0], "FIN, RSV1, text")
		n := int(wire[1])
		hdr := 2
		if n == 126 {
			n = int(wire[2])<<8 | int(wire[3])
			hdr = 4
		}
		require.Len(t, wire, hdr+n)
		r := flate.NewReader(io.MultiReader(bytes.NewReader(wire[hdr:]), bytes.NewReader([]byte{0, 0, 0xff, 0xff, 1, 0, 0, 0xff, 0xff})))
		out, err := io.ReadAll(r)
		require.NoError(t, err)
		return string(out)
	}
	big := "4" + strings.Repeat("abc", 1000)
	f := textFrame(big)
	w1 := deflatedWire(f, 1024)
	require.Equal(t, big, inflate(t, w1))
	w2 := deflatedWire(f, 1024)
	require.Same(t, &w1[0], &w2[0], "compressed once per frame, shared by its recipients")
	require.Equal(t, big, string(f.payload()), "the plain frame is untouched")

	small := textFrame("4" + strings.Repeat("abc", 100))
	require.Equal(t, small.wire(), deflatedWire(small, 1024), "below the threshold")

	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	incompressible := binaryFrame(random)
	require.Equal(t, incompressible.wire(), deflatedWire(incompressible, 16), "sent plain when deflate does not shrink it")

	pong := finishOp(append(newFrameBuf(2000), strings.Repeat("p", 2000)...), opPong, false)
	require.Equal(t, pong.wire(), deflatedWire(pong, 16), "control frames are never compressed")
}
