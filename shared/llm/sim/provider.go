package sim

import (
	"context"
	"errors"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/provider"
)

// Name is the provider's name in run configs (`provider: sim`); ModelName
// is the model name a reply reports.
const Name = "sim"

// Env is what the simulator needs of the instance it runs in: its options
// (the answer key and the rates), or why this instance cannot run it.
type Env interface {
	SimOptions() (Options, error)
}

// The sim provider: one simulator per instance, playing every model name
// (the request's Purpose picks its role). Its calls cost nothing.
func init() {
	provider.Register(provider.Provider{Name: Name, Free: true, New: func(_ context.Context, env provider.Env) (provider.Models, error) {
		se, ok := env.(Env)
		if !ok {
			return nil, errors.New("sim: this instance does not offer the simulator")
		}
		o, err := se.SimOptions()
		if err != nil {
			return nil, err
		}
		m := New(o)
		return provider.PerModel(func(context.Context, provider.Model) (llm.Generator, error) { return m, nil }), nil
	}})
}
