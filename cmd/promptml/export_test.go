package main

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/promptml/promptml/functions/api"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

// TestExportFewshotAsReceived trains the translation sample with the
// fewshot strategy on the simulator and checks what the CLI shows and
// exports is the prompt that scored (issue 17 item 1): system.txt carries
// the demonstrations, and export --format prompt's one file, sent as the
// system instruction with each val input as the user message, gets back
// every answer the best prompt was scored on.
func TestExportFewshotAsReceived(t *testing.T) {
	csv, err := os.ReadFile("../../samples/translation-fr.csv")
	if err != nil {
		t.Fatal(err)
	}
	e := pipelinetest.New(t, string(csv))
	srv := httptest.NewServer(api.NewHandler(e.P))
	t.Cleanup(srv.Close)
	t.Setenv(apiEnv, srv.URL)
	out, code, err := runCLI(t, "run", "../../samples/translation-fr.csv", "--config", "../../samples/translation-fr.yaml",
		"--set", "optimizer.strategy=fewshot", "--epochs", "2")
	if err != nil || code != 0 {
		t.Fatalf("run: %v (exit %d)\n%s", err, code, out)
	}
	id := strings.Fields(out)[1]
	e.Drain(t, false)
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	best, err := e.Store.GetPrompt(t.Context(), id, r.IncumbentID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusSucceeded || len(best.Examples) == 0 {
		t.Fatalf("run %s, best prompt %s with %d demonstrations: want a succeeded fewshot run whose best prompt has demonstrations", r.Status, best.ID, len(best.Examples))
	}

	dir := t.TempDir()
	if out, code, err := runCLI(t, "export", id, "--out", dir); err != nil || code != 0 || !strings.Contains(out, "demonstrations included") {
		t.Fatalf("export: %v (exit %d)\n%s", err, code, out)
	}
	system, err := os.ReadFile(filepath.Join(dir, "system.txt"))
	if err != nil {
		t.Fatal(err)
	}
	req, _, err := pipeline.PrimaryRequest(best, config.DefaultUserTemplate, config.Model{}, map[string]string{"user_input": "x"})
	if err != nil {
		t.Fatal(err)
	}
	received := req.System
	if string(system) != received {
		t.Errorf("system.txt is not the system instruction the model received:\n got %q\nwant %q", system, received)
	}
	for _, d := range best.Examples {
		if !strings.Contains(string(system), d.Output) {
			t.Errorf("system.txt lacks the demonstration %q", d.Output)
		}
	}

	if out, code, err := runCLI(t, "export", id, "--format", "prompt", "--out", dir); err != nil || code != 0 || !strings.Contains(out, "prompt.txt") {
		t.Fatalf("export --format prompt: %v (exit %d)\n%s", err, code, out)
	}
	one, err := os.ReadFile(filepath.Join(dir, "prompt.txt"))
	if err != nil {
		t.Fatal(err)
	}
	results, _, err := e.P.PhaseResults(t.Context(), id, pipeline.PhaseID("val", best.ID), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) == 0 {
		t.Fatal("the best prompt has no val results")
	}
	model := e.Models().(pipelinetest.SimModels).M
	zero := 0.0
	same := 0
	for _, res := range results {
		resp, err := model.Generate(t.Context(), &llm.Request{Model: "sim", System: string(one), Prompt: res.Input, Temperature: &zero, Purpose: "primary"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Text == res.Actual {
			same++
		} else {
			t.Errorf("input %q: prompt.txt gets %q, the scored request got %q", res.Input, resp.Text, res.Actual)
		}
	}
	// Baseline in the same run: the parts the old export wrote (the
	// system prompt without its demonstrations) do not reproduce them.
	bare := 0
	for _, res := range results {
		resp, err := model.Generate(t.Context(), &llm.Request{Model: "sim", System: best.System, Prompt: res.Input + "\n\n" + best.Output, Temperature: &zero, Purpose: "primary"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Text == res.Actual {
			bare++
		}
	}
	t.Logf("val answers reproduced: %d of %d from prompt.txt, %d without the demonstrations (%d of them)", same, len(results), bare, len(best.Examples))
	if bare >= same {
		t.Errorf("the prompt without its demonstrations reproduces %d answers, prompt.txt %d: the demonstrations made no difference, so this test shows nothing", bare, same)
	}

	// The final summary shows the same instruction.
	out, _, err = runCLI(t, "watch", id)
	if err != nil {
		t.Fatalf("watch: %v\n%s", err, out)
	}
	if !strings.Contains(out, indent(received)) {
		t.Errorf("the final summary does not show the system instruction with its demonstrations:\n%s", out)
	}
}
