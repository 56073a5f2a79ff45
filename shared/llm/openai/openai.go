// Package openai is the provider for any OpenAI-compatible chat-completions
// endpoint (Ollama, vLLM, llama.cpp server, OpenAI itself): one POST
// {base_url}/chat/completions per request, every failure mapped to an
// *llm.Error. It does not retry: llm.Client does.
package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/promptml/promptml/shared/llm"
)

// Options configure a Model.
type Options struct {
	// BaseURL is the API root, e.g. "http://127.0.0.1:11434/v1" (Ollama);
	// "/chat/completions" is appended.
	BaseURL string
	// Model is the model name sent when the request names none.
	Model string
	// APIKey, when set, is sent as a bearer token.
	APIKey string
	// HTTPClient is used for the calls (nil: a client with a 5-minute
	// timeout).
	HTTPClient *http.Client
}

// Model is a chat-completions client. It is safe for concurrent use.
type Model struct {
	url    string
	model  string
	apiKey string
	client *http.Client
}

// New returns a Model for opts.
func New(opts Options) (*Model, error) {
	if strings.TrimSpace(opts.BaseURL) == "" {
		return nil, errors.New("openai.New: base URL is required")
	}
	c := opts.HTTPClient
	if c == nil {
		c = &http.Client{Timeout: 5 * time.Minute}
	}
	return &Model{url: strings.TrimRight(opts.BaseURL, "/") + "/chat/completions", model: opts.Model, apiKey: opts.APIKey, client: c}, nil
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

type responseFormat struct {
	Type       string         `json:"type"`
	JSONSchema map[string]any `json:"json_schema,omitempty"`
}

type chatRequest struct {
	Model          string          `json:"model"`
	Messages       []message       `json:"messages"`
	Temperature    *float64        `json:"temperature,omitempty"`
	MaxTokens      int             `json:"max_tokens,omitempty"`
	Seed           *int64          `json:"seed,omitempty"`
	ResponseFormat *responseFormat `json:"response_format,omitempty"`
	// ReasoningEffort is the thinking level of reasoning models; omitted
	// unless the model config sets thinking_level.
	ReasoningEffort string `json:"reasoning_effort,omitempty"`
}

type chatResponse struct {
	Model   string `json:"model"`
	Choices []struct {
		Message      message `json:"message"`
		FinishReason string  `json:"finish_reason"`
	} `json:"choices"`
	Usage struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
		// The parts of the prompt served from the server's prompt cache,
		// and of the completion spent reasoning (OpenAI's usage details).
		PromptTokensDetails struct {
			CachedTokens int `json:"cached_tokens"`
		} `json:"prompt_tokens_details"`
		CompletionTokensDetails struct {
			ReasoningTokens int `json:"reasoning_tokens"`
		} `json:"completion_tokens_details"`
	} `json:"usage"`
	Error *apiError `json:"error"`
}

type apiError struct {
	Message string `json:"message"`
	Type    string `json:"type"`
	Code    any    `json:"code"`
}

// Generate sends one chat completion: System as the system message, Prompt
// as the user message, ResponseSchema as a json_schema response format.
func (m *Model) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if req == nil {
		return nil, &llm.Error{Kind: llm.Permanent, Reason: llm.ReasonBadRequest, Err: errors.New("openai: nil request")}
	}
	body := chatRequest{Model: req.Model, Temperature: req.Temperature, MaxTokens: req.MaxOutputTokens, Seed: req.Seed}
	if req.Thinking != nil {
		body.ReasoningEffort = req.Thinking.Level
	}
	if body.Model == "" {
		body.Model = m.model
	}
	if req.System != "" {
		body.Messages = append(body.Messages, message{Role: "system", Content: req.System})
	}
	body.Messages = append(body.Messages, message{Role: "user", Content: req.Prompt})
	switch {
	case req.ResponseSchema != nil:
		body.ResponseFormat = &responseFormat{Type: "json_schema",
			JSONSchema: map[string]any{"name": "reply", "schema": req.ResponseSchema}}
	case req.ResponseMIMEType == "application/json":
		// JSON without a schema: the chat-completions JSON mode.
		body.ResponseFormat = &responseFormat{Type: "json_object"}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, &llm.Error{Kind: llm.Permanent, Reason: llm.ReasonBadRequest, Err: fmt.Errorf("openai: %w", err)}
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, m.url, bytes.NewReader(b))
	if err != nil {
		return nil, &llm.Error{Kind: llm.Permanent, Reason: llm.ReasonBadRequest, Err: fmt.Errorf("openai: %w", err)}
	}
	hreq.Header.Set("Content-Type", "application/json")
	if m.apiKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+m.apiKey)
	}
	hresp, err := m.client.Do(hreq)
	if err != nil {
		// net/http strips a URL's password from its errors; the URL we
		// print is redacted the same way (the chain is kept for Classify).
		return nil, llm.Classify(fmt.Errorf("openai: POST %s: %w", redactURL(m.url), err))
	}
	defer hresp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(hresp.Body, 32<<20))
	if err != nil {
		return nil, llm.Classify(fmt.Errorf("openai: reading the reply: %w", err))
	}
	var cr chatResponse
	jerr := json.Unmarshal(raw, &cr)
	if hresp.StatusCode/100 != 2 {
		detail := strings.TrimSpace(string(raw))
		if jerr == nil && cr.Error != nil {
			detail = cr.Error.Message
		}
		if len(detail) > 500 {
			detail = detail[:500]
		}
		// A server or proxy may echo the request's headers: the key must
		// not reach the run's error or the logs.
		detail = m.redact(detail)
		e := llm.StatusError(hresp.StatusCode, llm.ParseRetryAfter(hresp.Header.Get("Retry-After"), time.Now()),
			fmt.Errorf("openai: HTTP %d: %s", hresp.StatusCode, detail))
		if hresp.StatusCode == http.StatusBadRequest && cr.Error != nil && isContentFilter(cr.Error) {
			e.Reason = llm.ReasonContentFilter
		}
		return nil, e
	}
	if jerr != nil {
		// A 2xx that is not JSON: a proxy in the way, worth another try.
		return nil, &llm.Error{Kind: llm.Transient, Code: hresp.StatusCode, Reason: llm.ReasonUnknown,
			Err: fmt.Errorf("openai: reply is not JSON: %w", jerr)}
	}
	if len(cr.Choices) == 0 {
		return nil, &llm.Error{Kind: llm.Transient, Code: hresp.StatusCode, Reason: llm.ReasonUnknown,
			Err: errors.New("openai: reply has no choices")}
	}
	ch := cr.Choices[0]
	if ch.FinishReason == "content_filter" {
		// The same prompt would be filtered again.
		return nil, &llm.Error{Kind: llm.Permanent, Code: hresp.StatusCode, Reason: llm.ReasonContentFilter,
			Err: errors.New("openai: reply withheld by the content filter")}
	}
	u := llm.Usage{InputTokens: cr.Usage.PromptTokens, OutputTokens: cr.Usage.CompletionTokens, TotalTokens: cr.Usage.TotalTokens,
		CachedInputTokens: cr.Usage.PromptTokensDetails.CachedTokens, ThinkingTokens: cr.Usage.CompletionTokensDetails.ReasoningTokens}
	if u.TotalTokens == 0 {
		u.TotalTokens = u.InputTokens + u.OutputTokens
	}
	return &llm.Response{Text: ch.Message.Content, Model: cr.Model, FinishReason: ch.FinishReason, Usage: u}, nil
}

func isContentFilter(e *apiError) bool {
	code, _ := e.Code.(string)
	return code == "content_filter" || code == "content_policy_violation" ||
		strings.Contains(strings.ToLower(e.Message), "content filter") || strings.Contains(strings.ToLower(e.Message), "content management policy")
}

// redact removes the API key from s.
func (m *Model) redact(s string) string {
	if len(m.apiKey) >= 4 {
		s = strings.ReplaceAll(s, m.apiKey, "[REDACTED]")
	}
	return s
}

// redactURL hides the password of a base URL with userinfo.
func redactURL(u string) string {
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "(unparsable URL)"
}
