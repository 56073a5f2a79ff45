package serverenv

import (
	"context"
	"fmt"
	"os"
	"slices"
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
	key, err := e.endpointKey(m)
	if err != nil {
		return nil, fmt.Errorf("serverenv.Model: %w", err)
	}
	// One client per endpoint, however a run spells its URL.
	g, err := e.models.Model(ctx, m.Provider, provider.Model{Name: m.Name, BaseURL: config.NormalizeBaseURL(m.BaseURL), APIKey: key})
	if err != nil {
		return nil, fmt.Errorf("serverenv.Model: %w", err)
	}
	return g, nil
}

// endpointKey is the key of an endpoint model ("" for none), from the
// deployment's endpoint list, never from the run config: a key is only
// ever sent to the endpoint it belongs to. The intake refused configs
// outside the allowlist; this refuses them again for a run started before
// the allowlist changed.
func (e *Env) endpointKey(m config.Model) (string, error) {
	if p, _ := provider.Lookup(m.Provider); !p.Endpoint {
		return "", nil
	}
	ep, listed := e.allow.Endpoint(m.BaseURL)
	if e.allow.Restricted() && (!listed || !slices.Contains(e.allow.Providers, m.Provider)) {
		return "", fmt.Errorf("%s endpoint %s is not allowed in this deployment (terraform openai_endpoints)", m.Provider, m.BaseURL)
	}
	if ep.APIKeyEnv == "" {
		return "", nil
	}
	key := os.Getenv(ep.APIKeyEnv)
	if key == "" {
		return "", fmt.Errorf("the key of %s endpoint %s (%s) is not set on this function: is its secret readable?", m.Provider, m.BaseURL, ep.APIKeyEnv)
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
			Location: l.env.Config.EmbeddingLocation, Model: l.env.Config.EmbeddingModel})
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
