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
	return llm.Retry{Attempts: p.cfg.LLMRetries + 1, Base: p.cfg.RetryBase}
}

// model returns the one path of a call to model m for a run (llm.Client:
// the meter of the context, the response cache in the run's mode, the
// retries, the instance's limiter for the model), at the run's price.
func (p *Pipeline) model(ctx context.Context, cfg config.Run, m config.Model) (*llm.Client, error) {
	g, err := p.models.Model(ctx, m)
	if err != nil {
		return nil, err
	}
	// Two openai servers answering to one model name have a quota each.
	lim := m.Key()
	if m.BaseURL != "" {
		lim += " " + m.BaseURL
	}
	c := &llm.Client{Next: g, Key: m.Key(), Endpoint: m.BaseURL, Limiter: p.limiters.Get(lim, m.Limits()), Retry: p.retryPolicy(),
		CacheMode: llm.CacheOff, Price: cfg.Price(m)}
	if p.cache != nil {
		c.Cache, c.CacheMode, c.Flights = p.cache, cfg.Cache, &p.flights
	}
	return c, nil
}

// metric builds the run's metric; the judge of llm_judge is the optimizer
// model, the embedder of semantic_similarity the instance's embedding
// model. Both go through the same path as the primary and are metered by
// the context's meter (the batch's).
func (p *Pipeline) metric(ctx context.Context, cfg config.Run) (eval.Metric, error) {
	judge, err := p.model(ctx, cfg, cfg.Optimizer.Model)
	if err != nil {
		return nil, err
	}
	var emb eval.Embedder
	if e := p.embeddings(cfg); e != nil {
		emb = e
	}
	return eval.Build(cfg.Metrics, eval.Deps{Judge: judge, Embedder: emb})
}

// embeddings returns the semantic_similarity embedder of a run: the
// instance's in-memory cache in front of the same call path as a
// generation (llm.EmbedClient). nil when the instance has no embedding
// model.
func (p *Pipeline) embeddings(cfg config.Run) *eval.CachedEmbedder {
	if p.embedder == nil {
		return nil
	}
	p.embedOnce.Do(func() { p.embedMemo = eval.NewCachedEmbedder(nil, embedMemoSize) })
	m := p.cfg.EmbeddingModel
	c := &llm.EmbedClient{Next: p.embedder, Key: m.Key(), TaskType: "SEMANTIC_SIMILARITY",
		Limiter: p.limiters.Get(m.Key(), m.Limits()), Retry: p.retryPolicy(), CacheMode: llm.CacheOff, Price: cfg.Price(m)}
	if p.cache != nil {
		c.Cache, c.CacheMode = p.cache, cfg.Cache
	}
	return p.embedMemo.Via(c)
}

// embedMemoSize bounds the instance's in-memory embeddings (texts).
const embedMemoSize = 100000

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
