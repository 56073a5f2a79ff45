package vertex

import (
	"context"
	"errors"
	"strings"
	"time"

	"google.golang.org/genai"

	"github.com/promptml/promptml/shared/llm"
)

// classify maps every failure of a call to an *llm.Error, so that callers
// decide on retries from Kind alone. It knows genai's error shapes (API
// errors, blocked replies); the HTTP statuses and the generic failures
// (deadlines, resets) are classified by the llm package, the one place
// every provider shares. A canceled context is returned as is.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return err
	}
	if errors.Is(err, errNilRequest) {
		return &llm.Error{Kind: llm.Permanent, Reason: llm.ReasonBadRequest, Err: err}
	}
	var blocked *blockedError
	if errors.As(err, &blocked) {
		// The same prompt would be blocked again.
		return &llm.Error{Kind: llm.Permanent, Reason: blocked.reason, Err: err}
	}
	// genai returns APIError by value for every non-2xx reply. It does not
	// expose the reply's headers; Google APIs say when to come back in a
	// google.rpc.RetryInfo detail instead.
	var apiErr genai.APIError
	if errors.As(err, &apiErr) {
		if apiErr.Code >= 400 {
			return llm.StatusError(apiErr.Code, retryDelay(apiErr.Details), err)
		}
		// No HTTP status (an error chunk of a stream): unknown.
		return &llm.Error{Kind: llm.Transient, Code: apiErr.Code, Reason: llm.ReasonUnknown, Err: err}
	}
	return llm.Classify(err)
}

// retryDelay reads the retryDelay (e.g. "30s") of a google.rpc.RetryInfo
// error detail, 0 when there is none.
func retryDelay(details []map[string]any) time.Duration {
	for _, d := range details {
		if t, _ := d["@type"].(string); !strings.HasSuffix(t, "google.rpc.RetryInfo") {
			continue
		}
		if s, ok := d["retryDelay"].(string); ok {
			if v, err := time.ParseDuration(s); err == nil && v > 0 {
				return v
			}
		}
	}
	return 0
}
