package serverenv

import (
	"slices"
	"testing"
	"time"

	"github.com/promptml/promptml/shared/config"
)

// TestDefaultModelsAreCurrent fails when a default of the deployment names a
// model the dated catalog (shared/config/models.yaml) does not know, lists
// as retired or preview, or whose retirement date has passed or is less than
// a month away (Vertex AI blocks new access a month before). It reads the
// clock on purpose: it is the alarm that the catalog and the defaults need
// updating.
func TestDefaultModelsAreCurrent(t *testing.T) {
	c, err := load(env(required, map[string]string{"PROMPTML_LLM_PROVIDER": "vertex"}))
	if err != nil {
		t.Fatal(err)
	}
	catalog := config.Models()
	now := time.Now()
	check := func(what, name string, location string) {
		t.Helper()
		m, ok := catalog.Lookup(name)
		if !ok {
			t.Errorf("%s %q is not in shared/config/models.yaml: record it (with its sources) before making it a default", what, name)
			return
		}
		if m.Stage != "GA" {
			t.Errorf("%s %q is %s, not GA", what, name, m.Stage)
		}
		if err := m.Usable(now); err != nil {
			t.Errorf("%s: %v (models.yaml as of %s): change the default", what, err, catalog.AsOf)
		}
		if location != "" && len(m.Locations) > 0 && !slices.Contains(m.Locations, location) {
			t.Errorf("%s %q is served in %v, not in the default location %q", what, name, m.Locations, location)
		}
	}
	check("PROMPTML_PRIMARY_MODEL default", c.PrimaryModel, c.Location)
	check("PROMPTML_OPTIMIZER_MODEL default", c.OptimizerModel, c.Location)
	check("PROMPTML_EMBEDDING_MODEL default", c.EmbeddingModel, "")

	// The deployment layer is a valid config (thinking levels the models
	// accept) and every model it names has a price, so budgets work.
	cfg, err := config.Load(config.Layer{Source: "deployment defaults", Data: c.defaultsLayer()})
	if err != nil {
		t.Fatalf("deployment defaults do not load: %v", err)
	}
	for _, m := range []config.Model{cfg.Primary, cfg.Optimizer.Model, {Name: c.EmbeddingModel}} {
		if _, ok := cfg.Prices[m.Name]; !ok {
			t.Errorf("default model %s has no price in the default price table", m.Name)
		}
	}
	// No model in the default price table is past its date either.
	for name := range config.Defaults().Prices {
		m, ok := catalog.Lookup(name)
		if !ok {
			t.Errorf("default price table names %s, which the catalog does not know", name)
			continue
		}
		if err := m.Usable(now); err != nil {
			t.Errorf("default price table: %v", err)
		}
	}
}

// The check itself catches the defaults this repository had before issue 16
// (retired in October 2026), so it is not vacuous.
func TestRetirementCheckCatchesOldDefaults(t *testing.T) {
	for _, name := range []string{"gemini-2.5-flash", "gemini-2.5-pro"} {
		m, ok := config.Models().Lookup(name)
		if !ok {
			t.Fatalf("%s not in the catalog", name)
		}
		if m.Usable(time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)) == nil {
			t.Errorf("%s counted as usable on 2026-12-04", name)
		}
	}
}
