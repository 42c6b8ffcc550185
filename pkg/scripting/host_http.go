package scripting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// HTTP defaults.
const (
	DefaultHTTPTimeout     = 2 * time.Second
	DefaultHTTPMaxBody     = 1 << 20
	maxHTTPRedirects       = 5
	maxHTTPRequestBodySize = 1 << 20
)

// ErrHostNotAllowed is wrapped when a script calls a host that is not in
// Options.HTTPAllow.
var ErrHostNotAllowed = errors.New("http: host not allowed")

// allowList matches request hosts against Options.HTTPAllow entries: "host"
// allows every port of that host name, "host:port" only that port, and
// "*.example.com" every subdomain of example.com.
type allowList []string

func (a allowList) allows(u *url.URL) bool {
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	for _, entry := range a {
		entry = strings.ToLower(entry)
		h, p, err := net.SplitHostPort(entry)
		if err != nil {
			h, p = entry, ""
		}
		if p != "" && p != port {
			continue
		}
		if h == host || (strings.HasPrefix(h, "*.") && strings.HasSuffix(host, h[1:])) {
			return true
		}
	}
	return false
}

// httpClient builds the client scripts use: redirects are followed only to
// allowed hosts.
func (o Options) httpClient() *http.Client {
	base := o.HTTPClient
	if base == nil {
		base = &http.Client{}
	}
	c := *base
	allow := allowList(o.HTTPAllow)
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxHTTPRedirects {
			return fmt.Errorf("stopped after %d redirects", maxHTTPRedirects)
		}
		if !allow.allows(req.URL) {
			return fmt.Errorf("redirect to %s: %w", req.URL.Host, ErrHostNotAllowed)
		}
		return nil
	}
	return &c
}

// http.get(url, opts?) and http.post(url, opts?): opts {headers, body,
// timeout (ms)}. A body that is not a string is sent as JSON. The result is
// {status, ok, headers, body}: headers with lower-case names (first value
// each), body as text. Network errors, disallowed hosts and oversized
// responses throw; HTTP error statuses do not.
func (rt *jsRuntime) httpFunc(method string) func(goja.FunctionCall) goja.Value {
	return func(call goja.FunctionCall) goja.Value {
		fn := "http." + strings.ToLower(method)
		o := &rt.e.opts
		if len(o.HTTPAllow) == 0 {
			rt.throw(fmt.Errorf("%s: no hosts are allowed (Options.HTTPAllow is empty)", fn))
		}
		u, err := url.Parse(call.Argument(0).String())
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			rt.throw(fmt.Errorf("%s: url must be an absolute http or https URL", fn))
		}
		if !allowList(o.HTTPAllow).allows(u) {
			rt.throw(fmt.Errorf("%s %s: %w", fn, u.Host, ErrHostNotAllowed))
		}
		timeout := o.HTTPTimeout
		var headers map[string]any
		var body io.Reader
		contentType := ""
		if opts, ok := call.Argument(1).(*goja.Object); ok {
			if t := opts.Get("timeout"); t != nil && !goja.IsUndefined(t) && !goja.IsNull(t) {
				ms := t.ToFloat()
				if math.IsNaN(ms) || ms <= 0 {
					rt.throw(fmt.Errorf("%s: timeout must be a positive number of milliseconds", fn))
				}
				timeout = min(timeout, time.Duration(ms*float64(time.Millisecond)))
			}
			if h := opts.Get("headers"); h != nil && !goja.IsUndefined(h) && !goja.IsNull(h) {
				v, err := rt.export(h)
				if err != nil {
					panic(err)
				}
				if headers, ok = v.(map[string]any); !ok {
					rt.throw(fmt.Errorf("%s: headers must be an object", fn))
				}
			}
			if b := opts.Get("body"); b != nil && !goja.IsUndefined(b) && !goja.IsNull(b) {
				if method == http.MethodGet {
					rt.throw(fmt.Errorf("%s: a GET request has no body", fn))
				}
				var text string
				if s, ok := b.Export().(string); ok {
					text = s
				} else {
					js, err := rt.jsonStr(goja.Undefined(), b)
					if err != nil {
						panic(err)
					}
					text, contentType = js.String(), "application/json"
				}
				if len(text) > maxHTTPRequestBodySize {
					rt.throw(fmt.Errorf("%s: body larger than %d bytes", fn, maxHTTPRequestBodySize))
				}
				body = strings.NewReader(text)
			}
		}
		ctx, cancel := context.WithTimeout(rt.callCtx(), timeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
		if err != nil {
			rt.throw(fmt.Errorf("%s: %w", fn, err))
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		for k, v := range headers {
			req.Header.Set(k, fmt.Sprint(v))
		}
		resp, err := rt.e.http.Do(req)
		if err != nil {
			rt.throw(fmt.Errorf("%s: %w", fn, err))
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		n, err := io.Copy(&buf, io.LimitReader(resp.Body, o.HTTPMaxBody+1))
		if err != nil {
			rt.throw(fmt.Errorf("%s: read body: %w", fn, err))
		}
		if n > o.HTTPMaxBody {
			rt.throw(fmt.Errorf("%s: response body larger than %d bytes", fn, o.HTTPMaxBody))
		}
		hdr := make(map[string]any, len(resp.Header))
		for k, vs := range resp.Header {
			if len(vs) > 0 {
				hdr[strings.ToLower(k)] = vs[0]
			}
		}
		out, err := rt.toJS(map[string]any{
			"status": int64(resp.StatusCode), "ok": resp.StatusCode >= 200 && resp.StatusCode < 300,
			"headers": hdr, "body": buf.String(),
		}, 0)
		if err != nil {
			rt.throw(fmt.Errorf("%s: %w", fn, err))
		}
		return out
	}
}
