package serverenv

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/provider"
	"github.com/promptml/promptml/shared/llm/sim"
	"github.com/promptml/promptml/shared/llm/vertex"
	"github.com/promptml/promptml/shared/pipeline"

	// The openai provider registers itself; vertex and sim are imported
	// above for their names and options.
	_ "github.com/promptml/promptml/shared/llm/openai"
)

// The instance as the providers see it.
var (
	_ provider.Env = (*Env)(nil)
	_ sim.Env      = (*Env)(nil)
)

// Model returns the model a run config names, building its client once
// (provider.Set).
func (e *Env) Model(ctx context.Context, m config.Model) (pipeline.Generator, error) {
	e.modelsOnce.Do(func() { e.models = provider.NewSet(e) })
	key, err := apiKey(m)
	if err != nil {
		return nil, fmt.Errorf("serverenv.Model: %w", err)
	}
	g, err := e.models.Model(ctx, m.Provider, provider.Model{Name: m.Name, BaseURL: m.BaseURL, APIKey: key})
	if err != nil {
		return nil, fmt.Errorf("serverenv.Model: %w", err)
	}
	return g, nil
}

// apiKey is the key of an endpoint model, read from the instance's
// variable its api_key_env names ("" when it names none).
func apiKey(m config.Model) (string, error) {
	if m.APIKeyEnv == "" {
		return "", nil
	}
	key := os.Getenv(m.APIKeyEnv)
	if key == "" {
		return "", fmt.Errorf("api_key_env names %s, which is not set on this function", m.APIKeyEnv)
	}
	return key, nil
}

// Project implements provider.Env.
func (e *Env) Project() string { return e.Config.Project }

// Location implements provider.Env.
func (e *Env) Location() string { return e.Config.Location }

// SimOptions implements sim.Env: the simulator's answer key is the
// datasets bucket itself, never the pipeline's own calls
// (docs/simulator.md).
func (e *Env) SimOptions() (sim.Options, error) {
	if e.Config.LLMProvider != sim.Name {
		// The deployed RunBatch and Aggregate may not read the datasets
		// bucket (least privilege): the simulator is a local-cloud
		// provider.
		return sim.Options{}, fmt.Errorf("the %s provider runs only on the local cloud; this deployment uses %s (set primary.provider and optimizer.model.provider to %s)",
			sim.Name, e.Config.LLMProvider, e.Config.LLMProvider)
	}
	return sim.Options{
		Key:        sim.NewBucketKey(e.Storage, e.Config.DatasetsBucket, 2*time.Second),
		WrongRate:  simWrongRate(e.Config.SimWrongRate),
		Seed:       e.Config.SimSeed,
		Latency:    e.Config.SimLatency,
		ErrorRate:  e.Config.SimErrorRate,
		RetryAfter: e.Config.SimRetryAfter,
	}, nil
}

// simWrongRate maps our 0 ("never wrong") to the simulator's "never"
// (negative); the simulator reads 0 as "its default".
func simWrongRate(r float64) float64 {
	if r == 0 {
		return -1
	}
	return r
}

// lazyEmbedder builds the Vertex AI embedder on first use, so instances
// whose runs never use semantic_similarity never build it.
type lazyEmbedder struct {
	env  *Env
	mu   sync.Mutex
	next *vertex.Embedder
}

// EmbedText implements llm.EmbedModel.
func (l *lazyEmbedder) EmbedText(ctx context.Context, req *llm.EmbedRequest) (*llm.Embedding, error) {
	l.mu.Lock()
	if l.next == nil {
		next, err := vertex.NewEmbedder(ctx, vertex.Options{Project: l.env.Config.Project,
			Location: l.env.Config.Location, Model: l.env.Config.EmbeddingModel})
		if err != nil {
			l.mu.Unlock()
			return nil, fmt.Errorf("serverenv: embedding client: %w", err)
		}
		l.next = next
	}
	next := l.next
	l.mu.Unlock()
	return next.EmbedText(ctx, req)
}
