package eval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"golang.org/x/sync/singleflight"
	"google.golang.org/genai"

	"github.com/promptml/promptml/shared/llm"
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

// GenAIEmbedder embeds texts with a text-embedding model (e.g.
// "text-embedding-005" on Vertex AI) through google.golang.org/genai.
type GenAIEmbedder struct {
	client *genai.Client
	model  string
	// TaskType is sent with each request; SEMANTIC_SIMILARITY by default.
	TaskType string
}

// NewGenAIEmbedder returns an embedder calling model through client.
func NewGenAIEmbedder(client *genai.Client, model string) *GenAIEmbedder {
	return &GenAIEmbedder{client: client, model: model, TaskType: "SEMANTIC_SIMILARITY"}
}

// Embed implements Embedder with one EmbedContent call per text: Gemini
// embedding models on Vertex AI accept a single content per call, and the
// cache in front makes calls per text rare anyway.
func (e *GenAIEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for _, t := range texts {
		r, err := e.EmbedText(ctx, &llm.EmbedRequest{Text: t})
		if err != nil {
			return nil, err
		}
		out = append(out, r.Values)
	}
	return out, nil
}

// EmbedText implements llm.EmbedModel: one EmbedContent call, with the
// token count Vertex AI reports in the embedding's statistics (0 when it
// reports none). req.Model and req.TaskType override the embedder's.
func (e *GenAIEmbedder) EmbedText(ctx context.Context, req *llm.EmbedRequest) (*llm.Embedding, error) {
	model, task := e.model, e.TaskType
	if req.Model != "" {
		model = req.Model
	}
	if req.TaskType != "" {
		task = req.TaskType
	}
	cfg := &genai.EmbedContentConfig{TaskType: task}
	if req.Dimensions > 0 {
		d := int32(req.Dimensions)
		cfg.OutputDimensionality = &d
	}
	resp, err := e.client.Models.EmbedContent(ctx, model, genai.Text(req.Text), cfg)
	if err != nil {
		return nil, fmt.Errorf("genai EmbedContent(%s): %w", model, err)
	}
	if len(resp.Embeddings) != 1 || resp.Embeddings[0] == nil || len(resp.Embeddings[0].Values) == 0 {
		return nil, fmt.Errorf("genai EmbedContent(%s): got %d embeddings for 1 text", model, len(resp.Embeddings))
	}
	out := &llm.Embedding{Values: resp.Embeddings[0].Values}
	if st := resp.Embeddings[0].Statistics; st != nil && st.TokenCount > 0 {
		n := int(st.TokenCount)
		out.Usage = llm.Usage{InputTokens: n, TotalTokens: n}
	}
	return out, nil
}
