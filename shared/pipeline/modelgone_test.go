package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

// goneModels fails every call of one purpose the way a retired model does.
type goneModels struct {
	next    pipeline.Models
	purpose string
	err     error
	mu      sync.Mutex
	calls   map[string]int
}

func (g *goneModels) Model(ctx context.Context, c config.Model) (pipeline.Generator, error) {
	next, err := g.next.Model(ctx, c)
	if err != nil {
		return nil, err
	}
	return goneGen{g: g, next: next}, nil
}

type goneGen struct {
	g    *goneModels
	next pipeline.Generator
}

func (m goneGen) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	m.g.mu.Lock()
	m.g.calls[req.Purpose]++
	m.g.mu.Unlock()
	if req.Purpose == m.g.purpose {
		return nil, m.g.err
	}
	return m.next.Generate(ctx, req)
}

// TestRetiredModelFailsRunAtOnce: a model that answers 404, or says it was
// retired, fails the run at the first call that meets it, with a message
// naming the model and the config field to change — for the primary (the
// baseline) and for the optimizer (the first epoch), which before issue 16
// only dropped the candidate and let the run go on without an optimizer.
func TestRetiredModelFailsRunAtOnce(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	for _, tt := range []struct {
		name, purpose, field string
		err                  error
	}{
		{"primary 404", "primary", "primary.name",
			llm.StatusError(404, 0, errors.New("Publisher Model `publishers/google/models/sim-primary` was not found or your project does not have access to it"))},
		{"optimizer retired", "optimizer", "optimizer.model.name",
			llm.StatusError(400, 0, errors.New("The model sim-optimizer has been retired and is no longer available"))},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := pipelinetest.New(t, csv)
			gm := &goneModels{next: e.Models(), purpose: tt.purpose, err: tt.err, calls: map[string]int{}}
			e.With(t, func(d *pipeline.Deps, _ *pipeline.Config) { d.Models = gm })
			id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "t.csv", csv))
			if err != nil {
				t.Fatal(err)
			}
			e.Drain(t, false)
			r, err := e.Store.GetRun(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != store.StatusFailed || r.Error == nil {
				t.Fatalf("run %s (error %+v), want failed", r.Status, r.Error)
			}
			msg := r.Error.Message
			for _, want := range []string{"sim-" + tt.purpose, tt.field, "retired", "models.yaml"} {
				if !strings.Contains(msg, want) {
					t.Errorf("run error %q does not mention %q", msg, want)
				}
			}
			if tt.purpose == "optimizer" {
				// At once: the first epoch's proposal, not one per try or
				// per epoch.
				if n := gm.calls["optimizer"]; n != 1 {
					t.Errorf("%d optimizer calls, want 1 (the run fails at the first)", n)
				}
				eps, err := e.Store.ListEpochs(t.Context(), id)
				if err != nil {
					t.Fatal(err)
				}
				if len(eps) != 0 {
					t.Errorf("%d epochs recorded, want none", len(eps))
				}
			}
		})
	}
}
