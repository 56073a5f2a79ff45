// Package llm holds the provider-neutral request and response types every
// model call in promptml uses, and the error classification that steers
// retries. Providers live in subpackages (vertex, sim) and return concrete
// types; consumers declare the one-method interface they need, e.g.
//
//	type generator interface {
//		Generate(ctx context.Context, req *llm.Request) (*llm.Response, error)
//	}
package llm

import (
	"errors"
	"fmt"
	"time"
)

// Request is one chat-style generation call.
type Request struct {
	// Model overrides the provider's default model name when set.
	Model string `json:"model,omitempty"`
	// System is the system instruction (the prompt's system_prompt).
	System string `json:"system,omitempty"`
	// Prompt is the user content of the single user turn.
	Prompt string `json:"prompt"`
	// Temperature is the sampling temperature; nil leaves the provider default.
	Temperature *float64 `json:"temperature,omitempty"`
	// MaxOutputTokens caps the reply; 0 leaves the provider default.
	MaxOutputTokens int `json:"max_output_tokens,omitempty"`
	// ResponseSchema, when set, asks for a JSON reply matching this JSON
	// Schema (an object decoded from JSON: map[string]any).
	ResponseSchema map[string]any `json:"response_schema,omitempty"`
	// ResponseMIMEType, when "application/json", asks for a JSON reply
	// (with ResponseSchema, one following it); "" leaves the provider's
	// default, plain text.
	ResponseMIMEType string `json:"response_mime_type,omitempty"`
	// Seed makes sampling reproducible where the provider supports it.
	Seed *int64 `json:"seed,omitempty"`
	// Thinking is the model's thinking control; nil leaves the model's
	// default.
	Thinking *Thinking `json:"thinking,omitempty"`
	// Purpose says who is calling ("primary", "optimizer", "judge"); it is
	// used for logs, usage accounting and by the simulator.
	Purpose string `json:"purpose,omitempty"`
	// Sample distinguishes repeated samples of the same request (0 for
	// the first): it is part of the response cache key, so asking twice on
	// purpose is never answered from one cached reply.
	Sample int `json:"sample,omitempty"`
}

// Thinking is a model's thinking control: a level (Gemini 3 and later,
// OpenAI's reasoning_effort) or a token budget (Gemini 2.5), not both.
type Thinking struct {
	// Level is "minimal", "low", "medium" or "high" ("" when Budget is set).
	Level string `json:"level,omitempty"`
	// Budget is the thinking token budget (-1 dynamic, 0 off); nil when
	// Level is set.
	Budget *int `json:"budget,omitempty"`
}

// Usage is the token accounting of one call, from the provider's response.
// InputTokens and OutputTokens are the totals; CachedInputTokens and
// ThinkingTokens are the parts of them that are billed at their own prices.
type Usage struct {
	InputTokens  int `json:"input_tokens" firestore:"input_tokens"`
	OutputTokens int `json:"output_tokens" firestore:"output_tokens"`
	TotalTokens  int `json:"total_tokens" firestore:"total_tokens"`
	// CachedInputTokens are the input tokens the provider served from its
	// context cache (Gemini's cachedContentTokenCount, OpenAI's
	// prompt_tokens_details.cached_tokens); included in InputTokens.
	CachedInputTokens int `json:"cached_input_tokens,omitempty" firestore:"cached_input_tokens,omitempty"`
	// ThinkingTokens are the model's thoughts (Gemini's thoughtsTokenCount,
	// OpenAI's completion_tokens_details.reasoning_tokens); included in
	// OutputTokens.
	ThinkingTokens int `json:"thinking_tokens,omitempty" firestore:"thinking_tokens,omitempty"`
}

// Add returns u + v.
func (u Usage) Add(v Usage) Usage {
	return Usage{
		InputTokens:       u.InputTokens + v.InputTokens,
		OutputTokens:      u.OutputTokens + v.OutputTokens,
		TotalTokens:       u.TotalTokens + v.TotalTokens,
		CachedInputTokens: u.CachedInputTokens + v.CachedInputTokens,
		ThinkingTokens:    u.ThinkingTokens + v.ThinkingTokens,
	}
}

// Response is the reply to a Request.
type Response struct {
	// Text is the concatenated text of the first candidate.
	Text string `json:"text"`
	// Model is the model that answered (as the provider reports it).
	Model string `json:"model,omitempty"`
	// FinishReason is the provider's finish reason, e.g. "STOP".
	FinishReason string `json:"finish_reason,omitempty"`
	// Usage is the token usage the provider reported. A cached reply
	// keeps the usage of the call that paid for it.
	Usage Usage `json:"usage"`
	// Cached is true when the reply came from the response cache: nothing
	// was paid for it.
	Cached bool `json:"cached,omitempty"`
}

// Kind classifies a failed call so callers know whether to retry.
type Kind int

const (
	// Permanent errors (bad request, safety block, content filter) will fail
	// again if retried: they are recorded, not retried.
	Permanent Kind = iota
	// Transient errors (429, 503, deadline, connection reset) may succeed
	// later: they are retried, and when retries run out the batch returns an
	// error so Pub/Sub redelivers it.
	Transient
)

func (k Kind) String() string {
	if k == Transient {
		return "transient"
	}
	return "permanent"
}

// Error is a classified provider error.
type Error struct {
	Kind Kind
	// Code is the HTTP status code when there was one, else 0.
	Code int
	// Reason is a short machine-readable reason, e.g. "rate_limited",
	// "safety", "bad_request", "unavailable".
	Reason string
	// RetryAfter is how long the provider asked us to wait before trying
	// again (a Retry-After header), 0 when it did not say.
	RetryAfter time.Duration
	// Err is the underlying error.
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("llm %s error (%s, code %d): %v", e.Kind, e.Reason, e.Code, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// IsTransient reports whether err (or an error it wraps) is a transient
// *Error. Unclassified errors are treated as transient, because a retry is
// the safe choice for a failure we do not understand.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind == Transient
	}
	return true
}
