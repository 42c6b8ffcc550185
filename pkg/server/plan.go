package server

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/spec"
)

// Plan is a start of the daemon decided before anything is opened or
// written: the configuration checked whole, the token verifier with its
// key files, the embedded records and the hub directory with its scripts
// and library compiled. NewPlan reads files and never writes or connects;
// `hubd check` runs exactly it, and New starts from it.
type Plan struct {
	Config   Config
	Verifier *authz.Verifier
	// Records is the records directory, read, when recordSource.kind is
	// embedded; nil otherwise.
	Records *records.Embedded
	// Specs are the hubs the daemon will serve.
	Specs []*spec.Hub
}

// NewPlan checks cfg as `hubd serve` would start it and returns every
// problem at once, each naming the key, flag or variable that fixes it.
func NewPlan(cfg Config) (*Plan, error) {
	p := &Plan{Config: cfg}
	errs := []error{withHints(cfg.Validate()), withHints(validateSession(cfg))}
	if cfg.Lib == DefaultConfig().Lib && !dirExists(cfg.Lib) {
		// The default library is optional; a library named by the
		// operator must exist.
		p.Config.Lib = ""
	}
	var err error
	if p.Verifier, err = newVerifier(cfg); err != nil {
		errs = append(errs, fmt.Errorf("auth: %w [set with --jwt-secret, auth.* keys]", err))
	}
	if cfg.RecordSource.Kind == "embedded" {
		if p.Records, err = records.NewEmbedded(cfg.Records); err != nil {
			errs = append(errs, fmt.Errorf("%w [set with %s]", err, howToSet("records")))
		}
	}
	if !dirExists(cfg.Hubs) {
		errs = append(errs, fmt.Errorf("hubs: directory %s does not exist [set with %s]", cfg.Hubs, howToSet("hubs")))
	} else if loaded, err := Load(p.Config, zap.NewNop(), HostServices{}); err != nil {
		errs = append(errs, err)
	} else {
		p.Specs = loaded.Specs
		loaded.Close()
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

func dirExists(dir string) bool {
	st, err := os.Stat(dir)
	return err == nil && st.IsDir() || err != nil && !errors.Is(err, fs.ErrNotExist)
}

// newVerifier builds the handshake token verifier (it reads key files).
func newVerifier(cfg Config) (*authz.Verifier, error) {
	secrets := cfg.Auth.JWTSecrets
	if cfg.Auth.JWTSecret != "" {
		secrets = append([]string{cfg.Auth.JWTSecret}, secrets...)
	}
	return authz.NewVerifier(authz.VerifierConfig{
		HS256Secrets: secrets, PublicKeyFiles: cfg.Auth.PublicKeyFiles, JWKSFile: cfg.Auth.JWKSFile,
		Algorithms: cfg.Auth.Algorithms, MaxTokenBytes: cfg.Auth.MaxTokenBytes, Leeway: cfg.Auth.Leeway,
		Issuer: cfg.Auth.Issuer, Audience: cfg.Auth.Audience,
	})
}

// validateSession checks the session resolver settings.
func validateSession(cfg Config) error {
	switch sc := cfg.Auth.Session; sc.Resolver {
	case "", "claims":
	case "redis":
		var errs []error
		if cfg.Redis.Addr == "" {
			errs = append(errs, errors.New("redis.addr: auth.session.resolver redis needs it"))
		}
		if sc.RedisKey == "" {
			errs = append(errs, errors.New("auth.session.redisKey: auth.session.resolver redis needs it"))
		}
		return errors.Join(errs...)
	case "introspection":
		if sc.IntrospectionURL == "" {
			return errors.New("auth.session.introspectionURL: auth.session.resolver introspection needs it")
		}
	default:
		return fmt.Errorf("auth.session.resolver: %q is not claims, redis or introspection", sc.Resolver)
	}
	return nil
}
