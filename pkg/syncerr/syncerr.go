// Package syncerr gives every failure a stable code that decides retry versus
// dead-letter and is what users see as the failure category.
package syncerr

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Code is a stable, documented failure category.
type Code string

// Codes raised by the pipeline itself. API clients add their own
// (QBO_DUPLICATE_NAME, HS_CONFLICT, ...).
const (
	CodeInternal       Code = "INTERNAL"
	CodeBadMessage     Code = "BAD_MESSAGE"
	CodeHandlerCrashed Code = "HANDLER_CRASHED"
	CodeTimeout        Code = "TIMEOUT"
	CodeUnavailable    Code = "UNAVAILABLE"
	CodeRateLimited    Code = "RATE_LIMITED"
	CodeConflict       Code = "CAS_CONFLICT"
	CodeValidation     Code = "VALIDATION"
)

// Error is an error with a code and a retry decision.
type Error struct {
	Code       Code
	Retryable  bool
	RetryAfter time.Duration // the other side's Retry-After, when it gave one
	// Waiting marks a record that cannot move until something outside it
	// is fixed (a connection to reconnect): it waits as long as it takes and
	// the wait does not use up its attempts.
	Waiting bool
	// WaitLimit bounds a wait (0: unbounded): a record still waiting this
	// long after it reached its stage fails with the wait's code.
	WaitLimit time.Duration
	Err       error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Transient wraps err as retryable.
func Transient(code Code, err error) *Error { return &Error{Code: code, Retryable: true, Err: err} }

// Permanent wraps err as not retryable: it goes to the dead-letter stream.
func Permanent(code Code, err error) *Error { return &Error{Code: code, Err: err} }

// Permanentf is Permanent with a formatted message.
func Permanentf(code Code, format string, args ...any) *Error {
	return Permanent(code, fmt.Errorf(format, args...))
}

// RetryAfter wraps err as retryable after at least d.
func RetryAfter(code Code, d time.Duration, err error) *Error {
	return &Error{Code: code, Retryable: true, RetryAfter: d, Err: err}
}

// Wait wraps err as a wait: retried after d, for as long as it takes,
// without counting against the record's attempts.
func Wait(code Code, d time.Duration, err error) *Error {
	return &Error{Code: code, Retryable: true, RetryAfter: d, Waiting: true, Err: err}
}

// WaitUpTo is Wait for at most limit, counted from when the record reached
// its stage (a dependency that may never come: a customer left out by a
// filter).
func WaitUpTo(code Code, d, limit time.Duration, err error) *Error {
	return &Error{Code: code, Retryable: true, RetryAfter: d, Waiting: true, WaitLimit: limit, Err: err}
}

// WaitLimitOf returns the bound of a wait, or 0.
func WaitLimitOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.WaitLimit
	}
	return 0
}

// IsWaiting reports whether err is a wait.
func IsWaiting(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Waiting
}

// CodeOf returns the code of the first *Error in err's chain. Deadline errors
// are TIMEOUT; anything else uncoded is INTERNAL.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return CodeTimeout
	}
	return CodeInternal
}

// IsRetryable reports whether err should be retried. Errors without a code
// are retried: an unknown failure (a bug, a network blip) should not lose a
// record on the first try, and retries are bounded by the pipeline.
func IsRetryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Retryable
	}
	return true
}

// RetryAfterOf returns the server-requested delay, or 0.
func RetryAfterOf(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
