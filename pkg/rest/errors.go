package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/hubd/hubd/pkg/hub"
	"github.com/hubd/hubd/pkg/strictjson"
)

// statusByCode maps the error codes of the wire contract to HTTP statuses.
var statusByCode = map[string]int{
	hub.CodeBadRequest:      http.StatusBadRequest,
	hub.CodeInvalidMessage:  http.StatusBadRequest,
	hub.CodeAuthRequired:    http.StatusUnauthorized,
	hub.CodeInvalidToken:    http.StatusUnauthorized,
	hub.CodeForbidden:       http.StatusForbidden,
	hub.CodeBlocked:         http.StatusForbidden,
	hub.CodeSilenced:        http.StatusForbidden,
	hub.CodeTypeNotAllowed:  http.StatusForbidden,
	hub.CodeRoomNotEligible: http.StatusForbidden,
	hub.CodeNotJoined:       http.StatusForbidden,
	hub.CodeRoomNotFound:    http.StatusNotFound,
	hub.CodeNotFound:        http.StatusNotFound,
	hub.CodeUnknownEvent:    http.StatusNotFound,
	hub.CodeRoomFull:        http.StatusConflict,
	hub.CodeTooManyRooms:    http.StatusConflict,
	hub.CodeMessageTooLarge: http.StatusRequestEntityTooLarge,
	hub.CodeRejected:        http.StatusUnprocessableEntity,
	hub.CodeRateLimited:     http.StatusTooManyRequests,
	hub.CodeUnavailable:     http.StatusServiceUnavailable,
	hub.CodeOutcomeUnknown:  http.StatusGatewayTimeout,
	hub.CodeInternal:        http.StatusInternalServerError,
}

// ErrorCodes lists every error code the REST API answers with, in the order
// of the OpenAPI document's enum.
var ErrorCodes = []string{
	hub.CodeAuthRequired, hub.CodeInvalidToken, hub.CodeBadRequest, hub.CodeUnknownEvent,
	hub.CodeRoomNotFound, hub.CodeRoomNotEligible, hub.CodeForbidden, hub.CodeNotJoined,
	hub.CodeRoomFull, hub.CodeTooManyRooms, hub.CodeRateLimited, hub.CodeMessageTooLarge,
	hub.CodeInvalidMessage, hub.CodeTypeNotAllowed, hub.CodeSilenced, hub.CodeBlocked,
	hub.CodeRejected, hub.CodeNotFound, hub.CodeUnavailable, hub.CodeOutcomeUnknown, hub.CodeInternal,
}

// StatusOf returns the HTTP status of an error code; unknown codes are 500.
func StatusOf(code string) int {
	if s, ok := statusByCode[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// clientError maps any error to the error a client sees. Errors that are
// not *hub.Error are INTERNAL and their text is not shown.
func clientError(err error) *hub.Error {
	var ce *hub.Error
	if errors.As(err, &ce) {
		if _, known := statusByCode[ce.Code]; known {
			return ce
		}
	}
	return &hub.Error{Code: hub.CodeInternal, Message: "internal error"}
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	OK    bool      `json:"ok"`
	Error errorInfo `json:"error"`
}

type errorInfo struct {
	Code         string `json:"code"`
	Message      string `json:"message"`
	Details      any    `json:"details,omitempty"`
	RetryAfterMs int64  `json:"retryAfterMs,omitempty"`
}

func writeError(w http.ResponseWriter, status int, e *hub.Error) {
	if o, ok := w.(*observedWriter); ok {
		o.code = e.Code
	}
	if e.Code == hub.CodeRateLimited && e.RetryAfterMs > 0 {
		secs := (e.RetryAfterMs + 999) / 1000
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	writeJSON(w, status, errorBody{Error: errorInfo{
		Code: e.Code, Message: e.Message, Details: e.Details, RetryAfterMs: e.RetryAfterMs,
	}})
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"ok":false,"error":{"code":"INTERNAL","message":"cannot encode response"}}`)
		if o, ok := w.(*observedWriter); ok {
			o.code = hub.CodeInternal
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func badRequest(format string, args ...any) *hub.Error {
	return &hub.Error{Code: hub.CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

// decodeBody decodes the request's JSON object body into dst, strictly
// (strictjson.Decode): unknown fields, keys that match a field only
// case-insensitively, repeated keys, trailing data and bodies over the
// limit are errors. An empty body is allowed when optional is true and
// leaves dst untouched.
func (c *call) decodeBody(dst any, optional bool) error {
	body := http.MaxBytesReader(c.w, c.r.Body, c.maxBody)
	data, err := io.ReadAll(body)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &hub.Error{Code: hub.CodeMessageTooLarge,
				Message: fmt.Sprintf("request body larger than %d bytes", tooBig.Limit)}
		}
		return badRequest("cannot read request body: %v", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if optional {
			return nil
		}
		return badRequest("request body is required")
	}
	if trimmed := bytes.TrimSpace(data); trimmed[0] != '{' {
		return badRequest("invalid request body: expected a JSON object")
	}
	if err := strictjson.Decode(data, dst); err != nil {
		return badRequest("invalid request body: %v", err)
	}
	return nil
}
