//go:build !linux

package sio

import (
	"errors"
	"net"

	"go.uber.org/zap"
)

// netpollSupported: only the Linux poller exists; elsewhere every
// WebSocket keeps the library's reader goroutine.
const netpollSupported = false

type pollID struct{}

type netPoller struct{}

type netPollers struct{}

var errNoPoller = errors.New("sio: no network poller on this platform")

func newNetPollers(*zap.Logger) (*netPollers, error) { return nil, errNoPoller }

func (*netPollers) add(*netReader, net.Conn) error { return errNoPoller }

func (*netPollers) close() {}

func (r *netReader) read([]byte) (int, error) { return 0, net.ErrClosed }

func (r *netReader) stop() {}

func (r *netReader) wake() {}
