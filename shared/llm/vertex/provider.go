package vertex

import (
	"context"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/provider"
)

// Name is the provider's name in run configs (`provider: vertex`).
const Name = "vertex"

// The vertex provider: one Model per model name, in the instance's
// project and location; its models are the dated catalog's
// (shared/config/models.yaml).
func init() {
	provider.Register(provider.Provider{Name: Name, Catalog: true, New: func(_ context.Context, env provider.Env) (provider.Models, error) {
		project, location := env.Project(), env.Location()
		return provider.PerModel(func(ctx context.Context, m provider.Model) (llm.Generator, error) {
			g, err := New(ctx, Options{Project: project, Location: location, Model: m.Name})
			if err != nil {
				return nil, err
			}
			return g, nil
		}), nil
	}})
}
