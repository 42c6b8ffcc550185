package scripting

import (
	"context"
	"strconv"
	"time"
)

// Namespaces of the kv host functions. A hub's scripts use only their own
// namespace: kv.get("k") in hub "chat" is the key NamespacedKey("chat", "k")
// of the store. The length prefix makes the mapping one-to-one whatever the
// hub name holds (hub "a" key "b:c" and hub "a:b" key "c" are different
// keys). kv.shared.* uses SharedNamespace, open only to the hubs the
// operator lists (Options.KVShared).
const sharedPrefix = "*:"

// NamespacedKey is the store key of key in hub's namespace:
// "<len(hub)>:<hub>:<key>".
func NamespacedKey(hub, key string) string {
	return strconv.Itoa(len(hub)) + ":" + hub + ":" + key
}

// SharedKey is the store key of key in the shared namespace: "*:<key>".
func SharedKey(key string) string { return sharedPrefix + key }

// namespaced is a KV seen through one namespace.
type namespaced struct {
	kv     KV
	prefix string
}

// Namespace returns kv restricted to hub's namespace.
func Namespace(kv KV, hub string) KV {
	return &namespaced{kv: kv, prefix: NamespacedKey(hub, "")}
}

// SharedNamespace returns kv restricted to the shared namespace.
func SharedNamespace(kv KV) KV { return &namespaced{kv: kv, prefix: sharedPrefix} }

func (n *namespaced) Get(ctx context.Context, key string) ([]byte, bool, error) {
	return n.kv.Get(ctx, n.prefix+key)
}

func (n *namespaced) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return n.kv.Set(ctx, n.prefix+key, value, ttl)
}

func (n *namespaced) Del(ctx context.Context, key string) error { return n.kv.Del(ctx, n.prefix+key) }

func (n *namespaced) Incr(ctx context.Context, key string, by int64) (int64, error) {
	return n.kv.Incr(ctx, n.prefix+key, by)
}
