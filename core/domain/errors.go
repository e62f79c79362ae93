// Package domain holds the provider-neutral types of AI Router: the chat
// request and response (OpenAI's Chat Completions shape is the lingua franca),
// the configuration aggregates and the typed errors every layer shares.
package domain

import (
	"errors"
	"fmt"
	"time"
)

// Code classifies an error for callers. Only adapters/httpapi maps codes to
// HTTP statuses and envelopes.
type Code string

const (
	CodeInvalid      Code = "invalid"
	CodeNotFound     Code = "not_found"
	CodeConflict     Code = "conflict"
	CodeUnauthorized Code = "unauthorized"
	CodeForbidden    Code = "forbidden"
	CodeRateLimited  Code = "rate_limited"
	CodeUpstream     Code = "upstream"
	CodeTimeout      Code = "timeout"
	CodeUnavailable  Code = "unavailable"
	CodeInternal     Code = "internal"
)

// Error is an application error with a machine-readable code, a message that is
// safe to show to the caller, and optionally the request field it concerns.
type Error struct {
	Code  Code
	Msg   string
	Field string // dotted path of the offending field, if any
}

func (e *Error) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Msg)
	}
	return e.Msg
}

// Errorf returns an *Error with the given code.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// FieldError returns an invalid-input error naming the field.
func FieldError(field, format string, args ...any) *Error {
	return &Error{Code: CodeInvalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: the code of the first *Error or
// *UpstreamError in its chain, CodeTimeout for deadline errors and
// CodeInternal otherwise.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var ue *UpstreamError
	if errors.As(err, &ue) {
		return ue.Code()
	}
	return CodeInternal
}

// ErrorMessage returns the caller-safe message of err; internal errors get a
// generic message so that no detail leaks.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Error()
	}
	var ue *UpstreamError
	if errors.As(err, &ue) {
		return ue.Error()
	}
	return "internal error"
}

// ErrorClass says what the router may do after an upstream attempt failed.
type ErrorClass string

const (
	// ClassRetryable: the request did not reach processing upstream, or the
	// upstream refused it transiently (connection refused, timeout before the
	// first byte, 429, 500, 502, 503, 504, 529). Another route or key may
	// succeed.
	ClassRetryable ErrorClass = "retryable"
	// ClassRateLimited is a retryable 429 that also cools the key down.
	ClassRateLimited ErrorClass = "rate_limited"
	// ClassAuth is a 401/403: the key is invalid; other keys may work.
	ClassAuth ErrorClass = "auth"
	// ClassRequest is the client's fault (400, 404 model not found, 413, 422,
	// context length, content policy); never retried.
	ClassRequest ErrorClass = "request"
	// ClassAmbiguous: the connection broke after the body was sent and before
	// a response arrived; the upstream may have processed it, so it is not
	// resent.
	ClassAmbiguous ErrorClass = "ambiguous"
	// ClassCanceled: the client went away.
	ClassCanceled ErrorClass = "canceled"
)

// Retryable reports whether another attempt may be made after this class.
func (c ErrorClass) Retryable() bool {
	return c == ClassRetryable || c == ClassRateLimited || c == ClassAuth
}

// UpstreamError is the one error type provider adapters return for upstream
// failures. Message is the provider's own message with any secret removed.
type UpstreamError struct {
	Class      ErrorClass
	Status     int           // upstream HTTP status, 0 when none was received
	Type       string        // provider error type or code, if any
	Message    string        // provider message
	RetryAfter time.Duration // from Retry-After, capped; 0 when absent
	Timeout    bool          // a connect, first-byte, idle or total timeout fired
	Provider   string        // provider name, filled in by the gateway
	Err        error         // underlying transport error, if any
}

func (e *UpstreamError) Error() string {
	var where string
	if e.Provider != "" {
		where = e.Provider + ": "
	}
	switch {
	case e.Status != 0 && e.Message != "":
		return fmt.Sprintf("%supstream returned %d: %s", where, e.Status, e.Message)
	case e.Status != 0:
		return fmt.Sprintf("%supstream returned %d", where, e.Status)
	case e.Message != "":
		return where + e.Message
	default:
		return where + "upstream error"
	}
}

func (e *UpstreamError) Unwrap() error { return e.Err }

// Code maps the upstream failure to an application code.
func (e *UpstreamError) Code() Code {
	switch {
	case e.Class == ClassCanceled:
		return CodeTimeout
	case e.Timeout:
		return CodeTimeout
	case e.Class == ClassRateLimited:
		return CodeRateLimited
	case e.Class == ClassRequest:
		return CodeInvalid
	case e.Status == 503 || e.Status == 529:
		return CodeUnavailable
	default:
		return CodeUpstream
	}
}

// ClassifyStatus returns the error class of an upstream HTTP status.
func ClassifyStatus(status int) ErrorClass {
	switch {
	case status == 429:
		return ClassRateLimited
	case status == 401 || status == 403:
		return ClassAuth
	case status == 408 || status == 500 || status == 502 || status == 503 || status == 504 || status == 529:
		return ClassRetryable
	case status >= 500:
		return ClassRetryable
	case status < 400:
		// A redirect or another non-2xx that is not an error status: the
		// upstream (or its configured URL) is at fault, not the client.
		return ClassRetryable
	default:
		return ClassRequest
	}
}
