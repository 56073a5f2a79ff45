package provider

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/llm"
)

// withRegistry runs the test against its own registry.
func withRegistry(t *testing.T, ps ...Provider) {
	t.Helper()
	mu.Lock()
	saved := registry
	registry = map[string]Provider{}
	mu.Unlock()
	t.Cleanup(func() {
		mu.Lock()
		registry = saved
		mu.Unlock()
	})
	for _, p := range ps {
		Register(p)
	}
}

// echo is a model that answers its own name.
type echo struct{ name string }

func (e *echo) Generate(context.Context, *llm.Request) (*llm.Response, error) {
	return &llm.Response{Text: e.name}, nil
}

type env struct{}

func (env) Project() string  { return "p" }
func (env) Location() string { return "l" }

func TestNames(t *testing.T) {
	noModels := func(context.Context, Env) (Models, error) { return nil, errors.New("unused") }
	withRegistry(t, Provider{Name: "zeta", New: noModels}, Provider{Name: "alpha", Endpoint: true, New: noModels})
	if diff := cmp.Diff([]string{"alpha", "zeta"}, Names(nil)); diff != "" {
		t.Errorf("Names(nil) (-want +got):\n%s", diff)
	}
	endpoint := Names(func(p Provider) bool { return p.Endpoint })
	if diff := cmp.Diff([]string{"alpha"}, endpoint); diff != "" {
		t.Errorf("endpoint providers (-want +got):\n%s", diff)
	}
	if got, want := Unknown("x"), `must be one of alpha, zeta, got "x"`; got != want {
		t.Errorf("Unknown = %q, want %q", got, want)
	}
	if _, ok := Lookup("alpha"); !ok {
		t.Error("Lookup(alpha) found nothing")
	}
}

func TestUnknownWithoutProviders(t *testing.T) {
	withRegistry(t)
	if got := Unknown("sim"); !strings.Contains(got, "none is registered") {
		t.Errorf("Unknown = %q, want it to say that no provider is linked", got)
	}
}

// A Set builds a provider once, on its first model, keeps no failed build,
// and PerModel builds each distinct model once.
func TestSet(t *testing.T) {
	builds, models := 0, 0
	fail := true
	withRegistry(t, Provider{Name: "fake", New: func(_ context.Context, e Env) (Models, error) {
		builds++
		if fail {
			return nil, errors.New("not yet")
		}
		if e.Project() != "p" {
			t.Errorf("provider built with project %q", e.Project())
		}
		return PerModel(func(_ context.Context, m Model) (llm.Generator, error) {
			models++
			return &echo{m.Name}, nil
		}), nil
	}})
	s := NewSet(env{})
	ctx := t.Context()
	if _, err := s.Model(ctx, "fake", Model{Name: "a"}); err == nil {
		t.Fatal("a failing build returned a model")
	}
	fail = false
	a1, err := s.Model(ctx, "fake", Model{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := s.Model(ctx, "fake", Model{Name: "a"})
	b, _ := s.Model(ctx, "fake", Model{Name: "b"})
	if a1 != a2 || a1 == b {
		t.Error("PerModel did not reuse model a, or served a for b")
	}
	if builds != 2 || models != 2 {
		t.Errorf("%d provider builds and %d model builds, want 2 (one failed) and 2", builds, models)
	}
	_, err = s.Model(ctx, "other", Model{Name: "a"})
	if err == nil || !strings.Contains(err.Error(), `"other"`) || !strings.Contains(err.Error(), "fake") {
		t.Errorf("unknown provider: %v, want it named with the registered ones", err)
	}
}

func TestRegisterRefusesDuplicatesAndBlanks(t *testing.T) {
	withRegistry(t)
	ok := func(context.Context, Env) (Models, error) { return nil, nil }
	for _, tt := range []struct {
		name string
		ps   []Provider
	}{
		{"twice", []Provider{{Name: "a", New: ok}, {Name: "a", New: ok}}},
		{"no name", []Provider{{New: ok}}},
		{"no constructor", []Provider{{Name: "b"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("Register did not panic")
				}
			}()
			for _, p := range tt.ps {
				Register(p)
			}
		})
	}
}
