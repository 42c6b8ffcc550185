package hub

import (
	"errors"
	"fmt"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/records"
)

// Error codes of the wire contract (docs/protocol.md).
const (
	CodeAuthRequired    = "AUTH_REQUIRED"
	CodeInvalidToken    = "INVALID_TOKEN"
	CodeBadRequest      = "BAD_REQUEST"
	CodeUnknownEvent    = "UNKNOWN_EVENT"
	CodeRoomNotFound    = "ROOM_NOT_FOUND"
	CodeRoomNotEligible = "ROOM_NOT_ELIGIBLE"
	CodeForbidden       = "FORBIDDEN"
	CodeNotJoined       = "NOT_JOINED"
	CodeRoomFull        = "ROOM_FULL"
	CodeTooManyRooms    = "TOO_MANY_ROOMS"
	CodeRateLimited     = "RATE_LIMITED"
	CodeMessageTooLarge = "MESSAGE_TOO_LARGE"
	CodeInvalidMessage  = "INVALID_MESSAGE"
	CodeTypeNotAllowed  = "TYPE_NOT_ALLOWED"
	CodeSilenced        = "SILENCED"
	CodeBlocked         = "BLOCKED"
	CodeRejected        = "REJECTED"
	CodeNotFound        = "NOT_FOUND"
	CodeUnavailable     = "UNAVAILABLE"
	// CodeOutcomeUnknown: the message store got the write but did not
	// answer in time; it may be stored. Retrying with the same
	// clientMessageId is safe. When it was stored it is delivered in order.
	CodeOutcomeUnknown = "OUTCOME_UNKNOWN"
	CodeInternal       = "INTERNAL"
	// CodeIdleTimeout (hub:error only): the connection was idle for longer
	// than connectionTimeout and is being disconnected.
	CodeIdleTimeout = "IDLE_TIMEOUT"
)

// Error is an error a client sees: a stable code, a message and optional
// details. It is what acks and hub:error carry.
type Error struct {
	Code         string `json:"code"`
	Message      string `json:"message"`
	Details      any    `json:"details,omitempty"`
	RetryAfterMs int64  `json:"retryAfterMs,omitempty"`
	cause        error
}

func (e *Error) Error() string {
	if e.cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.cause)
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.cause }

func newError(code, msg string) *Error { return &Error{Code: code, Message: msg} }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func wrapError(code, msg string, cause error) *Error {
	return &Error{Code: code, Message: msg, cause: cause}
}

// asClientError maps any error to a client error, hiding internals.
func asClientError(err error) *Error {
	var ce *Error
	if errors.As(err, &ce) {
		return ce
	}
	var d *authz.Denied
	if errors.As(err, &d) {
		msg := map[string]string{
			authz.CodeRoomNotFound:    "room not found",
			authz.CodeRoomNotEligible: "room does not support realtime features",
			authz.CodeForbidden:       "not authorized for this room",
			authz.CodeUnavailable:     "authorization backend unavailable",
		}[d.Code]
		if msg == "" {
			msg = "not authorized"
		}
		return &Error{Code: d.Code, Message: msg, Details: map[string]string{"layer": d.Layer}, cause: err}
	}
	return &Error{Code: CodeInternal, Message: "internal error", cause: err}
}

// connectError is returned from the namespace connect handler; the socket
// layer sends its message and data in CONNECT_ERROR.
type connectError struct {
	msg  string
	code string
}

func (e *connectError) Error() string  { return e.msg }
func (e *connectError) ErrorData() any { return map[string]string{"code": e.code} }

// unavailableErrors are the sentinels backends wrap when they are down.
var unavailableErrors = []error{records.ErrUnavailable, msgstore.ErrUnavailable, authz.ErrSessionUnavailable}

// isUnavailable reports whether err says a backend is down.
func isUnavailable(err error) bool {
	for _, u := range unavailableErrors {
		if errors.Is(err, u) {
			return true
		}
	}
	return false
}
