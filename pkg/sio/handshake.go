package sio

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// handshake is what a connection keeps of its handshake request for
// Request: its URL (path and query), host, remote address and the headers
// Options.RequestHeaders names. The request itself (about 1 KB with its
// parsed URL, request line and header map) is not kept.
type handshake struct {
	method, host, remoteAddr string
	path, rawQuery           string
	header                   []headerField // RequestHeaders set: only those
	all                      http.Header   // RequestHeaders nil: every header
}

type headerField struct {
	key    string
	values []string
}

// newHandshake keeps what Request needs of r, served under path. The
// method, path and query are substrings of the request line as net/http
// reads it, and a header's values share one array with every other
// header's: kept as they are, they would keep the whole request line and
// every header value. The usual ones are replaced by constants, the others
// copied, and kept header values get their own slice.
func newHandshake(r *http.Request, keep []string, path string) *handshake {
	h := &handshake{
		method: keepString(r.Method, http.MethodGet, http.MethodPost),
		host:   r.Host, remoteAddr: r.RemoteAddr,
		path:     keepString(r.URL.Path, path, strings.TrimSuffix(path, "/")),
		rawQuery: keepString(r.URL.RawQuery, "EIO=4&transport=websocket", "EIO=4&transport=polling"),
	}
	if keep == nil {
		h.all = r.Header
		return h
	}
	for _, k := range keep {
		if v := r.Header.Values(k); len(v) > 0 {
			h.header = append(h.header, headerField{http.CanonicalHeaderKey(k), slices.Clone(v)})
		}
	}
	return h
}

// keepString returns the one of common equal to s, else a copy of s.
func keepString(s string, common ...string) string {
	for _, c := range common {
		if s == c {
			return c
		}
	}
	return strings.Clone(s)
}

// request rebuilds a request from what was kept (body empty, context
// background).
func (h *handshake) request() *http.Request {
	hdr := h.all
	if hdr == nil {
		hdr = make(http.Header, len(h.header))
		for _, f := range h.header {
			hdr[f.key] = f.values
		}
	}
	r := &http.Request{
		Method: h.method, Host: h.host, RemoteAddr: h.remoteAddr,
		URL:   &url.URL{Path: h.path, RawQuery: h.rawQuery},
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: hdr, Body: http.NoBody,
	}
	return r.WithContext(context.Background())
}

// engineQuery is what the Engine.IO server reads of a request's query.
type engineQuery struct {
	transport, eio, sid string
}

// queryScanMax bounds the parameters parseEngineQuery reads itself; a
// longer query goes through url.ParseQuery (which also applies the
// runtime's limit on the number of parameters).
const queryScanMax = 32

// parseEngineQuery returns the first value of transport, EIO and sid as
// url.ParseQuery(raw) and Values.Get give them. A query with escapes or
// many parameters is parsed by net/url; a plain one is scanned without
// building the map (where unescaping is the identity and cannot fail).
func parseEngineQuery(raw string) engineQuery {
	if strings.ContainsAny(raw, "%+") || strings.Count(raw, "&") >= queryScanMax {
		v, _ := url.ParseQuery(raw)
		return engineQuery{transport: v.Get("transport"), eio: v.Get("EIO"), sid: v.Get("sid")}
	}
	var q engineQuery
	var seen [3]bool
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" || strings.Contains(pair, ";") {
			continue // url.ParseQuery skips these too
		}
		k, v, _ := strings.Cut(pair, "=")
		switch {
		case k == "transport" && !seen[0]:
			q.transport, seen[0] = v, true
		case k == "EIO" && !seen[1]:
			q.eio, seen[1] = v, true
		case k == "sid" && !seen[2]:
			q.sid, seen[2] = v, true
		}
	}
	return q
}
