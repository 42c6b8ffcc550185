package resume

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/redis/rueidis"
)

// Redis keeps records as Redis strings with an expiry, shared by every
// node of the cluster.
type Redis struct {
	c      rueidis.Client
	prefix string
}

var _ Store = (*Redis)(nil)

// NewRedis keeps records under keys starting with prefix; it does not
// close c.
func NewRedis(c rueidis.Client, prefix string) *Redis { return &Redis{c: c, prefix: prefix} }

func (r *Redis) key(hub, pid string) string { return r.prefix + key(hub, pid) }

// Put implements Store.
func (r *Redis) Put(ctx context.Context, rec *Record, ttl time.Duration) error {
	v, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("put session record: %w", err)
	}
	cmd := r.c.B().Set().Key(r.key(rec.Hub, rec.PID)).Value(string(v)).Px(ttl).Build()
	if err := r.c.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("put session record: %w", err)
	}
	return nil
}

// Get implements Store.
func (r *Redis) Get(ctx context.Context, hub, pid string) (*Record, error) {
	v, err := r.c.Do(ctx, r.c.B().Get().Key(r.key(hub, pid)).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get session record: %w", err)
	}
	var rec Record
	if err := json.Unmarshal([]byte(v), &rec); err != nil {
		return nil, fmt.Errorf("get session record: %w", err)
	}
	return &rec, nil
}

// Delete implements Store.
func (r *Redis) Delete(ctx context.Context, hub, pid string) error {
	if err := r.c.Do(ctx, r.c.B().Del().Key(r.key(hub, pid)).Build()).Error(); err != nil {
		return fmt.Errorf("delete session record: %w", err)
	}
	return nil
}

// Beat implements Store.
func (r *Redis) Beat(ctx context.Context, node string, ttl time.Duration) error {
	cmd := r.c.B().Set().Key(r.prefix + "node:" + node).Value("1").Px(ttl).Build()
	if err := r.c.Do(ctx, cmd).Error(); err != nil {
		return fmt.Errorf("node liveness stamp: %w", err)
	}
	return nil
}

// Alive implements Store.
func (r *Redis) Alive(ctx context.Context, node string) (bool, error) {
	n, err := r.c.Do(ctx, r.c.B().Exists().Key(r.prefix+"node:"+node).Build()).AsInt64()
	if err != nil {
		return false, fmt.Errorf("node liveness stamp: %w", err)
	}
	return n == 1, nil
}

// Close implements Store; the client belongs to the caller.
func (r *Redis) Close() error { return nil }
