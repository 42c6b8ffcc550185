package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/rueidis"
	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/ratelimit"
	"github.com/hubd/hubd/pkg/redisguard"
	"github.com/hubd/hubd/pkg/scripting"
)

// sharedServices are the services every hub uses and that outlive
// reloads: the Redis client, the auth cache, the session resolver, the
// rate limiter and the host services of scripts.
type sharedServices struct {
	redis    rueidis.Client // nil without redis.addr; a *redisguard.Guard
	guard    *redisguard.Guard
	cache    authz.Cache
	sessions hub.SessionResolver
	limiter  ratelimit.Limiter
	hosts    HostServices
	closers  []func()
}

// HostServices are the backends MScript host functions use (kv, sql,
// http); they survive reloads.
type HostServices struct {
	KV scripting.KV
	// SQLRoles gives each hub its own database role for sql.query (set
	// up after each load, see grantScriptSQL); nil without scripting.sql.
	SQLRoles    *scripting.SQLRoles
	SQL         scripting.SQLDB
	HTTPAllow   []string
	HTTPTimeout time.Duration
}

func (s *sharedServices) close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		s.closers[i]()
	}
}

// openShared connects to Redis when configured and builds the shared
// services, with embedded defaults for what is not configured.
func openShared(ctx context.Context, cfg Config, log *zap.Logger, onDegraded func(bool)) (*sharedServices, error) {
	sh := &sharedServices{}
	fail := func(err error) (*sharedServices, error) {
		sh.close()
		return nil, err
	}
	if cfg.Redis.Addr != "" {
		c, err := rueidis.NewClient(rueidis.ClientOption{
			InitAddress: []string{cfg.Redis.Addr}, Username: cfg.Redis.Username, Password: cfg.Redis.Password,
			SelectDB: cfg.Redis.DB, DisableCache: true,
		})
		if err != nil {
			return fail(fmt.Errorf("redis %s: %w", cfg.Redis.Addr, err))
		}
		g := redisguard.New(redisguard.Options{Client: c, Timeout: cfg.Redis.Timeout, Logger: log, OnChange: onDegraded})
		sh.redis, sh.guard = g, g
		sh.closers = append(sh.closers, g.Close)
		log.Named("redis").Info("redis connected", zap.String("addr", cfg.Redis.Addr))
	}

	if sh.redis != nil {
		sh.cache = authz.NewRedisCache(sh.redis, cfg.Redis.Prefix)
		sh.limiter = ratelimit.NewRedis(sh.redis, cfg.Redis.Prefix)
		sh.hosts.KV = scripting.NewRedisKV(sh.redis, cfg.Redis.Prefix+"kv:")
	} else {
		sh.cache = authz.NewMemoryCache(cfg.Auth.CacheMaxEntries)
		sh.limiter = ratelimit.NewLocal()
		// Script kv survives restarts on the embedded default too.
		if err := os.MkdirAll(cfg.Data, 0o750); err != nil {
			return fail(fmt.Errorf("data dir: %w", err))
		}
		kv, err := scripting.NewBoltKV(filepath.Join(cfg.Data, "kv.db"))
		if err != nil {
			return fail(fmt.Errorf("script kv: %w", err))
		}
		sh.hosts.KV = kv
		sh.closers = append(sh.closers, func() {
			if err := kv.Close(); err != nil {
				log.Named("scripting").Warn("close script kv", zap.Error(err))
			}
		})
	}

	// The plan validated the resolver settings (validateSession).
	switch sc := cfg.Auth.Session; sc.Resolver {
	case "redis":
		r, err := authz.NewRedisSessionResolver(sh.redis, sc.RedisKey, sc.TTL)
		if err != nil {
			return fail(fmt.Errorf("auth.session: %w", err))
		}
		sh.sessions = r
	case "introspection":
		sh.sessions = &authz.IntrospectionResolver{URL: sc.IntrospectionURL, Method: sc.IntrospectionMethod, TTL: sc.TTL}
	}

	sh.hosts.HTTPAllow = cfg.Scripting.HTTPAllow
	sh.hosts.HTTPTimeout = cfg.Scripting.HTTPTimeout
	if cfg.Scripting.SQL && cfg.Postgres.DSN != "" {
		pcfg, err := pgxpool.ParseConfig(cfg.Postgres.DSN)
		if err != nil {
			return fail(fmt.Errorf("scripting.sql: postgres.dsn: %w", err))
		}
		pcfg.MaxConns = 4
		pool, err := pgxpool.NewWithConfig(ctx, pcfg)
		if err != nil {
			return fail(fmt.Errorf("scripting.sql: %w", err))
		}
		roles, err := scripting.NewSQLRoles(pool, pcfg, scripting.DefaultSQLRoleConns)
		if err != nil {
			pool.Close()
			return fail(fmt.Errorf("scripting.sql: %w", err))
		}
		sh.hosts.SQLRoles = roles
		sh.hosts.SQL = scripting.UnavailableSQL{Err: errors.New("the hub's database role is not set up yet")}
		sh.closers = append(sh.closers, pool.Close, roles.Close)
	}
	return sh, nil
}
