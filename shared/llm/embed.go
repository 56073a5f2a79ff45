package llm

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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
	call := Chain(c.Next.EmbedText,
		Metered(Embeddings, c.Key, c.Price, c.Meter),
		Cached(Embeddings, c.Cache, c.CacheMode, c.Key, nil),
		Retried(Embeddings, c.Retry, c.Key, c.Meter),
		Limited(Embeddings, c.Limiter))
	return call(ctx, req)
}

// Embeddings is the CallKind of embedding calls.
var Embeddings CallKind[*EmbedRequest, *Embedding] = embedding{}

type embedding struct{}

func (embedding) cacheKey(provider string, req *EmbedRequest) string {
	return EmbedCacheKey(provider, req)
}

func (embedding) estimate(req *EmbedRequest) int { return EstimateTokens(req.Text) }

func (embedding) check(e *Embedding, err error) (int, error) {
	if err == nil && (e == nil || len(e.Values) == 0) {
		err = &Error{Kind: Transient, Reason: ReasonUnknown, Err: errors.New("empty embedding")}
	}
	if err != nil {
		return 0, err
	}
	return e.Usage.InputTokens, nil
}

// fill meters an embedding the provider reported no count for at the
// estimate, so budgets and cost still see the call.
func (embedding) fill(req *EmbedRequest, e *Embedding) *Embedding {
	if e.Usage.InputTokens <= 0 {
		est := EstimateTokens(req.Text)
		e.Usage = Usage{InputTokens: est, TotalTokens: est}
	}
	return e
}

func (embedding) tally(e *Embedding, price Price) Tally {
	return Tally{Calls: 1, InputTokens: e.Usage.InputTokens, CostUSD: price.Cost(e.Usage)}
}

func (embedding) cached(e *Embedding) bool { return e.Cached }

func (embedding) role(*EmbedRequest) string { return "embedding" }

func (embedding) encode(provider string, e *Embedding) any {
	return cachedEmbedding{V: 1, Provider: provider, Embedding: *e}
}

func (embedding) decode(b []byte) (*Embedding, bool) {
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
