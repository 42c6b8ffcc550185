// Package sio is hubd's server side of the Socket.IO v4 protocol: Engine.IO 4
// transports (WebSocket, HTTP long-polling, polling to WebSocket upgrade) and
// Socket.IO 5 packets (namespaces, events, acks, binary attachments, rooms).
//
// Broadcasts are encoded once: the WebSocket frame of a packet is built a
// single time and the same bytes are queued to every recipient. Each
// connection has a bounded write queue; a connection whose queue is full is
// closed with reason "slow consumer" instead of blocking the broadcaster.
package sio

import (
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/origins"
)

// Options configures a Server. The zero value is usable; defaults are applied
// by withDefaults.
type Options struct {
	Path           string        // default "/socket.io/"
	PingInterval   time.Duration // default 25s
	PingTimeout    time.Duration // default 20s
	MaxPayload     int64         // default 1_000_000 bytes
	AllowedOrigins []string      // empty: any origin, without credentials
	// Origins, when set, is the origin policy to apply (shared with other
	// paths of the listener, replaced on reload); AllowedOrigins is then
	// ignored.
	Origins        *origins.Policy
	WriteQueueSize int           // per connection, packets; default 1024; full => disconnect "slow consumer"
	AckTimeout     time.Duration // default for EmitWithAck without ctx deadline; default 10s
	Logger         *zap.Logger

	// ConnectTimeout closes an Engine.IO connection that has not joined any
	// namespace in time. Default 45s.
	ConnectTimeout time.Duration
	// WriteTimeout bounds one WebSocket write (a batch of frames). Default 10s.
	WriteTimeout time.Duration
	// MaxDepth is the JSON nesting limit for incoming packets. Default 32.
	MaxDepth int
	// MaxAttachments is the largest attachment count accepted in a binary
	// packet; a packet announcing more closes the connection, as the
	// reference parser does. Default 10 (the reference parser's default).
	MaxAttachments int
	// AttachmentTimeout bounds the time between a binary packet and its
	// last attachment; past it the connection is closed. Default 5s.
	AttachmentTimeout time.Duration
	// MaxNamespaces is the most namespace sockets one Engine.IO connection
	// may hold; a CONNECT past it gets CONNECT_ERROR "Too many
	// namespaces". Default 16.
	MaxNamespaces int
	// OnRefuse, when set, is called once for every input refused to
	// protect the server (see the Refuse* reasons in refusal.go). It
	// must not block.
	OnRefuse func(reason string)
	// Adapter carries broadcasts to the other nodes (see RedisAdapter).
	// Default: a MemoryAdapter of its own, i.e. this node alone.
	Adapter Adapter
	// WriteBatch is the most WebSocket frames written in one system call
	// when several are queued (they are copied into one buffer of at most
	// 64 KB). 1 writes each frame on its own. Default 256.
	WriteBatch int
	// WriteDelay is the coalescing window of a busy connection: after a
	// WebSocket write, frames queued within the next tick of this period
	// go out together in one system call. The first frame after a quiet
	// period is written at once. Default 2ms; a negative value turns
	// coalescing off (each writer writes whatever is queued when it runs).
	WriteDelay time.Duration
	// RequestHeaders, when not nil, are the only headers of the handshake
	// request that Socket.Request keeps for the connection's life (its
	// URL, query and RemoteAddr are always kept); the rest is dropped once
	// the handshake is served, which saves about 1 KB per connection. Nil
	// keeps every header.
	RequestHeaders []string
	// GoroutineReaders reads every WebSocket on a goroutine of its own
	// (the WebSocket library's reader) instead of on the network poller,
	// which reads idle connections without a goroutine each (Linux only;
	// elsewhere goroutine readers are always used).
	GoroutineReaders bool
	// HTTPCompressionThreshold: polling responses of at least this many
	// bytes are compressed with gzip or deflate when the request's
	// Accept-Encoding allows it, as the reference server's httpCompression
	// does. Default 1024; a negative value turns it off.
	HTTPCompressionThreshold int
	// PerMessageDeflate negotiates the WebSocket permessage-deflate
	// extension (RFC 7692, without context takeover) with clients that
	// offer it: their messages of at least PerMessageDeflateThreshold bytes
	// (default 1024) go out compressed, and compressed messages from them
	// are read, bounded by MaxPayload once inflated. Off by default: it
	// costs CPU for every large message (once per broadcast).
	PerMessageDeflate          bool
	PerMessageDeflateThreshold int
}

// Defaults, in one place.
const (
	DefaultPath              = "/socket.io/"
	DefaultPingInterval      = 25 * time.Second
	DefaultPingTimeout       = 20 * time.Second
	DefaultMaxPayload        = 1_000_000
	DefaultWriteQueueSize    = 1024
	DefaultAckTimeout        = 10 * time.Second
	DefaultConnectTimeout    = 45 * time.Second
	DefaultWriteTimeout      = 10 * time.Second
	DefaultMaxDepth          = 32
	DefaultMaxAttachments    = 10
	DefaultAttachmentTimeout = 5 * time.Second
	DefaultMaxNamespaces     = 16
	DefaultWriteBatch        = 256
	DefaultWriteDelay        = 2 * time.Millisecond
	DefaultCompressThreshold = 1024
)

func (o Options) withDefaults() Options {
	if o.Path == "" {
		o.Path = DefaultPath
	}
	if !strings.HasPrefix(o.Path, "/") {
		o.Path = "/" + o.Path
	}
	if !strings.HasSuffix(o.Path, "/") {
		o.Path += "/"
	}
	if o.PingInterval <= 0 {
		o.PingInterval = DefaultPingInterval
	}
	if o.PingTimeout <= 0 {
		o.PingTimeout = DefaultPingTimeout
	}
	if o.MaxPayload <= 0 {
		o.MaxPayload = DefaultMaxPayload
	}
	if o.WriteQueueSize <= 0 {
		o.WriteQueueSize = DefaultWriteQueueSize
	}
	if o.AckTimeout <= 0 {
		o.AckTimeout = DefaultAckTimeout
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	if o.MaxAttachments <= 0 {
		o.MaxAttachments = DefaultMaxAttachments
	}
	if o.AttachmentTimeout <= 0 {
		o.AttachmentTimeout = DefaultAttachmentTimeout
	}
	if o.MaxNamespaces <= 0 {
		o.MaxNamespaces = DefaultMaxNamespaces
	}
	if o.OnRefuse == nil {
		o.OnRefuse = func(string) {}
	}
	if o.WriteBatch <= 0 {
		o.WriteBatch = DefaultWriteBatch
	}
	if o.WriteDelay == 0 {
		o.WriteDelay = DefaultWriteDelay
	} else if o.WriteDelay < 0 {
		o.WriteDelay = 0
	}
	if o.HTTPCompressionThreshold == 0 {
		o.HTTPCompressionThreshold = DefaultCompressThreshold
	}
	if o.PerMessageDeflateThreshold <= 0 {
		o.PerMessageDeflateThreshold = DefaultCompressThreshold
	}
	if o.Adapter == nil {
		o.Adapter = NewMemoryAdapter()
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o
}
