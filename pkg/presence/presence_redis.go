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

// Redis is the Registry of a cluster. Its keys, under Prefix:
//
//   - room:<hub>:<room>  hash, field user NUL node, value "status sockets":
//     each node's record of a member;
//   - count:<hub>:<room> hash, field user, value the number of nodes with a
//     record of the user, so that HLEN is the number of distinct members;
//   - user:<hub>:<user>  hash, field room NUL node: the user's records;
//   - node:<node>        set of "hub NUL room NUL user": the node's records;
//   - nodes              sorted set of node heartbeats (Redis time, ms).
//
// Each operation is one atomic script, so two nodes admitting the last
// place of a room at once cannot both get it, and none reads more than the
// user's own records: a join is as cheap in a room of 10,000 as in a room
// of 10. Every script first reaps the nodes whose heartbeat is stale: their
// records are removed (through node:<node>) and they stop counting. A node
// that finds its own heartbeat had gone stale (Redis unreachable for a
// while) writes its records again.
type Redis struct {
	opts   RedisOptions
	log    *zap.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	mirror map[recordKey]string // this node's records -> "status sockets"
}

// recordKey names one record of this node.
type recordKey struct{ hub, room, user string }

var _ Registry = (*Redis)(nil)

// commonLua is shared by the scripts. ARGV[1] is the key prefix, ARGV[2]
// the staleness limit in ms, ARGV[3] this node. reap() removes the records
// of stale nodes; add() and del() write and remove one record of this node
// with its count, user and node entries.
const commonLua = `
local P, stale, me = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local function roomKey(hub, room) return P .. 'room:' .. hub .. ':' .. room end
local function countKey(hub, room) return P .. 'count:' .. hub .. ':' .. room end
local function userKey(hub, user) return P .. 'user:' .. hub .. ':' .. user end
local function nodeKey(node) return P .. 'node:' .. node end
local function del(hub, room, user, node)
  if redis.call('HDEL', roomKey(hub, room), user .. '\0' .. node) == 1 then
    if redis.call('HINCRBY', countKey(hub, room), user, -1) <= 0 then
      redis.call('HDEL', countKey(hub, room), user)
    end
  end
  redis.call('HDEL', userKey(hub, user), room .. '\0' .. node)
  redis.call('SREM', nodeKey(node), hub .. '\0' .. room .. '\0' .. user)
end
local function add(hub, room, user, value)
  local f = user .. '\0' .. me
  if redis.call('HSET', roomKey(hub, room), f, value) == 1 then
    redis.call('HINCRBY', countKey(hub, room), user, 1)
  end
  redis.call('HSET', userKey(hub, user), room .. '\0' .. me, '1')
  redis.call('SADD', nodeKey(me), hub .. '\0' .. room .. '\0' .. user)
end
-- drop removes every record of node, and node itself.
local function drop(node)
  for _, rec in ipairs(redis.call('SMEMBERS', nodeKey(node))) do
    local a = string.find(rec, '\0', 1, true)
    local b = string.find(rec, '\0', a + 1, true)
    del(string.sub(rec, 1, a - 1), string.sub(rec, a + 1, b - 1), string.sub(rec, b + 1), node)
  end
  redis.call('DEL', nodeKey(node))
  redis.call('ZREM', P .. 'nodes', node)
end
local function reap()
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  for _, node in ipairs(redis.call('ZRANGEBYSCORE', P .. 'nodes', '-inf', '(' .. (now - stale))) do
    drop(node)
  end
end
-- rooms returns the distinct rooms of a user's hash and whether room is one.
local function rooms(hub, user, room)
  local seen, n, there = {}, 0, false
  for _, f in ipairs(redis.call('HKEYS', userKey(hub, user))) do
    local r = string.sub(f, 1, string.find(f, '\0', 1, true) - 1)
    if not seen[r] then seen[r] = true; n = n + 1 end
    if r == room then there = true end
  end
  return n, there
end
`

// joinScript: ARGV common, hub, room, user, maxUsers, maxRooms. Returns 0
// admitted, 3 admitted and present through another node, 1 room full, 2
// too many rooms.
var joinScript = rueidis.NewLuaScript(commonLua + `
local hub, room, user = ARGV[4], ARGV[5], ARGV[6]
local maxUsers, maxRooms = tonumber(ARGV[7]), tonumber(ARGV[8])
reap()
local mine = redis.call('HEXISTS', roomKey(hub, room), user .. '\0' .. me) == 1
local count = tonumber(redis.call('HGET', countKey(hub, room), user) or '0')
if count == 0 then
  if maxUsers > 0 and redis.call('HLEN', countKey(hub, room)) >= maxUsers then return 1 end
  if maxRooms > 0 and rooms(hub, user, room) >= maxRooms then return 2 end
end
add(hub, room, user, 'online 1')
if count - (mine and 1 or 0) > 0 then return 3 end
return 0
`)

// restoreScript: ARGV common, then hub, room, user, value for each record
// to write again (only where missing).
var restoreScript = rueidis.NewLuaScript(commonLua + `
reap()
for i = 4, #ARGV, 4 do
  if redis.call('HEXISTS', roomKey(ARGV[i], ARGV[i + 1]), ARGV[i + 2] .. '\0' .. me) == 0 then
    add(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
  end
end
return 0
`)

// resyncScript: ARGV common, then hub, room, user, value for each record
// of this node. Every other record of the node is removed; the heartbeat
// is renewed.
var resyncScript = rueidis.NewLuaScript(commonLua + `
drop(me)
local t = redis.call('TIME')
redis.call('ZADD', P .. 'nodes', tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000), me)
for i = 4, #ARGV, 4 do
  add(ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3])
end
return 0
`)

// setScript: ARGV common, hub, room, user, value. Only an existing record
// is updated.
var setScript = rueidis.NewLuaScript(commonLua + `
local k, f = roomKey(ARGV[4], ARGV[5]), ARGV[6] .. '\0' .. me
if redis.call('HEXISTS', k, f) == 1 then redis.call('HSET', k, f, ARGV[7]) end
return 0
`)

// leaveScript: ARGV common, hub, room, user. Returns 1 when the user is
// still in the room through another node.
var leaveScript = rueidis.NewLuaScript(commonLua + `
local hub, room, user = ARGV[4], ARGV[5], ARGV[6]
reap()
del(hub, room, user, me)
if redis.call('HEXISTS', countKey(hub, room), user) == 1 then return 1 end
return 0
`)

// roomScript: ARGV common, hub, room. Returns the room's fields and
// values, flattened.
var roomScript = rueidis.NewLuaScript(commonLua + `
reap()
return redis.call('HGETALL', roomKey(ARGV[4], ARGV[5]))
`)

// dropScript: ARGV common. Removes every record of this node and the node
// itself (it shuts down).
var dropScript = rueidis.NewLuaScript(commonLua + `
drop(me)
return 0
`)

// statusScript: ARGV common, hub, room, user. Returns the user's records
// in the room, one status per node, found through the user's own hash.
var statusScript = rueidis.NewLuaScript(commonLua + `
local hub, room, user = ARGV[4], ARGV[5], ARGV[6]
reap()
local out = {}
for _, f in ipairs(redis.call('HKEYS', userKey(hub, user))) do
  local sep = string.find(f, '\0', 1, true)
  if string.sub(f, 1, sep - 1) == room then
    local v = redis.call('HGET', roomKey(hub, room), user .. '\0' .. string.sub(f, sep + 1))
    if v then out[#out + 1] = v end
  end
end
return out
`)

// heartbeatScript: KEYS nodes; ARGV node, stale ms. Records the node's
// heartbeat; returns 1 when the previous one was still fresh.
var heartbeatScript = rueidis.NewLuaScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
local fresh = s and tonumber(s) >= now - tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
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
	r := &Redis{opts: opts, log: opts.Logger.Named("presence"), mirror: map[recordKey]string{}, done: make(chan struct{})}
	if _, err := r.beat(ctx); err != nil {
		return nil, err
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go r.heartbeatLoop(loopCtx)
	return r, nil
}

// Close stops the heartbeat and removes the node with its records, so that
// they stop counting at once.
func (r *Redis) Close() error {
	r.cancel()
	<-r.done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := dropScript.Exec(ctx, r.opts.Client, nil, r.args()).Error(); err != nil {
		return redisErr(err)
	}
	return nil
}

func (r *Redis) nodesKey() string { return r.opts.Prefix + "nodes" }

// args starts the ARGV of a script: prefix, staleness, node.
func (r *Redis) args(more ...string) []string {
	return append([]string{r.opts.Prefix, strconv.FormatInt(r.opts.Stale.Milliseconds(), 10), r.opts.Node}, more...)
}

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
	n, err := heartbeatScript.Exec(ctx, r.opts.Client, []string{r.nodesKey()}, []string{r.opts.Node, strconv.FormatInt(r.opts.Stale.Milliseconds(), 10)}).AsInt64()
	if err != nil {
		return false, redisErr(err)
	}
	return n == 1, nil
}

// rewrite writes this node's records again: other nodes may have reaped
// them while its heartbeat was stale.
func (r *Redis) rewrite(ctx context.Context) error {
	args, n := r.mirrorArgs()
	if n == 0 {
		return nil
	}
	if err := restoreScript.Exec(ctx, r.opts.Client, nil, args).Error(); err != nil {
		return redisErr(err)
	}
	r.log.Info("presence records written again after a stale heartbeat", zap.Int("records", n))
	return nil
}

// mirrorArgs returns the script arguments with every record of this node
// (hub, room, user, value each), and how many records.
func (r *Redis) mirrorArgs() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	args := r.args()
	for k, v := range r.mirror {
		args = append(args, k.hub, k.room, k.user, v)
	}
	return args, len(r.mirror)
}

// Resync replaces this node's records in Redis with the node's own view
// (joins, changes and leaves it made while Redis did not answer), in one
// script, and renews its heartbeat.
func (r *Redis) Resync(ctx context.Context) error {
	args, n := r.mirrorArgs()
	if err := resyncScript.Exec(ctx, r.opts.Client, nil, args).Error(); err != nil {
		return redisErr(err)
	}
	r.log.Info("presence records written again after redis came back", zap.Int("records", n))
	return nil
}

func (r *Redis) remember(k recordKey, v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if v == "" {
		delete(r.mirror, k)
		return
	}
	r.mirror[k] = v
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
	code, err := joinScript.Exec(ctx, r.opts.Client, nil, r.args(hub, room, user,
		strconv.Itoa(lim.MaxUsers), strconv.Itoa(lim.MaxRooms))).AsInt64()
	if err != nil {
		// The node admits the member on its own view: Resync writes the
		// record once Redis is back.
		r.remember(recordKey{hub, room, user}, encodeRecord(StatusOnline, 1))
		return false, redisErr(err)
	}
	switch code {
	case 1:
		return false, ErrRoomFull
	case 2:
		return false, ErrTooManyRooms
	}
	r.remember(recordKey{hub, room, user}, encodeRecord(StatusOnline, 1))
	return code == 3, nil
}

// Set implements Registry.
func (r *Redis) Set(ctx context.Context, hub, room string, e Entry) error {
	v := encodeRecord(e.Status, e.Sockets)
	k := recordKey{hub, room, e.UserID}
	r.mu.Lock()
	if _, ok := r.mirror[k]; ok {
		r.mirror[k] = v
	}
	r.mu.Unlock()
	if err := setScript.Exec(ctx, r.opts.Client, nil, r.args(hub, room, e.UserID, v)).Error(); err != nil {
		return redisErr(err)
	}
	return nil
}

// Leave implements Registry.
func (r *Redis) Leave(ctx context.Context, hub, room, user string) (bool, error) {
	// Forgotten first: a failed call must not be written back later.
	r.remember(recordKey{hub, room, user}, "")
	n, err := leaveScript.Exec(ctx, r.opts.Client, nil, r.args(hub, room, user)).AsInt64()
	if err != nil {
		return false, redisErr(err)
	}
	return n == 1, nil
}

// Room implements Registry.
func (r *Redis) Room(ctx context.Context, hub, room string) ([]Entry, error) {
	flat, err := roomScript.Exec(ctx, r.opts.Client, nil, r.args(hub, room)).AsStrSlice()
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

// Status implements Registry.
func (r *Redis) Status(ctx context.Context, hub, room, user string) (string, error) {
	vals, err := statusScript.Exec(ctx, r.opts.Client, nil, r.args(hub, room, user)).AsStrSlice()
	if err != nil {
		return "", redisErr(err)
	}
	e := Entry{UserID: user}
	for _, v := range vals {
		status, sockets := decodeRecord(v)
		merge(&e, status, sockets)
	}
	return e.Status, nil
}
