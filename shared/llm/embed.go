package llm

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/promptml/promptml/shared/logging"
)

// EmbedRequest is one embedding call: one text.
type EmbedRequest struct {
	// Model overrides the provider's default embedding model when set.
	Model string `json:"model,omitempty"`
	// TaskType is the provider's task type (e.g. SEMANTIC_SIMILARITY);
	// empty leaves the provider's default.
	TaskType string `json:"task_type,omitempty"`
	// Dimensions asks for vectors of that length; 0 = the model's own.
	Dimensions int `json:"dimensions,omitempty"`
	// Text is the text to embed.
	Text string `json:"text"`
}

// Embedding is the reply to an EmbedRequest.
type Embedding struct {
	// Values is the embedding vector.
	Values []float32 `json:"values"`
	// Usage is the input tokens the provider reported (0 when it reported
	// none; EmbedClient then meters an estimate).
	Usage Usage `json:"usage"`
	// Cached is true when the vector came from the response cache.
	Cached bool `json:"cached,omitempty"`
}

// EmbedModel is one embedding model: a provider client.
type EmbedModel interface {
	EmbedText(ctx context.Context, req *EmbedRequest) (*Embedding, error)
}

// EmbedClient is the resilient path of embedding calls (the
// semantic_similarity metric), the same as Client's for generation: the
// response cache, the model's limiter, retries of transient errors, and
// usage and cost metering. One text is one call. A provider that reports no
// token count is metered (and paced) at EstimateTokens of the text.
type EmbedClient struct {
	// Next is the provider's embedding model.
	Next EmbedModel
	// Key names the model in the meter and the cache key:
	// "provider/model".
	Key string
	// Model, TaskType and Dimensions are sent with every request (and are
	// part of the cache key).
	Model      string
	TaskType   string
	Dimensions int
	// Limiter paces the model's calls on this instance (nil: no pacing).
	Limiter *Limiter
	// Retry is the transient-error policy.
	Retry Retry
	// Cache stores vectors (nil: no cache).
	Cache Cache
	// CacheMode is CacheOff, CacheRead or CacheReadWrite ("" = off).
	CacheMode string
	// Price prices the paid calls (input tokens only).
	Price Price
	// Meter receives the usage (nil: not counted).
	Meter *Meter
}

// Embed returns one vector per text, in order (the eval.Embedder shape).
func (c *EmbedClient) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		e, err := c.EmbedText(ctx, &EmbedRequest{Model: c.Model, TaskType: c.TaskType, Dimensions: c.Dimensions, Text: t})
		if err != nil {
			return nil, fmt.Errorf("embed %s: %w", c.Key, err)
		}
		out[i] = e.Values
	}
	return out, nil
}

// EmbedText embeds req.Text through the cache, the limiter and the retries.
func (c *EmbedClient) EmbedText(ctx context.Context, req *EmbedRequest) (*Embedding, error) {
	if req == nil {
		return nil, &Error{Kind: Permanent, Reason: ReasonBadRequest, Err: errors.New("nil embed request")}
	}
	var key string
	if c.Cache != nil && (c.CacheMode == CacheRead || c.CacheMode == CacheReadWrite) {
		key = EmbedCacheKey(c.Key, req)
		if e, ok := c.lookup(ctx, key); ok {
			c.Meter.add(c.Key, Tally{CacheHits: 1})
			return e, nil
		}
	}
	est := EstimateTokens(req.Text)
	var out *Embedding
	err := c.Retry.Do(ctx, func(ctx context.Context) error {
		release := func(error, int) {}
		if c.Limiter != nil {
			var err error
			if release, err = c.Limiter.Acquire(ctx, est); err != nil {
				return err
			}
		}
		e, err := c.Next.EmbedText(ctx, req)
		err = Classify(err)
		if err == nil && (e == nil || len(e.Values) == 0) {
			err = &Error{Kind: Transient, Reason: ReasonUnknown, Err: errors.New("empty embedding")}
		}
		used := 0
		if err == nil {
			used = e.Usage.InputTokens
		}
		release(err, used)
		out = e
		return err
	}, func(error) { c.Meter.add(c.Key, Tally{Retries: 1}) })
	if err != nil {
		if !errors.Is(err, context.Canceled) {
			c.Meter.add(c.Key, Tally{Errors: 1})
		}
		return nil, err
	}
	if out.Usage.InputTokens <= 0 {
		// No count from the provider: meter the layer's estimate, so
		// budgets and cost still see the call.
		out.Usage = Usage{InputTokens: est, TotalTokens: est}
	}
	c.Meter.add(c.Key, Tally{Calls: 1, InputTokens: out.Usage.InputTokens, CostUSD: c.Price.Cost(out.Usage)})
	if key != "" && c.CacheMode == CacheReadWrite {
		putCache(ctx, c.Cache, key, c.Key, cachedEmbedding{V: 1, Provider: c.Key, Embedding: *out})
	}
	return out, nil
}

// lookup reads the cache; a failed read is a miss.
func (c *EmbedClient) lookup(ctx context.Context, key string) (*Embedding, bool) {
	b, ok, err := c.Cache.Get(ctx, key)
	if err != nil {
		if ctx.Err() == nil {
			logging.FromContext(ctx).Warn("llm cache read failed", "model", c.Key, "error", err.Error())
		}
		return nil, false
	}
	if !ok {
		return nil, false
	}
	var v cachedEmbedding
	if err := json.Unmarshal(b, &v); err != nil || v.V != 1 || len(v.Embedding.Values) == 0 {
		return nil, false
	}
	e := v.Embedding
	e.Cached = true
	return &e, true
}

// EmbedCacheKey is the content address of an embedding request: SHA-256
// (hex) over the length-prefixed provider, model, task type, dimensions and
// text. It cannot meet a CacheKey: its first field says "embed".
func EmbedCacheKey(provider string, req *EmbedRequest) string {
	h := sha256.New()
	field := func(name, v string) {
		fmt.Fprintf(h, "%s:%d:%s\n", name, len(v), v)
	}
	field("v", "1")
	field("kind", "embed")
	field("provider", provider)
	field("model", req.Model)
	field("task_type", req.TaskType)
	field("dimensions", strconv.Itoa(req.Dimensions))
	field("text", req.Text)
	return sum(h)
}

// cachedEmbedding is the stored form of an embedding.
type cachedEmbedding struct {
	V         int       `json:"v"`
	Provider  string    `json:"provider"`
	Embedding Embedding `json:"embedding"`
}
