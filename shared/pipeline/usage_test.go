package pipeline_test

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/promptml/promptml/shared/llm/sim"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

// TestUsageTotalsAddUp: the run's usage is the sum of its models' usage,
// and of its phases' plus its epochs' (the optimizer) — exactly without
// failures; with 429s the run also counts the paid calls of failed batch
// attempts, which no phase reports.
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
		})
	}
}
