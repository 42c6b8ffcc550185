package sio

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// The WebSocket handshake of a new session whose connection the network
// poller will read is answered here, without the WebSocket library: the
// library's connection (its buffers and state, about 1 KB and a dozen
// allocations) would be dropped right after the upgrade anyway. Only a
// request the library would accept as it stands takes this way
// (plainUpgrade makes the library's checks, in its order, and says no
// where the library would answer an error or negotiate something); every
// other request, and a connection the poller cannot read, goes through the
// library as before, so refusals and their answers are the library's.

// wsAcceptGUID is RFC 6455's key suffix for Sec-WebSocket-Accept.
const wsAcceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// wsUpgradeResponse starts the 101 answer, as the library writes it.
const wsUpgradeResponse = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "

// errEarlyData is the library's refusal of a client that sent data before
// the 101.
var errEarlyData = errors.New("websocket: client sent data before handshake is complete")

// plainUpgrade returns the request's Sec-WebSocket-Key when the request is
// a WebSocket handshake the library would accept without error and the
// session will be read by the network poller (no compression negotiated,
// no subprotocol: the engine asks for neither); ok is false otherwise.
func (e *Engine) plainUpgrade(r *http.Request) (key string, ok bool) {
	if e.opts.GoroutineReaders || !netpollSupported {
		return "", false
	}
	h := r.Header
	if !headerHasToken(h["Connection"], "upgrade") || !headerHasToken(h["Upgrade"], "websocket") ||
		r.Method != http.MethodGet || !headerHasToken(h["Sec-Websocket-Version"], "13") {
		return "", false
	}
	if !e.originAllowed(h.Get("Origin")) {
		return "", false
	}
	key = h.Get("Sec-Websocket-Key")
	if !validChallengeKey(key) {
		return "", false
	}
	if e.up.EnableCompression && len(h["Sec-Websocket-Extensions"]) > 0 {
		return "", false // the library negotiates; onPoller decides after it
	}
	return key, true
}

// headerHasToken reports whether one of a header's lines holds token in
// its comma-separated list (case-insensitive), reading each line as the
// WebSocket library does: up to the first element that is not a lone token.
func headerHasToken(lines []string, token string) bool {
	for _, line := range lines {
		for line != "" {
			elem, rest, _ := cutComma(line)
			elem = trimSpaceTab(elem)
			if !isToken(elem) {
				break
			}
			if equalFoldASCII(elem, token) {
				return true
			}
			line = rest
		}
	}
	return false
}

func cutComma(s string) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func trimSpaceTab(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// isToken reports whether s is a non-empty RFC 7230 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || isSeparator(c) {
			return false
		}
	}
	return true
}

func isSeparator(c byte) bool {
	for i := 0; i < len(`()<>@,;:\"/[]?={}`); i++ {
		if `()<>@,;:\"/[]?={}`[i] == c {
			return true
		}
	}
	return false
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// validChallengeKey reports whether key is the base64 of 16 bytes, in its
// only canonical form (24 characters).
func validChallengeKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var src [24]byte
	var dst [18]byte
	n, err := base64.StdEncoding.Decode(dst[:], src[:copy(src[:], key)])
	return err == nil && n == 16
}

// appendAccept appends the Sec-WebSocket-Accept value for key (24 bytes).
func appendAccept(b []byte, key string) []byte {
	var in [24 + len(wsAcceptGUID)]byte
	copy(in[copy(in[:], key):], wsAcceptGUID)
	sum := sha1.Sum(in[:])
	return base64.StdEncoding.AppendEncode(b, sum[:])
}

// appendTextFrame appends an unmasked final text frame holding p.
func appendTextFrame(b, p []byte) []byte {
	return append(appendWSHeader(b, opText, len(p)), p...)
}

// handshakePlain answers a plain WebSocket handshake (plainUpgrade gave its
// key): hijack, then the 101 and the open packet in one write, and the
// connection to the network poller. A connection the poller cannot read
// goes on through the library.
func (e *Engine) handshakePlain(w http.ResponseWriter, r *http.Request, key string) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		e.handshakeLibrary(w, r) // the library answers the error
		return
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		// As the library answers a failed hijack.
		w.Header().Set("Sec-Websocket-Version", "13")
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		e.log.Debug("websocket upgrade failed", zap.Error(err))
		return
	}
	if brw.Reader.Buffered() > 0 {
		_ = nc.Close()
		e.log.Debug("websocket upgrade failed", zap.Error(errEarlyData))
		return
	}
	// As the library does: the HTTP server's deadlines end with the request.
	_ = nc.SetDeadline(time.Time{})
	if !e.onPoller(r, nc) {
		hw := &hijackedWriter{ResponseWriter: w, nc: nc, brw: brw}
		e.handshakeLibrary(hw, r)
		if hw.nc != nil {
			// The library refused before taking the connection (its
			// answer cannot reach a hijacked writer): close it.
			_ = nc.Close()
		}
		return
	}
	c := e.newConn(r, "websocket")
	var open [192]byte
	packet := e.appendHandshake(append(open[:0], '0'), c, false)
	out := append(make([]byte, 0, len(wsUpgradeResponse)+32+wsMaxHeader+len(packet)), wsUpgradeResponse...)
	out = append(appendAccept(out, key), "\r\n\r\n"...)
	head := len(out)
	out = appendTextFrame(out, packet)
	if _, err := nc.Write(out); err != nil {
		_ = nc.Close()
		return
	}
	if e.establish(c, nc, len(out)-head) {
		c.startNetReader(nc, nil)
	}
}

// hijackedWriter hands the library a connection already hijacked.
type hijackedWriter struct {
	http.ResponseWriter
	nc  net.Conn
	brw *bufio.ReadWriter
}

func (h *hijackedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if h.nc == nil {
		return nil, nil, errors.New("sio: connection already handed over")
	}
	nc, brw := h.nc, h.brw
	h.nc, h.brw = nil, nil
	return nc, brw, nil
}
