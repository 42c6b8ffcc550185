package sio

import "sync/atomic"

type counters struct {
	connsTotal       atomic.Uint64
	packetsIn        atomic.Uint64
	packetsOut       atomic.Uint64
	bytesIn          atomic.Uint64
	bytesOut         atomic.Uint64
	writes           atomic.Uint64
	slowConsumers    atomic.Uint64
	parseErrors      atomic.Uint64
	oversizeEvents   atomic.Uint64
	broadcasts       atomic.Uint64
	remoteBroadcasts atomic.Uint64
	adapterErrors    atomic.Uint64
}

// Stats is a snapshot of the server counters, for the daemon's metrics.
// Totals only grow; Connections and Sockets are current values.
type Stats struct {
	Connections             int    // open Engine.IO connections
	ConnectionsTotal        uint64 // Engine.IO handshakes accepted
	Sockets                 int    // connected Socket.IO sockets, all namespaces
	PacketsIn               uint64 // Engine.IO packets received
	PacketsOut              uint64 // Engine.IO packets sent (attachments count as packets)
	BytesIn                 uint64
	BytesOut                uint64
	Writes                  uint64 // WebSocket write system calls (each carries one or more packets)
	SlowConsumerDisconnects uint64
	ParseErrors             uint64 // connections closed for a malformed Socket.IO packet (refusal parse_error)
	OversizeEvents          uint64 // events dropped by a namespace's SetMaxEventBytes cap
	Broadcasts              uint64 // Broadcast.Emit calls
	RemoteBroadcasts        uint64 // broadcasts received from other nodes through the Adapter
	AdapterErrors           uint64 // broadcasts the Adapter failed to publish (local delivery still done)
}
