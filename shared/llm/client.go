package llm

import (
	"context"
	"encoding/json"
	"errors"
	"unicode/utf8"

	"github.com/promptml/promptml/shared/logging"
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
	var key string
	if c.Cache != nil && (c.CacheMode == CacheRead || c.CacheMode == CacheReadWrite) {
		provider := c.Key
		if c.Endpoint != "" {
			provider += " " + c.Endpoint
		}
		key = CacheKey(provider, req)
		if resp, ok := c.lookup(ctx, key); ok {
			c.Meter.add(c.Key, Tally{CacheHits: 1})
			return resp, nil
		}
	}
	est := EstimateTokens(req.System) + EstimateTokens(req.Prompt) + 256
	if req.MaxOutputTokens > 0 {
		est += min(req.MaxOutputTokens, 1024) - 256
	}
	var resp *Response
	err := c.Retry.Do(ctx, func(ctx context.Context) error {
		release := func(error, int) {}
		if c.Limiter != nil {
			var err error
			if release, err = c.Limiter.Acquire(ctx, est); err != nil {
				return err
			}
		}
		r, err := c.Next.Generate(ctx, req)
		err = Classify(err)
		used := 0
		if r != nil {
			used = r.Usage.InputTokens + r.Usage.OutputTokens
		}
		release(err, used)
		if err == nil && r == nil {
			err = &Error{Kind: Transient, Reason: ReasonUnknown, Err: errors.New("empty reply")}
		}
		resp = r
		return err
	}, func(error) { c.Meter.add(c.Key, Tally{Retries: 1}) })
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			c.Meter.add(c.Key, Tally{Errors: 1})
		}
		return nil, err
	}
	c.Meter.add(c.Key, Tally{Calls: 1, InputTokens: resp.Usage.InputTokens, OutputTokens: resp.Usage.OutputTokens,
		CachedInputTokens: resp.Usage.CachedInputTokens, ThinkingTokens: resp.Usage.ThinkingTokens, CostUSD: c.Price.Cost(resp.Usage)})
	if key != "" && c.CacheMode == CacheReadWrite {
		putCache(ctx, c.Cache, key, c.Key, cached{V: 1, Provider: c.Key, Response: *resp})
	}
	return resp, nil
}

// putCache writes a cache entry. It outlives the caller's cancellation (the
// call was paid for) and a failure is only logged: the cache saves money,
// it is never a reason to fail a call.
func putCache(ctx context.Context, cache Cache, key, model string, entry any) {
	b, err := json.Marshal(entry)
	if err == nil {
		err = cache.Put(context.WithoutCancel(ctx), key, b)
	}
	if err != nil {
		logging.FromContext(ctx).Warn("llm cache write failed", "model", model, "error", err.Error())
	}
}

// lookup reads the cache; a failure to read is a miss (the cache saves
// money, it is never a reason to fail a call).
func (c *Client) lookup(ctx context.Context, key string) (*Response, bool) {
	b, ok, err := c.Cache.Get(ctx, key)
	if err != nil {
		if ctx.Err() != nil {
			return nil, false // the caller gave up; the call will say so
		}
		logging.FromContext(ctx).Warn("llm cache read failed", "model", c.Key, "error", err.Error())
		return nil, false
	}
	if !ok {
		return nil, false
	}
	var v cached
	if err := json.Unmarshal(b, &v); err != nil || v.V != 1 {
		return nil, false
	}
	resp := v.Response
	resp.Cached = true
	return &resp, true
}
