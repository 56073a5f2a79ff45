package vertex

import (
	"context"
	"fmt"

	"google.golang.org/genai"

	"github.com/promptml/promptml/shared/llm"
)

// Embedder embeds texts with a Vertex AI text-embedding model (e.g.
// "text-embedding-005"): the embedding model of the semantic_similarity
// metric. It is safe for concurrent use; build one per instance.
type Embedder struct {
	client *genai.Client
	model  string
	// TaskType is sent with each request; SEMANTIC_SIMILARITY by default.
	TaskType string
}

// NewEmbedder builds the genai client once for opts, whose Model is the
// embedding model. Like New, it does not call the API.
func NewEmbedder(ctx context.Context, opts Options) (*Embedder, error) {
	client, err := newClient(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Embedder{client: client, model: opts.Model, TaskType: "SEMANTIC_SIMILARITY"}, nil
}

// Embed embeds each text with one EmbedContent call (eval.Embedder):
// Gemini embedding models on Vertex AI accept a single content per call,
// and the cache in front makes calls per text rare anyway.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
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
// Failures are classified like a generation's (*llm.Error), so the
// pipeline retries only what may succeed later.
func (e *Embedder) EmbedText(ctx context.Context, req *llm.EmbedRequest) (*llm.Embedding, error) {
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
		return nil, classify(fmt.Errorf("genai EmbedContent(%s): %w", model, err))
	}
	if len(resp.Embeddings) != 1 || resp.Embeddings[0] == nil || len(resp.Embeddings[0].Values) == 0 {
		return nil, classify(fmt.Errorf("genai EmbedContent(%s): got %d embeddings for 1 text", model, len(resp.Embeddings)))
	}
	out := &llm.Embedding{Values: resp.Embeddings[0].Values}
	if st := resp.Embeddings[0].Statistics; st != nil && st.TokenCount > 0 {
		n := int(st.TokenCount)
		out.Usage = llm.Usage{InputTokens: n, TotalTokens: n}
	}
	return out, nil
}
