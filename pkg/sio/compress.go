package sio

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/gorilla/websocket"
)

// Compression, as the reference server offers it: polling responses of at
// least Options.HTTPCompressionThreshold bytes in gzip or deflate when the
// request accepts one (engine.io's httpCompression), and the WebSocket
// permessage-deflate extension (RFC 7692) without context takeover when
// Options.PerMessageDeflate is on and the client offers it.

// pollEncodings are the codings a polling response may use, in order of
// preference at equal quality.
var pollEncodings = []string{"gzip", "deflate"}

// acceptedEncoding returns the coding of pollEncodings the Accept-Encoding
// header values prefer ("" for none): the highest q, ties going to the
// earlier coding; "*" stands for any coding not named; q=0 refuses.
func acceptedEncoding(values []string) string {
	q := map[string]float64{}
	star := -1.0
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			name, params, _ := strings.Cut(item, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			weight := 1.0
			for _, p := range strings.Split(params, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
					if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
						weight = f
					} else {
						weight = 0
					}
				}
			}
			if name == "*" {
				star = weight
			} else if name != "" {
				q[name] = weight
			}
		}
	}
	best, bestQ := "", 0.0
	for _, enc := range pollEncodings {
		w, named := q[enc]
		if !named {
			w = star
		}
		if w > bestQ {
			best, bestQ = enc, w
		}
	}
	return best
}

// compressors pool the writers of each polling coding (level 1: a realtime
// server spends its CPU on messages, not on the last percent of ratio).
var compressors = map[string]*sync.Pool{
	"gzip": {New: func() any {
		w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level never fails
		return w
	}},
	"deflate": {New: func() any {
		w, _ := zlib.NewWriterLevel(nil, zlib.BestSpeed)
		return w
	}},
}

type resetWriter interface {
	io.WriteCloser
	Reset(io.Writer)
}

// compressBody returns body in the given coding.
func compressBody(enc string, body []byte) []byte {
	pool := compressors[enc]
	zw := pool.Get().(resetWriter)
	defer pool.Put(zw)
	var out bytes.Buffer
	out.Grow(len(body)/2 + 64)
	zw.Reset(&out)
	_, _ = zw.Write(body) // a bytes.Buffer does not fail
	_ = zw.Close()
	return out.Bytes()
}

// writePolling writes a polling response body, compressed when it is large
// enough and the request accepts gzip or deflate.
func (e *Engine) writePolling(w http.ResponseWriter, r *http.Request, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	if t := e.opts.HTTPCompressionThreshold; t >= 0 && len(body) >= t {
		h.Add("Vary", "Accept-Encoding")
		if enc := acceptedEncoding(r.Header.Values("Accept-Encoding")); enc != "" {
			body = compressBody(enc, body)
			h.Set("Content-Encoding", enc)
		}
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// rsv1 marks a compressed message (RFC 7692 section 6).
const rsv1 = 0x40

// deflateTail ends every sync-flushed deflate stream; RFC 7692 drops it
// from the message.
var deflateTail = []byte{0x00, 0x00, 0xff, 0xff}

var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// deflatedWire is f's WebSocket frame for a connection that negotiated
// permessage-deflate: data frames of at least threshold payload bytes are
// compressed once (the result is kept on the frame, which every recipient
// of a broadcast shares) unless that does not make them smaller.
func deflatedWire(f *frame, threshold int) []byte {
	if (f.op != opText && f.op != opBinary) || len(f.payload()) < threshold {
		return f.wire()
	}
	if d := f.deflated.Load(); d != nil {
		return *d
	}
	p := f.payload()
	var out bytes.Buffer
	out.Grow(wsMaxHeader + len(p)/2 + 16)
	out.Write(make([]byte, wsMaxHeader))
	fw := flateWriters.Get().(*flate.Writer)
	fw.Reset(&out)
	_, _ = fw.Write(p) // a bytes.Buffer does not fail
	_ = fw.Flush()
	flateWriters.Put(fw)
	b := bytes.TrimSuffix(out.Bytes(), deflateTail)
	wire := f.wire()
	if len(b)-wsMaxHeader < len(p) {
		c := finishOp(b, f.op, f.binary)
		c.buf[c.start] |= rsv1
		wire = c.wire()
	}
	f.deflated.CompareAndSwap(nil, &wire)
	return *f.deflated.Load()
}

// errInflatedTooLarge: a compressed message inflates past MaxPayload.
var errInflatedTooLarge = errors.New("sio: inflated message exceeds maxPayload")

// inflateLimit is the bound of readLibraryMessage: MaxPayload when
// permessage-deflate may be negotiated, else 0.
func (e *Engine) inflateLimit() int64 {
	if e.opts.PerMessageDeflate {
		return e.opts.MaxPayload
	}
	return 0
}

// readLibraryMessage reads one message through the WebSocket library, the
// only reader of connections that negotiated permessage-deflate (the
// network poller leaves them to it, see onPoller). The library's read limit
// counts the bytes on the wire, so with inflateLimit > 0 a message is read
// through a limit on its inflated size as well.
func readLibraryMessage(ws *websocket.Conn, inflateLimit int64) (int, []byte, error) {
	if inflateLimit <= 0 {
		return ws.ReadMessage()
	}
	mt, r, err := ws.NextReader()
	if err != nil {
		return mt, nil, err
	}
	limit := inflateLimit
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return mt, nil, err
	}
	if int64(len(b)) > limit {
		return mt, nil, errInflatedTooLarge
	}
	return mt, b, nil
}

// negotiatedDeflate reports whether the upgrade response the library wrote
// (held back by holdingConn) accepted permessage-deflate.
func negotiatedDeflate(response []byte) bool {
	return bytes.Contains(response, []byte("\r\nSec-WebSocket-Extensions: permessage-deflate"))
}
