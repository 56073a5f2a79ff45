package openai

import (
	"context"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/provider"
)

// Name is the provider's name in run configs (`provider: openai`).
const Name = "openai"

// The openai provider: one Model per (endpoint, model, key). Its models
// name their endpoint (base_url) and the key comes from the instance.
func init() {
	provider.Register(provider.Provider{Name: Name, Endpoint: true, New: func(context.Context, provider.Env) (provider.Models, error) {
		return provider.PerModel(func(_ context.Context, m provider.Model) (llm.Generator, error) {
			g, err := New(Options{BaseURL: m.BaseURL, Model: m.Name, APIKey: m.APIKey})
			if err != nil {
				return nil, err
			}
			return g, nil
		}), nil
	}})
}
