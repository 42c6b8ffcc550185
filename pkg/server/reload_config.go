package server

import (
	"context"
	"fmt"
	"os"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/hub"
)

// liveKeys are the daemon config keys a reload applies to the running
// daemon (a key below one of them is live too). A change of any other key
// refuses the whole reload: it needs a restart.
var liveKeys = []string{
	"hubs", "lib",
	"log.level",
	"socketio.allowedOrigins",
	"auth.jwtSecret", "auth.jwtSecrets", "auth.publicKeyFiles", "auth.jwksFile", "auth.algorithms",
	"auth.issuer", "auth.audience", "auth.leeway", "auth.maxTokenBytes",
	"scripting.runtimes", "scripting.memoryBudget", "scripting.httpAllow", "scripting.httpTimeout",
	"scripting.kvShared",
}

func isLive(key string) bool {
	for _, k := range liveKeys {
		if key == k || strings.HasPrefix(key, k+".") {
			return true
		}
	}
	return false
}

// configDiff lists the keys whose values differ between a and b.
func configDiff(a, b Config) []string {
	var out []string
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for _, f := range configFields() {
		if f.isSection() {
			continue
		}
		if !reflect.DeepEqual(va.FieldByIndex(f.index).Interface(), vb.FieldByIndex(f.index).Interface()) {
			out = append(out, f.key)
		}
	}
	sort.Strings(out)
	return out
}

// liveVerifier is the token verifier hubs and REST use; a reload swaps
// the verifier inside (new keys, secrets, issuer...).
type liveVerifier struct {
	v atomic.Pointer[authz.Verifier]
}

var _ hub.TokenVerifier = (*liveVerifier)(nil)

func newLiveVerifier(v *authz.Verifier) *liveVerifier {
	lv := &liveVerifier{}
	lv.v.Store(v)
	return lv
}

// Verify implements hub.TokenVerifier.
func (lv *liveVerifier) Verify(token string) (*authz.Session, error) {
	return lv.v.Load().Verify(token)
}

// ConfigSource re-reads the daemon configuration from the inputs the
// daemon started with (--config file, environment, flags).
type ConfigSource func() (Config, error)

// SetConfigSource makes reloads re-read the daemon configuration through
// src; without one a reload re-reads only the hub directory and records.
func (s *Server) SetConfigSource(src ConfigSource) { s.configSource = src }

// ReloadOn makes Run reload on every value from ch (SIGHUP in hubd serve),
// under its run group: no reload starts once the shutdown began.
func (s *Server) ReloadOn(ch <-chan os.Signal) { s.reloads = ch }

// reloadLoop reloads on each signal until ctx ends.
func (s *Server) reloadLoop(ctx context.Context) error {
	for {
		select {
		case <-s.reloads:
			_ = s.Reload() // logs its own outcome
		case <-ctx.Done():
			return nil
		}
	}
}

// SetLogLevel gives the reload the daemon logger's level to change.
func (s *Server) SetLogLevel(l zap.AtomicLevel) { s.logLevel = &l }

// pendingConfig is a re-read configuration that passed its plan, ready
// to apply.
type pendingConfig struct {
	cfg     Config
	plan    *Plan
	changed []string
}

// rereadConfig reads and plans the daemon configuration again. A change
// of a key that is not live refuses the reload, naming the keys.
func (s *Server) rereadConfig() (*pendingConfig, error) {
	if s.configSource == nil {
		return nil, nil
	}
	cfg, err := s.configSource()
	if err != nil {
		return nil, err
	}
	p, err := NewPlan(cfg)
	if err != nil {
		return nil, err
	}
	changed := configDiff(s.cfg, p.Config)
	var fixed []string
	for _, k := range changed {
		if !isLive(k) {
			fixed = append(fixed, k)
		}
	}
	if len(fixed) > 0 {
		return nil, fmt.Errorf("config: %s changed: it needs a restart; nothing was reloaded", strings.Join(fixed, ", "))
	}
	return &pendingConfig{cfg: p.Config, plan: p, changed: changed}, nil
}

// loadInputs are the configuration and host services a reload loads the
// hubs with: the re-read ones when there are some.
func (s *Server) loadInputs(pc *pendingConfig) (Config, HostServices) {
	cfg, hosts := s.cfg, s.shared.hosts
	if pc != nil {
		cfg = pc.cfg
		hosts.HTTPAllow, hosts.HTTPTimeout = cfg.Scripting.HTTPAllow, cfg.Scripting.HTTPTimeout
	}
	return cfg, hosts
}

// applyConfig applies a planned configuration once the hubs loaded with
// it; it cannot fail. Called with reloadMu held.
func (s *Server) applyConfig(pc *pendingConfig) {
	if pc == nil {
		return
	}
	// Token keys are re-read on every reload: a key file rotated in place
	// takes effect without a config change.
	s.verifier.v.Store(pc.plan.Verifier)
	if len(pc.changed) == 0 {
		return
	}
	s.cfg = pc.cfg
	s.origins.Set(pc.cfg.SocketIO.AllowedOrigins)
	s.shared.hosts.HTTPAllow = pc.cfg.Scripting.HTTPAllow
	s.shared.hosts.HTTPTimeout = pc.cfg.Scripting.HTTPTimeout
	if s.logLevel != nil {
		if lvl, err := zapcore.ParseLevel(pc.cfg.Log.Level); err == nil {
			s.logLevel.SetLevel(lvl)
		}
	}
	s.log.Info("config reloaded", zap.Strings("changed", pc.changed))
}
