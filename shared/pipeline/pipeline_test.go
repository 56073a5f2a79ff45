package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/localcloud"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

func TestMain(m *testing.M) { os.Exit(localcloud.RunTests(m)) }

func TestTrainingRun(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	e := pipelinetest.New(t, csv)
	ctx := t.Context()
	fa := &fakeAnalytics{}
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { d.Analytics = fa })
	_ = e.Upload(t, "translation-fr.yaml", readSample(t, "translation-fr.yaml"))
	u := e.Upload(t, "translation-fr.csv", csv)
	id, err := e.P.StartFromUpload(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	s := takeSnapshot(t, e.Store, id)
	if s.Status != store.StatusSucceeded {
		t.Fatalf("status = %s, want succeeded (snapshot %+v)", s.Status, s)
	}
	if s.InitialVal > 0.5 || s.BestVal < 0.85 {
		t.Errorf("val went %.3f → %.3f, want ≤ 0.5 → ≥ 0.85", s.InitialVal, s.BestVal)
	}
	if s.Test == nil || s.Test.Best.N == 0 || s.Test.Initial.N == 0 {
		t.Fatalf("test scores missing: %+v", s.Test)
	}
	// Every example of every phase is scored exactly once.
	r, _ := e.Store.GetRun(ctx, id)
	phases, _ := e.Store.ListPhases(ctx, id)
	for _, ph := range phases {
		if got, want := ph.Metrics.N+ph.Metrics.Errors, r.Dataset.Counts[ph.Split]; got != want {
			t.Errorf("phase %s scored %d examples, want %d", ph.ID, got, want)
		}
	}
	// The export holds the best prompt.
	b, err := e.Blob.ReadAll(ctx, pipelinetest.Artifacts, blob.ExportPath(id, "output.txt"), 0)
	if err != nil {
		t.Fatal(err)
	}
	best, err := e.Store.GetPrompt(ctx, id, r.IncumbentID)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != best.Output {
		t.Errorf("exported output.txt = %q, want %q", b, best.Output)
	}
	if best.Parent == "" || best.Reasoning == "" {
		t.Errorf("best prompt lacks parent or reasoning: %+v", best)
	}

	// The analytics rows mirror the run.
	epochs, _ := e.Store.ListEpochs(ctx, id)
	if len(fa.epochs) != len(epochs) {
		t.Errorf("%d epoch rows, want %d", len(fa.epochs), len(epochs))
	}
	wantResults := 0
	for _, ph := range phases {
		wantResults += ph.Metrics.N + ph.Metrics.Errors
	}
	if len(fa.results) != wantResults || len(fa.prompts) != len(phases) {
		t.Errorf("%d result rows and %d prompt rows, want %d and %d", len(fa.results), len(fa.prompts), wantResults, len(phases))
	}
	if last := fa.runs[len(fa.runs)-1]; last.Status != string(store.StatusSucceeded) || !last.TestScoreBest.Valid || last.BestPromptID != r.IncumbentID {
		t.Errorf("last run row = %+v, want succeeded with test scores", last)
	}
	batches := map[int64]int{}
	for _, row := range fa.results {
		if row.PhaseID == pipeline.PhaseID("train", r.InitialPromptID) {
			batches[row.Batch]++
		}
	}
	if len(batches) != r.Dataset.Batches["train"] {
		t.Errorf("result rows of the baseline train phase span batches %v, want %d batches", batches, r.Dataset.Batches["train"])
	}
}

// TestDuplicateDeliveriesChangeNothing: with every message delivered
// twice at once, the run ends as with one delivery: same prompts, scores,
// epochs, phases (their usage is the usage of the attempts they kept) and
// events. Its spend is what the model answered, counted at the model: the
// duplicates that paid are counted, so the twice-delivered run reports
// more calls than the clean one, exactly as many as it paid.
func TestDuplicateDeliveriesChangeNothing(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	run := func(dup bool) (snapshot, int) {
		e := pipelinetest.New(t, csv)
		u := e.Upload(t, "sentiment.csv", csv)
		id, err := e.P.StartFromUpload(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		if dup {
			// The upload event is delivered twice too.
			id2, err := e.P.StartFromUpload(t.Context(), u)
			if err != nil || id2 != id {
				t.Fatalf("redelivered upload: id %q err %v, want %q", id2, err, id)
			}
		}
		e.Drain(t, dup)
		return takeSnapshot(t, e.Store, id), requireSpendIsServed(t, e, id)
	}
	once, servedOnce := run(false)
	twice, servedTwice := run(true)
	if once.Status != store.StatusSucceeded {
		t.Fatalf("single delivery: status %s", once.Status)
	}
	if d := cmp.Diff(once, twice, cmpopts.IgnoreFields(snapshot{}, "Usage")); d != "" {
		t.Errorf("state after duplicated deliveries differs (-once +twice):\n%s", d)
	}
	// The duplicates ran and paid: the comparison above is not vacuous.
	if servedTwice <= servedOnce {
		t.Errorf("the model answered %d calls with every message delivered twice, %d with one delivery: nothing was duplicated", servedTwice, servedOnce)
	}
	t.Logf("calls answered by the model: %d delivered once, %d delivered twice (each run's usage equal to its own)", servedOnce, servedTwice)
}

// flakyOptimizer fails the first n optimizer calls with a transient 429,
// or every optimizer call with a permanent safety block.
type flakyOptimizer struct {
	pipeline.Generator
	mu        sync.Mutex
	n         int
	permanent bool
	calls     int // permanent failures served
}

func (f *flakyOptimizer) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if req.Purpose == "optimizer" && f.permanent {
		f.mu.Lock()
		f.calls++
		f.mu.Unlock()
		return nil, &llm.Error{Kind: llm.Permanent, Reason: "safety", Err: errors.New("blocked: SAFETY")}
	}
	f.mu.Lock()
	fail := req.Purpose == "optimizer" && f.n > 0
	if fail {
		f.n--
	}
	f.mu.Unlock()
	if fail {
		return nil, &llm.Error{Kind: llm.Transient, Code: 429, Reason: "rate_limited", Err: errors.New("quota")}
	}
	return f.Generator.Generate(ctx, req)
}

// TestPermanentOptimizerErrorSkipsEpochs: an optimizer that is always
// blocked must not stall the run: each epoch ends optimizer_failed, early
// stopping ends training, and the initial prompt is the result.
func TestPermanentOptimizerErrorSkipsEpochs(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	e := pipelinetest.New(t, csv)
	sm := e.Models().(pipelinetest.SimModels)
	opt := &flakyOptimizer{Generator: sm.M, permanent: true}
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { d.Models = flakyModels{opt} })
	id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "s.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	if opt.calls != 2 {
		t.Errorf("%d optimizer calls, want 2 (one per epoch): a permanent error must not be retried", opt.calls)
	}
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	epochs, err := e.Store.ListEpochs(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusSucceeded || r.IncumbentID != r.InitialPromptID || len(epochs) != 2 {
		t.Fatalf("run %s incumbent %s, %d epochs; want succeeded with the initial prompt after 2 epochs (patience)", r.Status, r.IncumbentID, len(epochs))
	}
	for _, ep := range epochs {
		if ep.Decision != store.DecisionOptimizerFailed || !strings.Contains(ep.Note, "SAFETY") {
			t.Errorf("epoch %d: decision %q note %q; want optimizer_failed naming the block", ep.N, ep.Decision, ep.Note)
		}
	}
}

type flakyModels struct{ g *flakyOptimizer }

func (f flakyModels) Model(context.Context, config.Model) (pipeline.Generator, error) {
	return f.g, nil
}

// TestAggregatorFailureRecovers makes the optimizer fail past the in-process
// retries, so Aggregate returns an error mid-transition; the redeliveries
// must finish the run exactly as a run without failures.
func TestAggregatorFailureRecovers(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	run := func(failures int) (snapshot, int) {
		e := pipelinetest.New(t, csv)
		sm := e.Models().(pipelinetest.SimModels)
		e.With(t, func(d *pipeline.Deps, c *pipeline.Config) {
			d.Models = flakyModels{&flakyOptimizer{Generator: sm.M, n: failures}}
		})
		id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "t.csv", csv))
		if err != nil {
			t.Fatal(err)
		}
		n := e.Drain(t, false)
		return takeSnapshot(t, e.Store, id), n
	}
	clean, _ := run(0)
	flaky, redelivered := run(5)
	if redelivered == 0 {
		t.Fatal("no delivery failed: the test does not exercise recovery")
	}
	if clean.Status != store.StatusSucceeded {
		t.Fatalf("clean run: %s", clean.Status)
	}
	// The failed optimizer calls are counted in the usage of the flaky run
	// (errors), so compare everything but usage.
	ignore := cmpopts.IgnoreFields(snapshot{}, "Usage", "Epochs", "Phases")
	if d := cmp.Diff(clean, flaky, ignore); d != "" {
		t.Errorf("recovered run differs (-clean +flaky):\n%s", d)
	}
	if d := cmp.Diff(clean.Phases, flaky.Phases); d != "" {
		t.Errorf("phases differ (-clean +flaky):\n%s", d)
	}
}

func TestBadCSVFailsRunWithRowAndColumn(t *testing.T) {
	tests := []struct {
		name       string
		csv        string
		wantRow    int
		wantColumn string
		wantIn     string
	}{
		{"empty ground truth", "user_input,ground_truth_output\nhello,bonjour\nbye,\n", 3, "ground_truth_output", "empty"},
		{"missing column", "user_input,answer\nhello,bonjour\n", 1, "ground_truth_output", "missing required column"},
		{"ragged row", "user_input,ground_truth_output\nhello,bonjour\na,b,c\n", 3, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := pipelinetest.New(t, "")
			id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "bad.csv", tt.csv))
			if err != nil {
				t.Fatal(err)
			}
			r, err := e.Store.GetRun(t.Context(), id)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != store.StatusFailed || r.Error == nil {
				t.Fatalf("run = %s %+v, want failed with an error", r.Status, r.Error)
			}
			if r.Error.Row != tt.wantRow || r.Error.Column != tt.wantColumn || !strings.Contains(r.Error.Message, tt.wantIn) {
				t.Errorf("error = %+v, want row %d column %q mentioning %q", r.Error, tt.wantRow, tt.wantColumn, tt.wantIn)
			}
			if bs, ds := e.Q.Take(); len(bs)+len(ds) > 0 {
				t.Errorf("a failed intake published %d messages", len(bs)+len(ds))
			}
		})
	}
}

func TestBadSidecarConfigFailsRun(t *testing.T) {
	csv := "user_input,ground_truth_output\nhello,bonjour\nbye,au revoir\nyes,oui\nno,non\n"
	e := pipelinetest.New(t, csv)
	e.Upload(t, "data.yaml", "epochs: 3\nsplit:\n  vall: 0.2\n")
	id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "data.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusFailed || r.Error == nil || r.Error.Path != "split.vall" {
		t.Fatalf("run = %s %+v, want failed at split.vall", r.Status, r.Error)
	}
}

func TestPermanentErrorFailsRun(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	e := pipelinetest.New(t, csv)
	e.Upload(t, "s.yaml", "primary: {provider: vertex, name: gemini-2.5-flash}\n")
	id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "s.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	bs, _ := e.Q.Take()
	if len(bs) == 0 {
		t.Fatal("nothing fanned out")
	}
	err = e.P.RunBatch(t.Context(), bs[0])
	if !errs.Permanent(err) {
		t.Fatalf("RunBatch = %v, want a permanent error", err)
	}
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusFailed || r.Error == nil || !strings.Contains(r.Error.Message, "not available") {
		t.Errorf("run = %s %+v, want failed naming the provider problem", r.Status, r.Error)
	}
}

func TestNonCSVUploadIgnored(t *testing.T) {
	e := pipelinetest.New(t, "")
	id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "notes.txt", "hi"))
	if err != nil || id != "" {
		t.Fatalf("StartFromUpload(notes.txt) = %q, %v; want nothing started", id, err)
	}
}

func TestCancelStopsFanOut(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	e := pipelinetest.New(t, csv)
	ctx := t.Context()
	id, err := e.P.StartFromUpload(ctx, e.Upload(t, "s.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.P.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	r, err := e.Store.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusCancelled {
		t.Errorf("status = %s, want cancelled", r.Status)
	}
	bs, err := e.Store.ListBatches(ctx, id, pipeline.PhaseID("train", r.InitialPromptID))
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 0 {
		t.Errorf("%d batches ran after cancel", len(bs))
	}
	if _, err := e.P.Cancel(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Cancel(unknown) = %v, want ErrNotFound", err)
	}
}

// TestCancelMidEpochKeepsHistory cancels a run in its first epoch, with
// the candidates' val batches fanned out, some (half, rounded down) scored
// and the rest still in flight: the in-flight batches are dropped, nothing is fanned out after
// the cancel, and the run ends cancelled with its epochs, prompts, phases
// and events as they were (plus the cancel event).
func TestCancelMidEpochKeepsHistory(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	e := pipelinetest.New(t, csv)
	ctx := t.Context()
	id, err := e.P.StartFromUpload(ctx, e.Upload(t, "s.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	// Deliver messages until the first epoch's candidates are fanned out.
	for range 20 {
		r, err := e.Store.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Stage == store.StageCandidates {
			break
		}
		bs, ds := e.Q.Take()
		for _, b := range bs {
			if err := e.P.RunBatch(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		for i, d := range ds {
			if err := e.P.Aggregate(ctx, d, fmt.Sprint("h", i)); err != nil {
				t.Fatal(err)
			}
		}
	}
	inFlight, _ := e.Q.Take()
	if len(inFlight) == 0 {
		t.Fatal("no val batch fanned out for epoch 1")
	}
	half := len(inFlight) / 2
	for _, b := range inFlight[:half] {
		if err := e.P.RunBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	before := takeSnapshot(t, e.Store, id)
	r, err := e.P.Cancel(ctx, id)
	if err != nil || r.Status != store.StatusCancelled {
		t.Fatalf("Cancel = %v, %v; want cancelled", r, err)
	}
	// The rest of the batches arrive after the cancel (and the finished
	// ones' phase-done messages, if any): all dropped.
	_ = e.Q.PublishBatches(ctx, inFlight[half:])
	e.Drain(t, true)
	if bs, ds := e.Q.Take(); len(bs)+len(ds) > 0 {
		t.Errorf("fanned out after the cancel: %d batches, %d phase-done", len(bs), len(ds))
	}
	if r, err := e.P.Cancel(ctx, id); err != nil || r.Status != store.StatusCancelled {
		t.Errorf("second Cancel = %v, %v; want cancelled, harmless", r, err)
	}
	after := takeSnapshot(t, e.Store, id)
	if after.Status != store.StatusCancelled {
		t.Fatalf("status %s, want cancelled", after.Status)
	}
	// History intact: only the status and the cancel event are new.
	before.Status = store.StatusCancelled
	before.Events++
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("history changed after the cancel (-before +after):\n%s", d)
	}
	events, err := e.Store.ListEvents(ctx, id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Kind != "cancelled" {
		t.Errorf("last event %q (%s), want the cancel", last.Kind, last.Message)
	}
}
