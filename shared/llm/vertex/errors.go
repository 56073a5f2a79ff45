package vertex

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"

	"google.golang.org/genai"

	"github.com/promptml/promptml/shared/llm"
)

// classify maps every failure of a call to an *llm.Error, so that callers
// decide on retries from Kind alone. It is the only place that knows genai's
// error shapes. A canceled context is returned as is: the caller gave up, and
// neither a retry nor a record of a model failure is wanted.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	transient := func(code int, reason string) error {
		return &llm.Error{Kind: llm.Transient, Code: code, Reason: reason, Err: err}
	}
	permanent := func(code int, reason string) error {
		return &llm.Error{Kind: llm.Permanent, Code: code, Reason: reason, Err: err}
	}

	if errors.Is(err, errNilRequest) {
		return permanent(0, "bad_request")
	}
	var blocked *blockedError
	if errors.As(err, &blocked) {
		// The same prompt would be blocked again.
		return permanent(0, blocked.reason)
	}

	// genai returns APIError by value for every non-2xx reply.
	var apiErr genai.APIError
	if errors.As(err, &apiErr) {
		code := apiErr.Code
		switch {
		case code == http.StatusTooManyRequests:
			return transient(code, "rate_limited")
		case code == http.StatusRequestTimeout, code == http.StatusGatewayTimeout:
			return transient(code, "deadline")
		case code >= 500:
			return transient(code, "unavailable")
		case code == http.StatusBadRequest:
			return permanent(code, "bad_request")
		case code == http.StatusUnauthorized:
			return permanent(code, "unauthenticated")
		case code == http.StatusForbidden:
			return permanent(code, "permission_denied")
		case code == http.StatusNotFound:
			return permanent(code, "not_found")
		case code >= 400:
			return permanent(code, "client_error")
		}
		// No HTTP status (an error chunk of a stream): unknown, see below.
		return transient(code, "unknown")
	}

	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return transient(0, "deadline")
	case errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, io.EOF):
		return transient(0, "network")
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return transient(0, "network")
	}
	// Like llm.IsTransient: a retry is the safe answer to a failure we do not
	// understand (a garbled reply from a proxy, say).
	return transient(0, "unknown")
}
