package bridge

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/rueidis"
)

// RedisDedup is a Dedup shared by every node on one Redis: a key per
// applied event that expires after the window. It survives restarts and
// rebalances (the node that gets a partition sees what the previous one
// applied).
type RedisDedup struct {
	client rueidis.Client
	prefix string
	window time.Duration
}

var _ Dedup = (*RedisDedup)(nil)

// NewRedisDedup returns a RedisDedup storing keys under prefix.
func NewRedisDedup(client rueidis.Client, prefix string, window time.Duration) *RedisDedup {
	if window <= 0 {
		window = DefaultDedupWindow
	}
	return &RedisDedup{client: client, prefix: prefix, window: window}
}

// Seen implements Dedup.
func (d *RedisDedup) Seen(ctx context.Context, key string) (bool, error) {
	n, err := d.client.Do(ctx, d.client.B().Exists().Key(d.prefix+key).Build()).AsInt64()
	if err != nil {
		return false, fmt.Errorf("bridge dedup: %w", err)
	}
	return n > 0, nil
}

// Mark implements Dedup: one pipelined SET with expiry per key.
func (d *RedisDedup) Mark(ctx context.Context, keys []string) error {
	cmds := make(rueidis.Commands, 0, len(keys))
	for _, key := range keys {
		cmds = append(cmds, d.client.B().Set().Key(d.prefix+key).Value("1").Px(d.window).Build())
	}
	for _, r := range d.client.DoMulti(ctx, cmds...) {
		if err := r.Error(); err != nil {
			return fmt.Errorf("bridge dedup: %w", err)
		}
	}
	return nil
}
