package llm

import (
	"context"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Generator is one model: a provider client (vertex, openai, sim).
type Generator interface {
	Generate(ctx context.Context, req *Request) (*Response, error)
}

// Client is the resilient path of every model call — primary, optimizer,
// judge: the response cache, the model's limiter, retries of transient
// errors, and usage and cost metering, in that order. Errors come out
// classified (*Error, or a canceled context). A Client is cheap: build one
// per unit of accounting around the instance's shared Limiter and Cache.
type Client struct {
	// Next is the provider's model.
	Next Generator
	// Key names the model in the meter and in the cache key:
	// "provider/model".
	Key string
	// Endpoint is where the provider is reached when Key does not imply it
	// (an openai base URL): part of the cache key, so two servers that
	// answer to the same model name never share replies.
	Endpoint string
	// Limiter paces the model's calls on this instance (nil: no pacing).
	Limiter *Limiter
	// Retry is the transient-error policy.
	Retry Retry
	// Cache stores replies (nil: no cache).
	Cache Cache
	// CacheMode is CacheOff, CacheRead or CacheReadWrite ("" = off).
	CacheMode string
	// Flights marks the instance's calls in flight by cache key (nil:
	// none), so a duplicate concurrent call waits for the reply to be
	// cached instead of paying again.
	Flights *Flights
	// Price prices the paid calls.
	Price Price
	// Meter receives the usage (nil: not counted).
	Meter *Meter
}

// EstimateTokens is the rule of thumb used to reserve tokens and to
// estimate runs: a quarter of the characters, rounded up.
func EstimateTokens(s string) int { return (utf8.RuneCountInString(s) + 3) / 4 }

// Generate answers req through the cache, the limiter and the retries.
func (c *Client) Generate(ctx context.Context, req *Request) (*Response, error) {
	if req == nil {
		return nil, &Error{Kind: Permanent, Reason: ReasonBadRequest, Err: errors.New("nil request")}
	}
	provider := c.Key
	if c.Endpoint != "" {
		provider += " " + c.Endpoint
	}
	call := Chain(c.Next.Generate,
		Metered(Generation, c.Key, c.Price, c.Meter),
		Cached(Generation, c.Cache, c.CacheMode, provider, c.Flights),
		Retried(Generation, c.Retry, c.Key, c.Meter),
		Limited(Generation, c.Limiter))
	return call(ctx, req)
}

// Generation is the CallKind of generation calls.
var Generation CallKind[*Request, *Response] = generation{}

type generation struct{}

func (generation) cacheKey(provider string, req *Request) string { return CacheKey(provider, req) }

func (generation) estimate(req *Request) int {
	est := EstimateTokens(req.System) + EstimateTokens(req.Prompt) + 256
	if req.MaxOutputTokens > 0 {
		est += min(req.MaxOutputTokens, 1024) - 256
	}
	return est
}

func (generation) check(r *Response, err error) (int, error) {
	used := 0
	if r != nil {
		used = r.Usage.InputTokens + r.Usage.OutputTokens
	}
	if err == nil && r == nil {
		err = &Error{Kind: Transient, Reason: ReasonUnknown, Err: errors.New("empty reply")}
	}
	return used, err
}

func (generation) fill(_ *Request, r *Response) *Response { return r }

func (generation) tally(r *Response, price Price) Tally {
	return Tally{Calls: 1, InputTokens: r.Usage.InputTokens, OutputTokens: r.Usage.OutputTokens,
		CachedInputTokens: r.Usage.CachedInputTokens, ThinkingTokens: r.Usage.ThinkingTokens, CostUSD: price.Cost(r.Usage)}
}

func (generation) cached(r *Response) bool { return r.Cached }

func (generation) role(req *Request) string { return req.Purpose }

func (generation) encode(provider string, r *Response) any {
	return cached{V: 1, Provider: provider, Response: *r}
}

func (generation) decode(b []byte) (*Response, bool) {
	var v cached
	if err := json.Unmarshal(b, &v); err != nil || v.V != 1 {
		return nil, false
	}
	resp := v.Response
	resp.Cached = true
	return &resp, true
}
