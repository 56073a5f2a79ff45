package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"golang.org/x/sync/singleflight"
)

func init() { register("semantic_similarity", newSemantic) }

// semantic scores the cosine similarity of the two texts' embeddings.
type semantic struct {
	base
	emb    *CachedEmbedder // nil when Deps had no Embedder
	linear bool
}

// newSemantic: options rescale (clip: max(0, cosine), the default; or
// linear: (cosine+1)/2), threshold (0.8). The embedding model is the one the
// pipeline's Embedder was built with.
func newSemantic(o *options, deps Deps) Metric {
	m := &semantic{
		base:   base{name: "semantic_similarity", threshold: 0.8},
		linear: o.oneOf("rescale", "clip", "clip", "linear") == "linear",
	}
	if deps.Embedder != nil {
		// Reuse the caller's cache if it gave us one, so a cache held for a
		// whole run survives Build being called per batch.
		if c, ok := deps.Embedder.(*CachedEmbedder); ok {
			m.emb = c
		} else {
			m.emb = NewCachedEmbedder(deps.Embedder, defaultEmbedCacheSize)
		}
	}
	return m
}

// Score implements Metric. Two empty texts score 1 and one empty text 0
// without a call (an embedding of nothing is undefined).
func (m *semantic) Score(ctx context.Context, prediction, reference string) (Score, error) {
	if prediction == "" || reference == "" {
		return Score{Value: boolScore(prediction == reference)}, nil
	}
	if m.emb == nil {
		return Score{}, errors.New("semantic_similarity: no embedder configured (Deps.Embedder is nil)")
	}
	vs, err := m.emb.Embed(ctx, []string{prediction, reference})
	if err != nil {
		return Score{}, fmt.Errorf("semantic_similarity: %w", err)
	}
	cos, err := cosine(vs[0], vs[1])
	if err != nil {
		return Score{}, fmt.Errorf("semantic_similarity: %w", err)
	}
	v := math.Max(0, cos)
	if m.linear {
		v = (cos + 1) / 2
	}
	return Score{Value: clamp01(v), Explanation: fmt.Sprintf("cosine %.4f", cos)}, nil
}

func cosine(a, b []float32) (float64, error) {
	if len(a) != len(b) || len(a) == 0 {
		return 0, fmt.Errorf("embeddings of lengths %d and %d", len(a), len(b))
	}
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0, errors.New("zero embedding vector")
	}
	return dot / math.Sqrt(na*nb), nil
}

// defaultEmbedCacheSize bounds the cache a metric builds for itself: a run's
// distinct references and predictions, not an unbounded warm-instance leak.
const defaultEmbedCacheSize = 50000

// CachedEmbedder embeds each distinct text once: later requests for the same
// text are served from memory, and concurrent requests for it share one call.
// It is safe for concurrent use. Hold one per run and pass it as
// Deps.Embedder to share it across Build calls.
type CachedEmbedder struct {
	next Embedder
	*memo
}

// memo is the state CachedEmbedder views share.
type memo struct {
	max   int
	group singleflight.Group

	mu    sync.Mutex
	cache map[string][]float32
	calls int
}

// NewCachedEmbedder wraps next with a cache of at most maxEntries texts
// (when full it is cleared: a run rarely gets there, and a simple reset keeps
// memory bounded without an LRU).
func NewCachedEmbedder(next Embedder, maxEntries int) *CachedEmbedder {
	return &CachedEmbedder{next: next, memo: &memo{max: maxEntries, cache: map[string][]float32{}}}
}

// Via returns a view of c that shares its cache (and its in-flight calls)
// but sends misses to next: an instance keeps one cache while each batch
// embeds through a client metering into that batch's usage. A text that
// another view is embedding is not embedded (nor paid) again.
func (c *CachedEmbedder) Via(next Embedder) *CachedEmbedder {
	return &CachedEmbedder{next: next, memo: c.memo}
}

// Calls returns how many texts were sent to the wrapped embedders.
func (c *CachedEmbedder) Calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls
}

// Embed implements Embedder.
func (c *CachedEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		c.mu.Lock()
		v, ok := c.cache[t]
		c.mu.Unlock()
		if ok {
			out[i] = v
			continue
		}
		r, err, _ := c.group.Do(t, func() (any, error) {
			vs, err := c.next.Embed(ctx, []string{t})
			if err != nil {
				return nil, err
			}
			if len(vs) != 1 {
				return nil, fmt.Errorf("embedder returned %d vectors for 1 text", len(vs))
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			c.calls++
			if len(c.cache) >= c.max {
				clear(c.cache)
			}
			c.cache[t] = vs[0]
			return vs[0], nil
		})
		if err != nil {
			return nil, err
		}
		out[i] = r.([]float32)
	}
	return out, nil
}
