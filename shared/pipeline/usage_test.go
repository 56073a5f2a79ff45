package pipeline_test

import (
	"context"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/sim"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

// TestUsageTotalsAddUp: the run's usage is the sum of its models' usage,
// and is what the model answered, counted at the model; without failures
// it is also its phases' plus its epochs' (the optimizer), exactly; with
// 429s the run also counts the paid calls of failed batch attempts, which
// no phase reports, and still exactly what the model answered.
func TestUsageTotalsAddUp(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	key, err := sim.ParseCSV(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	prices := "prices:\n  sim-primary: {input_per_mtok: 1, output_per_mtok: 4}\n  sim-optimizer: {input_per_mtok: 2, output_per_mtok: 8}\n"
	for _, tc := range []struct {
		name string
		rate float64
	}{{"clean", 0}, {"30% 429s", 0.3}} {
		t.Run(tc.name, func(t *testing.T) {
			e := pipelinetest.New(t, csv)
			e.With(t, func(d *pipeline.Deps, c *pipeline.Config) {
				d.Models = pipelinetest.SimModels{M: sim.New(sim.Options{Key: sim.NewKey(key), Seed: 1,
					ErrorRate: tc.rate, RetryAfter: time.Millisecond})}
			})
			e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { c.LLMRetries = 2 })
			_ = e.Upload(t, "t.yaml", readSample(t, "translation-fr.yaml")+prices)
			id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "t.csv", csv))
			if err != nil {
				t.Fatal(err)
			}
			e.Drain(t, false)
			r, err := e.Store.GetRun(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != store.StatusSucceeded || r.Usage.CostUSD == 0 {
				t.Fatalf("run %s, usage %+v: want a succeeded, priced run", r.Status, r.Usage)
			}
			var byModel, parts store.Usage
			for _, u := range r.UsageByModel {
				byModel = byModel.Add(u)
			}
			phases, err := e.Store.ListPhases(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			for _, ph := range phases {
				parts = parts.Add(ph.Usage)
			}
			epochs, err := e.Store.ListEpochs(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			for _, ep := range epochs {
				parts = parts.Add(ep.Usage)
			}
			t.Logf("run %+v; by model %+v; phases+epochs %+v", r.Usage, byModel, parts)
			near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
			if byModel.Calls != r.Usage.Calls || byModel.InputTokens != r.Usage.InputTokens || byModel.OutputTokens != r.Usage.OutputTokens ||
				byModel.CacheHits != r.Usage.CacheHits || !near(byModel.CostUSD, r.Usage.CostUSD) {
				t.Errorf("run usage %+v != sum by model %+v", r.Usage, byModel)
			}
			extra := r.Usage.Calls - parts.Calls
			if tc.rate == 0 && (extra != 0 || r.Usage.InputTokens != parts.InputTokens || !near(r.Usage.CostUSD, parts.CostUSD) || r.Usage.Errors != parts.Errors) {
				t.Errorf("run usage %+v != phases + epochs %+v", r.Usage, parts)
			}
			if extra < 0 || r.Usage.CostUSD < parts.CostUSD-1e-9 {
				t.Errorf("run usage %+v below phases + epochs %+v", r.Usage, parts)
			}
			served := requireSpendIsServed(t, e, id)
			if tc.rate > 0 && extra == 0 {
				t.Errorf("no batch attempt failed after paying (%d calls served): the 429 case exercises nothing", served)
			}
		})
	}
}

// cancellingModels cancels run *id from inside the at-th model call, while
// the other calls of its batches are in flight.
type cancellingModels struct {
	next   pipeline.Models
	cancel func()
	at     int64
	n      *atomic.Int64
}

func (m cancellingModels) Model(ctx context.Context, c config.Model) (pipeline.Generator, error) {
	g, err := m.next.Model(ctx, c)
	if err != nil {
		return nil, err
	}
	return cancellingGenerator{g, m}, nil
}

type cancellingGenerator struct {
	next pipeline.Generator
	m    cancellingModels
}

func (g cancellingGenerator) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if g.m.n.Add(1) == g.m.at {
		g.m.cancel()
	}
	return g.next.Generate(ctx, req)
}

// TestCancelledRunSpendIsExact (issue 17 item 2, issue 20 item 4): a run
// cancelled while its batches are calling the model reports what it paid,
// counted at the model: on the run document (status, runs, the dashboard's
// usage card read it), in the list of runs and through the Reader, though
// no phase finished and the batches still in flight at the cancel recorded
// calls after it.
func TestCancelledRunSpendIsExact(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	e := pipelinetest.New(t, csv)
	ctx := t.Context()
	var id string
	var n atomic.Int64
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) {
		d.Models = cancellingModels{next: e.Models(), at: 25, n: &n, cancel: func() {
			if _, err := e.P.Cancel(context.WithoutCancel(ctx), id); err != nil {
				t.Error(err)
			}
		}}
	})
	_ = e.Upload(t, "t.yaml", readSample(t, "translation-fr.yaml")+"prices:\n  sim-primary: {input_per_mtok: 1, output_per_mtok: 4}\n")
	var err error
	if id, err = e.P.StartFromUpload(ctx, e.Upload(t, "t.csv", csv)); err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	served := requireSpendIsServed(t, e, id)
	r, err := e.Store.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusCancelled || served < 25 || r.Usage.Calls != served || r.Usage.CostUSD <= 0 {
		t.Fatalf("run %s with %d calls ($%f); want cancelled with the %d calls served (≥ 25)", r.Status, r.Usage.Calls, r.Usage.CostUSD, served)
	}
	phases, err := e.Store.ListPhases(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range phases {
		if ph.State == store.PhaseDone {
			t.Errorf("phase %s finished: the cancel came too late to test anything", ph.ID)
		}
	}
	read, err := e.P.Run(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	runs, err := e.P.Runs(ctx, "", 10)
	if err != nil || len(runs) != 1 {
		t.Fatalf("Runs = %d runs, %v; want 1", len(runs), err)
	}
	if read.Usage != r.Usage || runs[0].Usage != r.Usage {
		t.Errorf("Run shows %+v and Runs %+v; want the run document's %+v", read.Usage, runs[0].Usage, r.Usage)
	}
}
