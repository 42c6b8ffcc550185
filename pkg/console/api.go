package console

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/rest"
	"github.com/hubd/hubd/pkg/spec"
	"github.com/hubd/hubd/pkg/strictjson"
)

// Bounds of the development token form.
const (
	maxTokenRequest = 4 << 10
	maxTokenTTL     = 24 * time.Hour
	defaultTokenTTL = time.Hour
	maxIDLen        = 200
)

type configResponse struct {
	// PublicURL is set when configured; otherwise the page combines its
	// own host name with PublicPort.
	PublicURL  string `json:"publicURL,omitempty"`
	PublicPort string `json:"publicPort,omitempty"`
	SocketPath string `json:"socketPath"`
	DevTokens  bool   `json:"devTokens"`
}

func (c *Console) serveConfig(w http.ResponseWriter, _ *http.Request) {
	out := configResponse{
		PublicURL: strings.TrimRight(c.opts.PublicURL, "/"), SocketPath: c.opts.SocketPath,
		DevTokens: c.devTokens(),
	}
	if c.opts.PublicAddr != nil {
		if a := c.opts.PublicAddr(); a != nil {
			if _, port, err := net.SplitHostPort(a.String()); err == nil {
				out.PublicPort = port
			}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (c *Console) devTokens() bool { return c.opts.DevTokens && c.opts.DevTokenSecret != "" }

// hubSummary is one running hub: its whole spec (defaults applied) and
// where its documents are.
type hubSummary struct {
	Name        string    `json:"name"`
	Description string    `json:"description"`
	File        string    `json:"file"`
	Hash        string    `json:"hash"`
	Spec        *spec.Hub `json:"spec"`
	Namespace   string    `json:"namespace"`
	OpenAPI     string    `json:"openapi"`
	// AsyncAPI is empty when the public listener has no such document.
	AsyncAPI string `json:"asyncapi,omitempty"`
}

type reloadJSON struct {
	At      time.Time `json:"at"`
	OK      bool      `json:"ok"`
	Initial bool      `json:"initial"`
	Errors  []string  `json:"errors"`
}

type hubsResponse struct {
	Hubs   []hubSummary `json:"hubs"`
	Reload *reloadJSON  `json:"reload,omitempty"`
}

func (c *Console) serveHubs(w http.ResponseWriter, _ *http.Request) {
	var specs []*spec.Hub
	if c.opts.Hubs != nil {
		specs = c.opts.Hubs()
	}
	out := hubsResponse{Hubs: make([]hubSummary, 0, len(specs)), Reload: c.lastReload()}
	for _, h := range specs {
		out.Hubs = append(out.Hubs, hubSummary{
			Name: h.Name(), Description: h.HubBasics.Description, File: h.File, Hash: h.Hash, Spec: h,
			Namespace: "/hub/" + h.Name(), OpenAPI: "/" + h.Name() + "/openapi.json",
			AsyncAPI: asyncAPIPath(h),
		})
	}
	sort.Slice(out.Hubs, func(i, j int) bool { return out.Hubs[i].Name < out.Hubs[j].Name })
	writeJSON(w, http.StatusOK, out)
}

// asyncAPIPath returns the path of the hub's AsyncAPI document when its
// REST API serves one (read from the route table through the hub's OpenAPI
// document), else "".
func asyncAPIPath(h *spec.Hub) string {
	p := "/" + h.Name() + "/asyncapi.json"
	doc, err := rest.OpenAPI(h)
	if err != nil {
		return ""
	}
	var d struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if json.Unmarshal(doc, &d) != nil {
		return ""
	}
	if _, ok := d.Paths[p]; ok {
		return p
	}
	return ""
}

func (c *Console) lastReload() *reloadJSON {
	if c.opts.LastReload == nil {
		return nil
	}
	r := c.opts.LastReload()
	if r.At.IsZero() {
		return nil
	}
	errs := r.Errors
	if errs == nil {
		errs = []string{}
	}
	return &reloadJSON{At: r.At.UTC(), OK: len(r.Errors) == 0, Initial: r.Initial, Errors: errs}
}

func (c *Console) serveReload(w http.ResponseWriter, _ *http.Request) {
	if c.opts.Reload == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "reload is not available")
		return
	}
	c.reloadM.Lock()
	err := c.opts.Reload()
	c.reloadM.Unlock()
	status := http.StatusOK
	if err != nil {
		status = http.StatusUnprocessableEntity
	}
	c.log.Info("reload requested from the console", zap.Bool("ok", err == nil))
	res := c.lastReload()
	if res == nil { // no recorder: report this call's own result
		res = &reloadJSON{At: c.opts.Now().UTC(), OK: err == nil, Errors: SplitErrors(err)}
	}
	writeJSON(w, status, res)
}

// SplitErrors turns a joined reload error into its lines (one problem
// each, as the reload log prints them).
func SplitErrors(err error) []string {
	if err == nil {
		return []string{}
	}
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

type tokenRequest struct {
	UserID     string `json:"userId"`
	RoleID     string `json:"roleId"`
	TTLSeconds int    `json:"ttlSeconds"`
}

func (c *Console) serveToken(w http.ResponseWriter, r *http.Request) {
	if !c.devTokens() {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "development tokens are off (console.devTokens and an HS256 secret)")
		return
	}
	var req tokenRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, maxTokenRequest+1))
	if err == nil && len(body) > maxTokenRequest {
		err = fmt.Errorf("body larger than %d bytes", maxTokenRequest)
	}
	if err == nil {
		err = strictjson.Decode(body, &req)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", "body must be {userId, roleId?, ttlSeconds?}: "+err.Error())
		return
	}
	if err := req.check(); err != nil {
		writeError(w, http.StatusBadRequest, "BAD_REQUEST", err.Error())
		return
	}
	ttl := defaultTokenTTL
	if req.TTLSeconds > 0 {
		ttl = time.Duration(req.TTLSeconds) * time.Second
	}
	claims := map[string]any{"userId": req.UserID}
	if req.RoleID != "" {
		claims["roleId"] = req.RoleID
	}
	tok, err := authz.IssueHS256(c.opts.DevTokenSecret, claims, ttl)
	if err != nil {
		writeError(w, http.StatusInternalServerError, "INTERNAL", err.Error())
		return
	}
	c.log.Info("development token issued", zap.String("userId", req.UserID), zap.String("roleId", req.RoleID))
	writeJSON(w, http.StatusOK, map[string]any{"token": tok, "expiresAt": c.opts.Now().Add(ttl).UTC()})
}

func (t tokenRequest) check() error {
	switch {
	case t.UserID == "":
		return errors.New("userId is required")
	case len(t.UserID) > maxIDLen || len(t.RoleID) > maxIDLen:
		return errors.New("userId and roleId are at most 200 bytes")
	case t.TTLSeconds < 0 || time.Duration(t.TTLSeconds)*time.Second > maxTokenTTL:
		return errors.New("ttlSeconds must be between 0 (one hour) and 86400")
	}
	return nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"ok": false, "error": map[string]string{"code": code, "message": msg}})
}
