package vertex

import (
	"context"
	"errors"

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
	// expose the reply's headers, so there is no Retry-After here.
	var apiErr genai.APIError
	if errors.As(err, &apiErr) {
		if apiErr.Code >= 400 {
			return llm.StatusError(apiErr.Code, 0, err)
		}
		// No HTTP status (an error chunk of a stream): unknown.
		return &llm.Error{Kind: llm.Transient, Code: apiErr.Code, Reason: llm.ReasonUnknown, Err: err}
	}
	return llm.Classify(err)
}

// Classify maps a genai failure outside Generate (the embedding calls of
// semantic_similarity) the same way.
func Classify(err error) error { return classify(err) }
