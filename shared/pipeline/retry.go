package pipeline

import (
	"context"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/store"
)

// retryPolicy is the transient-error policy of every model call.
func (p *Pipeline) retryPolicy() llm.Retry {
	tries := p.LLMRetries
	if tries <= 0 {
		tries = 3
	}
	return llm.Retry{Attempts: tries + 1, Base: p.RetryBase}
}

// model returns the resilient path to model m for a run: the instance's
// limiter for the model, the retries, the response cache in the run's mode
// and the run's price. meter receives the usage (nil: not counted).
func (p *Pipeline) model(ctx context.Context, cfg config.Run, m config.Model, meter *llm.Meter) (*llm.Client, error) {
	g, err := p.Models.Model(ctx, m)
	if err != nil {
		return nil, err
	}
	// Two openai servers answering to one model name have a quota each.
	lim := m.Key()
	if m.BaseURL != "" {
		lim += " " + m.BaseURL
	}
	c := &llm.Client{Next: g, Key: m.Key(), Endpoint: m.BaseURL, Limiter: p.limiters.Get(lim, m.Limits()), Retry: p.retryPolicy(),
		CacheMode: llm.CacheOff, Price: cfg.Price(m), Meter: meter}
	if p.Cache != nil {
		c.Cache, c.CacheMode = p.Cache, cfg.Cache
	}
	return c, nil
}

// metered counts the usage of a model's calls into usage (one proposal at
// a time: no locking). The model is an *llm.Client, which already
// retries; metered gives each call a meter of its own.
type metered struct {
	g     Generator
	usage *store.Usage
}

func (r metered) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	g := r.g
	var m *llm.Meter
	if r.usage != nil {
		m = &llm.Meter{}
		g = meterOn(g, m)
	}
	resp, err := g.Generate(ctx, req)
	if m != nil {
		*r.usage = r.usage.Add(usageOf(m.Total()))
	}
	return resp, err
}

// meterOn returns g metering into m: a copy of the *llm.Client it is or
// wraps. Other models are returned as they are (not metered).
func meterOn(g Generator, m *llm.Meter) Generator {
	switch x := g.(type) {
	case *llm.Client:
		c := *x
		c.Meter = m
		return &c
	}
	return g
}

// usageOf converts a meter's tally to the stored usage.
func usageOf(t llm.Tally) store.Usage {
	return store.Usage{Calls: t.Calls, InputTokens: t.InputTokens, OutputTokens: t.OutputTokens, Errors: t.Errors,
		CacheHits: t.CacheHits, CostUSD: t.CostUSD, CachedInputTokens: t.CachedInputTokens, ThinkingTokens: t.ThinkingTokens}
}

// usageByModel converts a meter's tallies by model key.
func usageByModel(m *llm.Meter) map[string]store.Usage {
	by := m.ByModel()
	if len(by) == 0 {
		return nil
	}
	out := make(map[string]store.Usage, len(by))
	for k, t := range by {
		out[k] = usageOf(t)
	}
	return out
}

// addByModel adds b into a (allocating a when nil) and returns it.
func addByModel(a, b map[string]store.Usage) map[string]store.Usage {
	if len(b) == 0 {
		return a
	}
	if a == nil {
		a = make(map[string]store.Usage, len(b))
	}
	for k, u := range b {
		a[k] = a[k].Add(u)
	}
	return a
}

// embedder returns the semantic_similarity embedder of a batch: the
// instance's in-memory cache in front of an llm.EmbedClient (response
// cache, limiter, retries) metering into meter. nil when the instance has
// no embedding model.
func (p *Pipeline) embedder(cfg config.Run, meter *llm.Meter) *eval.CachedEmbedder {
	if p.Embedder == nil {
		return nil
	}
	p.embedOnce.Do(func() { p.embedMemo = eval.NewCachedEmbedder(nil, embedMemoSize) })
	m := p.EmbeddingModel
	if m.Name == "" {
		m.Provider, m.Name = "embedding", "default" // unnamed: still metered
	}
	c := &llm.EmbedClient{Next: p.Embedder, Key: m.Key(), TaskType: "SEMANTIC_SIMILARITY",
		Limiter: p.limiters.Get(m.Key(), m.Limits()), Retry: p.retryPolicy(), CacheMode: llm.CacheOff,
		Price: cfg.Price(m), Meter: meter}
	if p.Cache != nil {
		c.Cache, c.CacheMode = p.Cache, cfg.Cache
	}
	return p.embedMemo.Via(c)
}

// embedMemoSize bounds the instance's in-memory embeddings (texts).
const embedMemoSize = 100000
