package pipeline_test

import (
	"strings"
	"testing"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

// TestAllowlistAtIntake: a run config naming a provider or an openai
// endpoint the deployment does not allow fails at the intake, before any
// model call or fan-out, with the field and what is allowed; the dry run
// refuses it the same way.
func TestAllowlistAtIntake(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	e := pipelinetest.New(t, csv)
	e.With(t, func(_ *pipeline.Deps, c *pipeline.Config) {
		c.Allowlist = config.Allowlist{Providers: []string{"sim", "openai"},
			OpenAIEndpoints: []config.OpenAIEndpoint{{BaseURL: "https://llm.internal.example/v1", APIKeyEnv: "PROMPTML_OPENAI_KEY_0"}}}
	})
	e.Upload(t, "t.csv", csv)
	for _, tt := range []struct {
		name, config, path, mention string
	}{
		{"provider", `{"primary": {"provider": "vertex", "name": "gemini-3.1-flash-lite"}}`, "primary.provider", "allowed_llm_providers"},
		{"base url", `{"primary": {"provider": "openai", "name": "m", "base_url": "https://collector.example/v1"}}`, "primary.base_url",
			"https://llm.internal.example/v1"},
		{"optimizer endpoint", `{"optimizer": {"model": {"provider": "openai", "name": "m", "base_url": "http://169.254.169.254/v1"}}}`,
			"optimizer.model.base_url", "openai_endpoints"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req := pipeline.StartRequest{Dataset: "gs://" + pipelinetest.Datasets + "/t.csv", Config: []byte(tt.config)}
			r, err := e.P.StartFromAPI(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != store.StatusFailed || r.Error == nil || r.Error.Stage != "intake" || r.Error.Path != tt.path ||
				!strings.Contains(r.Error.Message, tt.mention) || !strings.Contains(r.Error.Message, "not") {
				t.Errorf("run %s error %+v, want failed at the intake at %s mentioning %q", r.Status, r.Error, tt.path, tt.mention)
			}
			if bs, ds := e.Q.Take(); len(bs)+len(ds) != 0 {
				t.Errorf("%d batch and %d phase-done messages published for a refused run", len(bs), len(ds))
			}
			_, err = e.P.DryRun(t.Context(), req)
			if !errs.Permanent(err) || !strings.Contains(err.Error(), tt.path) {
				t.Errorf("dry run = %v, want a permanent error at %s", err, tt.path)
			}
		})
	}
	// Inside the allowlist the run starts.
	r, err := e.P.StartFromAPI(t.Context(), pipeline.StartRequest{Dataset: "gs://" + pipelinetest.Datasets + "/t.csv"})
	if err != nil || r.Status == store.StatusFailed {
		t.Fatalf("allowed run: %+v, %v", r, err)
	}
}
