package llm

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Reasons of classified errors (Error.Reason).
const (
	ReasonRateLimited      = "rate_limited"
	ReasonDeadline         = "deadline"
	ReasonUnavailable      = "unavailable"
	ReasonNetwork          = "network"
	ReasonUnknown          = "unknown"
	ReasonBadRequest       = "bad_request"
	ReasonUnauthenticated  = "unauthenticated"
	ReasonPermissionDenied = "permission_denied"
	ReasonNotFound         = "not_found"
	ReasonClientError      = "client_error"
	ReasonSafety           = "safety"
	ReasonContentFilter    = "content_filter"
)

// StatusError classifies an HTTP status of a failed call: 429, 408 and
// 5xx are transient (the same call may succeed later), every other 4xx is
// permanent. retryAfter is the reply's Retry-After, 0 if none.
func StatusError(code int, retryAfter time.Duration, err error) *Error {
	e := &Error{Kind: Transient, Code: code, RetryAfter: retryAfter, Err: err}
	switch {
	case code == http.StatusTooManyRequests:
		e.Reason = ReasonRateLimited
	case code == http.StatusRequestTimeout, code == http.StatusGatewayTimeout:
		e.Reason = ReasonDeadline
	case code >= 500:
		e.Reason = ReasonUnavailable
	case code == http.StatusBadRequest:
		e.Kind, e.Reason = Permanent, ReasonBadRequest
	case code == http.StatusUnauthorized:
		e.Kind, e.Reason = Permanent, ReasonUnauthenticated
	case code == http.StatusForbidden:
		e.Kind, e.Reason = Permanent, ReasonPermissionDenied
	case code == http.StatusNotFound:
		e.Kind, e.Reason = Permanent, ReasonNotFound
	case code >= 400:
		e.Kind, e.Reason = Permanent, ReasonClientError
	default:
		e.Reason = ReasonUnknown
	}
	return e
}

// Classify returns err as an *Error: an *Error (anywhere in the chain) is
// returned as is; deadlines and network failures are transient; anything
// else unknown is transient too, because a retry is the safe answer to a
// failure we do not understand. A canceled context is returned unchanged:
// the caller gave up, and neither a retry nor a record is wanted. Providers
// map their own error shapes (HTTP statuses, safety blocks) first and fall
// back to Classify for the rest.
func Classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	transient := func(reason string) error { return &Error{Kind: Transient, Reason: reason, Err: err} }
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return transient(ReasonDeadline)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return transient(ReasonNetwork)
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return transient(ReasonNetwork)
	}
	return transient(ReasonUnknown)
}

// ParseRetryAfter reads a Retry-After header: a number of seconds or an
// HTTP date. It returns 0 when the header is empty, unreadable or in the
// past.
func ParseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(h, 64); err == nil {
		if s <= 0 || s > 24*3600 {
			return 0
		}
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}
