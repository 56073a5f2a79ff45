package pipeline_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/optimize"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

// templatedCSV is a translation dataset without user_input: the text, the
// language and an unused notes column; one cell holds placeholders.
func templatedCSV() string {
	var b strings.Builder
	b.WriteString("id,text,lang,notes,ground_truth_output\n")
	b.WriteString("trap,Say {{lang}} and {{DATA}},French,,Dis {{lang}} et {{DATA}}\n")
	for _, w := range []string{"hello", "bye", "yes", "no", "thanks", "please", "water", "bread", "cheese"} {
		b.WriteString("r-" + w + "," + w + ",French,some note," + w + "-fr\n")
	}
	return b.String()
}

// templatedYAML is the sidecar of templatedCSV, without epochs.
const templatedYAML = "split: {train: 0.5, val: 0.5, test: 0}\nprompt:\n  system: \"Translate into {{lang}}.\"\n  user: \"Text: {{text}}\"\n  output: \"Only the translation.\"\n"

// recordingModels records every primary request it passes on.
type recordingModels struct {
	next pipeline.Models
	mu   *sync.Mutex
	reqs *[]llm.Request
}

func (r recordingModels) Model(ctx context.Context, m config.Model) (pipeline.Generator, error) {
	g, err := r.next.Model(ctx, m)
	if err != nil {
		return nil, err
	}
	return recordingGen{g: g, r: r}, nil
}

type recordingGen struct {
	g pipeline.Generator
	r recordingModels
}

func (g recordingGen) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if req.Purpose == "primary" {
		g.r.mu.Lock()
		*g.r.reqs = append(*g.r.reqs, *req)
		g.r.mu.Unlock()
	}
	return g.g.Generate(ctx, req)
}

// TestTemplatedRunSendsRenderedRows: a CSV without user_input, with the
// instruction in the templates, trains; every primary request is the
// rendered row, and a cell holding {{lang}} or {{DATA}} reaches the model
// literally.
func TestTemplatedRunSendsRenderedRows(t *testing.T) {
	csv := templatedCSV()
	e := pipelinetest.New(t, "")
	var mu sync.Mutex
	var reqs []llm.Request
	e.With(t, func(d *pipeline.Deps, _ *pipeline.Config) {
		d.Models = recordingModels{next: e.Models(), mu: &mu, reqs: &reqs}
	})
	e.Upload(t, "fr.yaml", "epochs: 0\n"+templatedYAML)
	id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "fr.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusSucceeded {
		t.Fatalf("run %s (%+v), want succeeded", r.Status, r.Error)
	}
	if diff := cmp.Diff([]string{"text", "lang", "notes"}, r.Dataset.Variables); diff != "" {
		t.Errorf("dataset variables (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"notes"}, r.Dataset.UnusedColumns); diff != "" {
		t.Errorf("unused columns (-want +got):\n%s", diff)
	}
	if len(reqs) < 10 {
		t.Fatalf("%d primary requests, want one per row at least (10)", len(reqs))
	}
	found := false
	for _, req := range reqs {
		if req.System != "Translate into French." {
			t.Errorf("system %q, want the rendered system prompt", req.System)
		}
		if !strings.HasPrefix(req.Prompt, "Text: ") || !strings.HasSuffix(req.Prompt, "\n\nOnly the translation.") {
			t.Errorf("user content %q, want the rendered user template, a blank line, the output prompt", req.Prompt)
		}
		if strings.Contains(req.Prompt, "{{lang}}") {
			found = true
			if want := "Text: Say {{lang}} and {{DATA}}\n\nOnly the translation."; req.Prompt != want {
				t.Errorf("the trap row's user content %q, want %q", req.Prompt, want)
			}
		}
	}
	if !found {
		t.Error("no request carried the cell holding {{lang}} literally")
	}
}

// TestTemplateMissingColumnFailsIntake: a template naming a column the CSV
// lacks fails the run at intake, naming the variable, the template and the
// file's columns; nothing is published.
func TestTemplateMissingColumnFailsIntake(t *testing.T) {
	e := pipelinetest.New(t, "")
	e.Upload(t, "qa.yaml", "prompt:\n  user: \"{{context}}\\n\\nQ: {{question}}\"\n  output: \"Answer in a {{tone}} tone.\"\n")
	id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "qa.csv", "context,question,ground_truth_output\nc,q,a\nc2,q2,a2\n"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusFailed || r.Error == nil {
		t.Fatalf("run %s %+v, want failed with an error", r.Status, r.Error)
	}
	want := `invalid CSV gs://` + pipelinetest.Datasets + `/qa.csv: row 1, column "tone": missing required column: prompt.output uses {{tone}}; the header is "context", "question", "ground_truth_output"`
	if r.Error.Message != want || r.Error.Row != 1 || r.Error.Column != "tone" {
		t.Errorf("error %+v, want message %q at row 1, column tone", r.Error, want)
	}
	if bs, ds := e.Q.Take(); len(bs)+len(ds) > 0 {
		t.Errorf("a failed intake published %d messages", len(bs)+len(ds))
	}
}

// TestCandidateLosingVariableIsBlocked: a candidate that drops a variable
// the incumbent uses, or introduces one the dataset lacks, is blocked with
// the reason and never scored; the optimizer's data block lists the
// variables, the fixed user template and each failure's variables.
func TestCandidateLosingVariableIsBlocked(t *testing.T) {
	e := pipelinetest.New(t, "")
	sm := e.Models().(pipelinetest.SimModels)
	var mu sync.Mutex
	var seen []optimize.Data
	s := &scripted{Generator: sm.M, reply: func(n int, req *llm.Request) string {
		d, err := optimize.DecodeData(req.Prompt)
		if err != nil {
			t.Error(err)
			return ""
		}
		mu.Lock()
		seen = append(seen, d)
		mu.Unlock()
		if d.Candidate == 0 {
			return rewriteJSON(t, "Translate the text.", "Only the translation.")
		}
		return rewriteJSON(t, "Translate into {{lang}}.", "Only the translation, in a {{register}} register.")
	}}
	e.With(t, func(d *pipeline.Deps, _ *pipeline.Config) { d.Models = scriptedModels{s} })
	e.Upload(t, "fr.yaml", "epochs: 1\ncandidates: 2\n"+templatedYAML)
	id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "fr.csv", templatedCSV()))
	if err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	epochs, err := e.Store.ListEpochs(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusSucceeded || len(epochs) != 1 || len(epochs[0].Candidates) != 2 {
		t.Fatalf("run %s (%+v), %d epochs; want succeeded with one epoch of 2 candidates", r.Status, r.Error, len(epochs))
	}
	want := []string{
		"placeholder {{lang}} of the current prompt is missing: every variable the current prompts use must stay",
		"placeholder {{register}} is not a variable of the dataset (its variables: text, lang, notes)",
	}
	for i, c := range epochs[0].Candidates {
		if c.Status != store.CandidateBlocked || c.Note != want[i] {
			t.Errorf("candidate %d: %s %q, want blocked: %q", i, c.Status, c.Note, want[i])
		}
		if _, err := e.Store.GetPhase(t.Context(), id, pipeline.PhaseID("val", c.PromptID)); err == nil {
			t.Errorf("blocked candidate %d was scored on val", i)
		}
	}
	if len(seen) == 0 {
		t.Fatal("the optimizer was never asked")
	}
	d := seen[0]
	if diff := cmp.Diff([]string{"text", "lang", "notes"}, d.Variables); diff != "" {
		t.Errorf("data block variables (-want +got):\n%s", diff)
	}
	if d.UserTemplate != "Text: {{text}}" {
		t.Errorf("data block user_template %q", d.UserTemplate)
	}
	if len(d.Failures) == 0 {
		t.Fatal("no failures in the data block")
	}
	for _, f := range d.Failures {
		if f.Vars["lang"] != "French" || !strings.HasPrefix(f.Input, "Text: ") || f.Vars["text"] == "" {
			t.Errorf("failure %+v: want the rendered input and the row's variables", f)
		}
	}
}
