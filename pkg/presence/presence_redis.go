package presence

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/rueidis"
	"go.uber.org/zap"
)

// RedisOptions configures a Redis registry.
type RedisOptions struct {
	// Client is the Redis connection; the registry does not close it.
	Client rueidis.Client
	// Prefix starts every key. Default "hubd:presence:".
	Prefix string
	// Node identifies this node (the Socket.IO adapter's node id).
	Node string
	// Heartbeat is how often the node tells Redis it is alive. Default 5s.
	Heartbeat time.Duration
	// Stale is how old a node's heartbeat may be before its records stop
	// counting. Default 20s; at least twice Heartbeat.
	Stale time.Duration
	// Logger defaults to a no-op logger.
	Logger *zap.Logger
}

// Defaults of RedisOptions.
const (
	DefaultRedisPrefix = "hubd:presence:"
	DefaultHeartbeat   = 5 * time.Second
	DefaultStale       = 20 * time.Second
)

// Redis is the Registry of a cluster: records live in Redis, one hash per
// room (field user NUL node, value "status sockets") and one per user
// (field room NUL node), and every node keeps its heartbeat in a sorted set.
// Each operation is one atomic script, so that two nodes admitting the last
// place of a room at once cannot both get it. Records of a node whose
// heartbeat is stale are ignored and deleted by the scripts that meet them.
// When a node finds its own heartbeat had gone stale (Redis unreachable for
// a while), it writes its records again.
type Redis struct {
	opts   RedisOptions
	log    *zap.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	mirror map[string]map[string]string // key -> field -> value: this node's records
}

var _ Registry = (*Redis)(nil)

// scanLua is shared by the scripts: alive(node) and scan(key, want, self).
// scan returns the number of distinct live ids in a hash of "id NUL node"
// fields, whether want is among them, and whether it is on a node other
// than self; it deletes the fields of dead nodes.
const scanLua = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = {}
local function alive(nodes, stale, node)
  local v = live[node]
  if v == nil then
    local s = redis.call('ZSCORE', nodes, node)
    v = (s and tonumber(s) >= now - stale) and true or false
    live[node] = v
  end
  return v
end
local function scan(key, nodes, stale, want, self)
  local ids, n, there, elsewhere = {}, 0, false, false
  for _, f in ipairs(redis.call('HKEYS', key)) do
    local sep = string.find(f, '\0', 1, true)
    if sep then
      local id, node = string.sub(f, 1, sep - 1), string.sub(f, sep + 1)
      if alive(nodes, stale, node) then
        if not ids[id] then ids[id] = true; n = n + 1 end
        if id == want then
          there = true
          if node ~= self then elsewhere = true end
        end
      else
        redis.call('HDEL', key, f)
      end
    end
  end
  return n, there, elsewhere
end
`

// joinScript: KEYS room hash, user hash, nodes; ARGV user, room, node,
// maxUsers, maxRooms, stale ms. Returns 0 admitted, 3 admitted and present
// elsewhere, 1 room full, 2 too many rooms.
var joinScript = rueidis.NewLuaScript(scanLua + `
local stale = tonumber(ARGV[6])
local rooms, inRoom, elsewhere = scan(KEYS[2], KEYS[3], stale, ARGV[2], ARGV[3])
if not inRoom then
  if tonumber(ARGV[4]) > 0 then
    local users = scan(KEYS[1], KEYS[3], stale, ARGV[1], ARGV[3])
    if users >= tonumber(ARGV[4]) then return 1 end
  end
  if tonumber(ARGV[5]) > 0 and rooms >= tonumber(ARGV[5]) then return 2 end
end
redis.call('HSET', KEYS[1], ARGV[1] .. '\0' .. ARGV[3], 'online 1')
redis.call('HSET', KEYS[2], ARGV[2] .. '\0' .. ARGV[3], '1')
if elsewhere then return 3 end
return 0
`)

// setScript: KEYS room hash; ARGV field, value. Only an existing record is
// updated.
var setScript = rueidis.NewLuaScript(`
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
return 0
`)

// leaveScript: KEYS room hash, user hash, nodes; ARGV user, room, node,
// stale ms. Returns 1 when the user is still in the room elsewhere.
var leaveScript = rueidis.NewLuaScript(scanLua + `
redis.call('HDEL', KEYS[1], ARGV[1] .. '\0' .. ARGV[3])
redis.call('HDEL', KEYS[2], ARGV[2] .. '\0' .. ARGV[3])
local _, _, elsewhere = scan(KEYS[2], KEYS[3], tonumber(ARGV[4]), ARGV[2], ARGV[3])
if elsewhere then return 1 end
return 0
`)

// roomScript: KEYS room hash, nodes; ARGV stale ms. Returns the live
// fields and values, flattened.
var roomScript = rueidis.NewLuaScript(scanLua + `
local stale = tonumber(ARGV[1])
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local f = all[i]
  local sep = string.find(f, '\0', 1, true)
  if sep and alive(KEYS[2], stale, string.sub(f, sep + 1)) then
    out[#out + 1] = f
    out[#out + 1] = all[i + 1]
  end
end
return out
`)

// heartbeatScript: KEYS nodes; ARGV node, stale ms. Records the node's
// heartbeat; returns 1 when the previous one was still fresh. Nodes silent
// for ten staleness periods are forgotten.
var heartbeatScript = rueidis.NewLuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local stale = tonumber(ARGV[2])
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
local fresh = s and tonumber(s) >= now - stale
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 10 * stale)
if fresh then return 1 end
return 0
`)

// NewRedis registers the node (one heartbeat, so that its records count at
// once) and starts its heartbeat; Close stops it.
func NewRedis(ctx context.Context, opts RedisOptions) (*Redis, error) {
	if opts.Client == nil {
		return nil, errors.New("presence: redis: no client")
	}
	if opts.Node == "" {
		return nil, errors.New("presence: redis: no node id")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultRedisPrefix
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.Stale <= 0 {
		opts.Stale = DefaultStale
	}
	if opts.Stale < 2*opts.Heartbeat {
		opts.Stale = 2 * opts.Heartbeat
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	r := &Redis{opts: opts, log: opts.Logger.Named("presence"), mirror: map[string]map[string]string{}, done: make(chan struct{})}
	if _, err := r.beat(ctx); err != nil {
		return nil, err
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.heartbeatLoop(loopCtx)
	return r, nil
}

// Close stops the heartbeat and removes the node, so that its records stop
// counting at once.
func (r *Redis) Close() error {
	r.cancel()
	<-r.done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	c := r.opts.Client
	if err := c.Do(ctx, c.B().Zrem().Key(r.nodesKey()).Member(r.opts.Node).Build()).Error(); err != nil {
		return fmt.Errorf("presence: redis: %w", err)
	}
	return nil
}

func (r *Redis) nodesKey() string { return r.opts.Prefix + "nodes" }
func (r *Redis) roomKey(hub, room string) string {
	return r.opts.Prefix + "room:" + hub + ":" + room
}
func (r *Redis) userKey(hub, user string) string {
	return r.opts.Prefix + "user:" + hub + ":" + user
}
func (r *Redis) staleMs() string { return strconv.FormatInt(r.opts.Stale.Milliseconds(), 10) }

func field(id, node string) string { return id + "\x00" + node }

func redisErr(err error) error { return fmt.Errorf("presence: redis: %w", err) }

func (r *Redis) heartbeatLoop(ctx context.Context) {
	defer close(r.done)
	t := time.NewTicker(r.opts.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		bctx, cancel := context.WithTimeout(ctx, r.opts.Heartbeat)
		fresh, err := r.beat(bctx)
		if err == nil && !fresh {
			err = r.rewrite(bctx)
		}
		cancel()
		if err != nil && ctx.Err() == nil {
			r.log.Warn("presence heartbeat failed", zap.Error(err))
		}
	}
}

// beat records the heartbeat and reports whether the previous one was
// still fresh.
func (r *Redis) beat(ctx context.Context) (bool, error) {
	n, err := heartbeatScript.Exec(ctx, r.opts.Client, []string{r.nodesKey()}, []string{r.opts.Node, r.staleMs()}).AsInt64()
	if err != nil {
		return false, redisErr(err)
	}
	return n == 1, nil
}

// rewrite writes this node's records again: other nodes may have deleted
// them while its heartbeat was stale.
func (r *Redis) rewrite(ctx context.Context) error {
	c := r.opts.Client
	r.mu.Lock()
	cmds := make(rueidis.Commands, 0, len(r.mirror))
	for key, fields := range r.mirror {
		for f, v := range fields {
			cmds = append(cmds, c.B().Hset().Key(key).FieldValue().FieldValue(f, v).Build())
		}
	}
	r.mu.Unlock()
	if len(cmds) == 0 {
		return nil
	}
	for _, res := range c.DoMulti(ctx, cmds...) {
		if err := res.Error(); err != nil {
			return redisErr(err)
		}
	}
	r.log.Info("presence records written again after a stale heartbeat", zap.Int("records", len(cmds)))
	return nil
}

func (r *Redis) remember(key, f, v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v == "" {
		delete(r.mirror[key], f)
		if len(r.mirror[key]) == 0 {
			delete(r.mirror, key)
		}
		return
	}
	if r.mirror[key] == nil {
		r.mirror[key] = map[string]string{}
	}
	r.mirror[key][f] = v
}

func encodeRecord(status string, sockets int) string { return status + " " + strconv.Itoa(sockets) }

func decodeRecord(v string) (string, int) {
	status, n, _ := strings.Cut(v, " ")
	sockets, err := strconv.Atoi(n)
	if err != nil || sockets < 0 {
		sockets = 0
	}
	return status, sockets
}

// Join implements Registry.
func (r *Redis) Join(ctx context.Context, hub, room, user string, lim Limits) (bool, error) {
	rk, uk := r.roomKey(hub, room), r.userKey(hub, user)
	code, err := joinScript.Exec(ctx, r.opts.Client, []string{rk, uk, r.nodesKey()}, []string{
		user, room, r.opts.Node, strconv.Itoa(lim.MaxUsers), strconv.Itoa(lim.MaxRooms), r.staleMs(),
	}).AsInt64()
	if err != nil {
		return false, redisErr(err)
	}
	switch code {
	case 1:
		return false, ErrRoomFull
	case 2:
		return false, ErrTooManyRooms
	}
	r.remember(rk, field(user, r.opts.Node), encodeRecord(StatusOnline, 1))
	r.remember(uk, field(room, r.opts.Node), "1")
	return code == 3, nil
}

// Set implements Registry.
func (r *Redis) Set(ctx context.Context, hub, room string, e Entry) error {
	rk, f, v := r.roomKey(hub, room), field(e.UserID, r.opts.Node), encodeRecord(e.Status, e.Sockets)
	if err := setScript.Exec(ctx, r.opts.Client, []string{rk}, []string{f, v}).Error(); err != nil {
		return redisErr(err)
	}
	r.mu.Lock()
	if _, ok := r.mirror[rk][f]; ok {
		r.mirror[rk][f] = v
	}
	r.mu.Unlock()
	return nil
}

// Leave implements Registry.
func (r *Redis) Leave(ctx context.Context, hub, room, user string) (bool, error) {
	rk, uk := r.roomKey(hub, room), r.userKey(hub, user)
	// Forgotten first: a failed call must not be written back later.
	r.remember(rk, field(user, r.opts.Node), "")
	r.remember(uk, field(room, r.opts.Node), "")
	n, err := leaveScript.Exec(ctx, r.opts.Client, []string{rk, uk, r.nodesKey()}, []string{user, room, r.opts.Node, r.staleMs()}).AsInt64()
	if err != nil {
		return false, redisErr(err)
	}
	return n == 1, nil
}

// Room implements Registry.
func (r *Redis) Room(ctx context.Context, hub, room string) ([]Entry, error) {
	flat, err := roomScript.Exec(ctx, r.opts.Client, []string{r.roomKey(hub, room), r.nodesKey()}, []string{r.staleMs()}).AsStrSlice()
	if err != nil {
		return nil, redisErr(err)
	}
	byUser := map[string]*Entry{}
	for i := 0; i+1 < len(flat); i += 2 {
		uid, _, _ := strings.Cut(flat[i], "\x00")
		e := byUser[uid]
		if e == nil {
			e = &Entry{UserID: uid}
			byUser[uid] = e
		}
		status, sockets := decodeRecord(flat[i+1])
		merge(e, status, sockets)
	}
	out := make([]Entry, 0, len(byUser))
	for _, e := range byUser {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].UserID < out[j].UserID })
	return out, nil
}
