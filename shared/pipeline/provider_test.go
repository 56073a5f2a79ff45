package pipeline_test

import (
	"strings"
	"testing"

	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

// TestUnregisteredProviderFailsAtIntake: a run config naming a provider
// nobody registered fails at the intake, before any model call or
// fan-out, with the field and the registered providers; the dry run
// refuses it the same way.
func TestUnregisteredProviderFailsAtIntake(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	e := pipelinetest.New(t, csv)
	e.Upload(t, "t.csv", csv)
	req := pipeline.StartRequest{Dataset: "gs://" + pipelinetest.Datasets + "/t.csv",
		Config: []byte(`{"optimizer": {"model": {"provider": "anthropic", "name": "claude"}}}`)}
	r, err := e.P.StartFromAPI(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusFailed || r.Error == nil || r.Error.Stage != "intake" || r.Error.Path != "optimizer.model.provider" ||
		!strings.Contains(r.Error.Message, `"anthropic"`) || !strings.Contains(r.Error.Message, "openai, sim, vertex") {
		t.Errorf("run %s error %+v, want failed at the intake at optimizer.model.provider naming the registered providers", r.Status, r.Error)
	}
	if bs, ds := e.Q.Take(); len(bs)+len(ds) != 0 {
		t.Errorf("%d batch and %d phase-done messages published for a refused run", len(bs), len(ds))
	}
	if _, err := e.P.DryRun(t.Context(), req); err == nil || !strings.Contains(err.Error(), "optimizer.model.provider") {
		t.Errorf("dry run = %v, want it refused at optimizer.model.provider", err)
	}
}
