package main

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// Source addresses: one local IP gives about 28,000 connections to one
// server address (the ephemeral port range), so a run of 100,000 spreads its
// clients over several loopback addresses (127.0.0.2, 127.0.0.3, ...), each
// client i dialling from source i mod len(sources).

// parseSources reads --source-addrs: a comma-separated list of IPv4
// addresses or ranges whose last byte counts up ("127.0.0.2-127.0.0.9").
func parseSources(spec string) ([]net.IP, error) {
	if spec == "" {
		return nil, nil
	}
	var ips []net.IP
	for _, item := range strings.Split(spec, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(item), "-")
		first := net.ParseIP(lo).To4()
		if first == nil {
			return nil, fmt.Errorf("%w: --source-addrs %q: %q is not an IPv4 address", errUsage, spec, lo)
		}
		last := first
		if isRange {
			last = net.ParseIP(hi).To4()
			if last == nil || !first[:3].Equal(last[:3]) || last[3] < first[3] {
				return nil, fmt.Errorf("%w: --source-addrs %q: want A.B.C.x-A.B.C.y with x <= y", errUsage, spec)
			}
		}
		for b := int(first[3]); b <= int(last[3]); b++ {
			ips = append(ips, net.IPv4(first[0], first[1], first[2], byte(b)).To4())
		}
	}
	return ips, nil
}

// newDialer returns a WebSocket dialer whose connections leave from src
// (any address when src is nil).
func newDialer(src net.IP) *websocket.Dialer {
	nd := &net.Dialer{Timeout: 10 * time.Second}
	if src != nil {
		nd.LocalAddr = &net.TCPAddr{IP: src}
	}
	return &websocket.Dialer{
		NetDialContext:   nd.DialContext,
		HandshakeTimeout: 10 * time.Second,
		ReadBufferSize:   2048,
		WriteBufferSize:  1024,
		WriteBufferPool:  &sync.Pool{},
	}
}

// newDialers returns one dialer per source address, or one default dialer.
func newDialers(sources []net.IP) []*websocket.Dialer {
	if len(sources) == 0 {
		return []*websocket.Dialer{newDialer(nil)}
	}
	ds := make([]*websocket.Dialer, len(sources))
	for i, ip := range sources {
		ds[i] = newDialer(ip)
	}
	return ds
}
