package sio

import (
	"errors"
	"fmt"
)

// Sentinel errors returned by the package.
var (
	ErrConnClosed    = errors.New("sio: connection closed")
	ErrSlowConsumer  = errors.New("sio: slow consumer")
	ErrSocketClosed  = errors.New("sio: socket disconnected")
	ErrAckTimeout    = errors.New("sio: ack timeout")
	ErrAckSent       = errors.New("sio: ack already sent")
	ErrNoAck         = errors.New("sio: event has no ack")
	ErrServerClosed  = errors.New("sio: server closed")
	ErrInvalidPacket = errors.New("sio: invalid packet")
)

// PacketError describes why an incoming packet was rejected. It wraps
// ErrInvalidPacket.
type PacketError struct {
	Layer  string // "engine.io" or "socket.io"
	Reason string
	// Refusal is the refusal reason the packet counts as (a Refuse*
	// constant); "" counts as RefuseParseError.
	Refusal string
}

func (e *PacketError) Error() string {
	return fmt.Sprintf("sio: invalid %s packet: %s", e.Layer, e.Reason)
}

// Unwrap lets errors.Is(err, ErrInvalidPacket) match.
func (e *PacketError) Unwrap() error { return ErrInvalidPacket }

func eioErr(reason string) error { return &PacketError{Layer: "engine.io", Reason: reason} }
func sioErr(reason string) error { return &PacketError{Layer: "socket.io", Reason: reason} }

// refusedErr is a Socket.IO packet error counted as refusal.
func refusedErr(refusal, reason string) error {
	return &PacketError{Layer: "socket.io", Reason: reason, Refusal: refusal}
}

// ConnectError is a convenient error for Namespace.OnConnect handlers that
// want to send "data" along with the CONNECT_ERROR message.
type ConnectError struct {
	Message string
	Payload any
}

func (e *ConnectError) Error() string { return e.Message }

// ErrorData is sent to the client as the "data" field of CONNECT_ERROR.
func (e *ConnectError) ErrorData() any { return e.Payload }
