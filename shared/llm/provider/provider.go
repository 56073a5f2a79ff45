// Package provider is the registry of model providers. Each provider
// package registers itself in init (shared/llm/vertex, shared/llm/openai,
// shared/llm/sim): its name, the one place that name is written; what the
// models of a run config need to name it; and its constructor. The run
// config accepts only registered names (shared/config validates against
// Lookup and Names), and a function instance builds its models through a
// Set. A program links the providers it offers: shared/serverenv links all
// three.
package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/promptml/promptml/shared/llm"
)

// Model is what a provider builds a model from: the run config's model,
// with the key of its endpoint resolved by the instance.
type Model struct {
	// Name is the model name, e.g. "gemini-2.5-flash".
	Name string
	// BaseURL is the endpoint of an Endpoint provider ("" otherwise).
	BaseURL string
	// APIKey is the endpoint's key ("" for none).
	APIKey string
}

// Env is the function instance a provider is built in. A provider that
// needs more than the Google Cloud project and location declares an
// interface of its own and asserts it (the simulator: sim.Env).
type Env interface {
	// Project is the Google Cloud project that runs the calls.
	Project() string
	// Location is the Vertex AI location of the calls.
	Location() string
}

// Models are one provider's models in one instance.
type Models interface {
	// Model returns the model m names, building its client at most once.
	// It is safe for concurrent use.
	Model(ctx context.Context, m Model) (llm.Generator, error)
}

// Provider is a registered provider.
type Provider struct {
	// Name is what a run config writes in `provider`.
	Name string
	// Endpoint means the provider's models name an OpenAI-compatible
	// endpoint: a run config gives them a base_url (required) and may name
	// an api_key_env; the models of other providers set neither.
	Endpoint bool
	// Free means the provider's calls cost nothing (the simulator): a usd
	// budget needs no price for its models.
	Free bool
	// Catalog means the provider's model names are those of the dated
	// model catalog (shared/config/models.yaml, Gemini on Vertex AI): the
	// run config checks a model's thinking level against it.
	Catalog bool
	// New builds the provider's models for one instance; a Set calls it
	// on the first model of the provider a run asks for.
	New func(ctx context.Context, env Env) (Models, error)
}

var (
	mu       sync.RWMutex
	registry = map[string]Provider{}
)

// Register adds a provider; its package calls it in init. It panics on a
// name registered twice or a provider without a name or a constructor (a
// programming error, found at init).
func Register(p Provider) {
	if p.Name == "" || p.New == nil {
		panic(fmt.Sprintf("provider: Register(%q) needs a name and a constructor", p.Name))
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := registry[p.Name]; dup {
		panic("provider: registered twice: " + p.Name)
	}
	registry[p.Name] = p
}

// Lookup returns the registered provider of that name.
func Lookup(name string) (Provider, bool) {
	mu.RLock()
	defer mu.RUnlock()
	p, ok := registry[name]
	return p, ok
}

// Names returns the names of the registered providers for which keep is
// true (all of them when keep is nil), sorted.
func Names(keep func(Provider) bool) []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(registry))
	for n, p := range registry {
		if keep == nil || keep(p) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// Unknown says that name is not a registered provider, naming those that
// are.
func Unknown(name string) string {
	names := Names(nil)
	if len(names) == 0 {
		// A program that validates configs without linking a provider:
		// a build mistake, said as such.
		return fmt.Sprintf("must be a registered provider, got %q (none is registered: the program links no shared/llm provider)", name)
	}
	return fmt.Sprintf("must be one of %s, got %q", strings.Join(names, ", "), name)
}

// Set is the providers of one function instance: each built once, on the
// first model of it a run asks for, then reused. A failed build is not
// kept, so the next request tries again.
type Set struct {
	env   Env
	mu    sync.Mutex
	built map[string]Models
}

// NewSet returns the providers of the instance env describes.
func NewSet(env Env) *Set {
	return &Set{env: env, built: map[string]Models{}}
}

// Model returns the model m of the named provider.
func (s *Set) Model(ctx context.Context, name string, m Model) (llm.Generator, error) {
	p, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("provider %s", Unknown(name))
	}
	s.mu.Lock()
	models, ok := s.built[name]
	if !ok {
		var err error
		if models, err = p.New(ctx, s.env); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		s.built[name] = models
	}
	s.mu.Unlock()
	return models.Model(ctx, m)
}

// PerModel returns Models that build each distinct Model once with build
// and reuse it: a model holds its HTTP client and connections.
func PerModel(build func(ctx context.Context, m Model) (llm.Generator, error)) Models {
	return &perModel{build: build, models: map[Model]llm.Generator{}}
}

type perModel struct {
	build  func(ctx context.Context, m Model) (llm.Generator, error)
	mu     sync.Mutex
	models map[Model]llm.Generator
}

func (p *perModel) Model(ctx context.Context, m Model) (llm.Generator, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if g, ok := p.models[m]; ok {
		return g, nil
	}
	g, err := p.build(ctx, m)
	if err != nil {
		return nil, err
	}
	p.models[m] = g
	return g, nil
}
