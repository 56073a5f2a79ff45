package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/llm/sim"
	"github.com/promptml/promptml/shared/pipeline"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

// countingModels counts the calls that reach the provider, by purpose.
type countingModels struct {
	next  pipeline.Models
	mu    sync.Mutex
	calls map[string]int
}

func (c *countingModels) Model(ctx context.Context, m config.Model) (pipeline.Generator, error) {
	g, err := c.next.Model(ctx, m)
	if err != nil {
		return nil, err
	}
	return countingGen{g: g, c: c}, nil
}

func (c *countingModels) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.calls
	c.calls = map[string]int{}
	return out
}

type countingGen struct {
	g pipeline.Generator
	c *countingModels
}

func (g countingGen) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	g.c.mu.Lock()
	g.c.calls[req.Purpose]++
	g.c.mu.Unlock()
	return g.g.Generate(ctx, req)
}

// outcome is what a run reached, independent of its id and its usage.
type outcome struct {
	Status     store.RunStatus
	Best       string
	InitialVal float64
	BestVal    float64
	Test       *store.TestResult
	Prompts    []string
	Epochs     []string
	Phases     []string
}

func outcomeOf(s snapshot) outcome {
	o := outcome{Status: s.Status, Best: s.Best, InitialVal: s.InitialVal, BestVal: s.BestVal, Test: s.Test, Prompts: s.Prompts}
	// Epoch and phase lines end with their usage, which cache hits change.
	for _, e := range s.Epochs {
		o.Epochs = append(o.Epochs, e[:strings.Index(e, " usage=")])
	}
	for _, p := range s.Phases {
		o.Phases = append(o.Phases, p[:strings.Index(p, " usage=")])
	}
	return o
}

// TestSecondRunAllCacheHits: the same config on the same dataset twice;
// the second run makes no new model call (all cache hits) and reaches the
// same result.
func TestSecondRunAllCacheHits(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	e := pipelinetest.New(t, csv)
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) {
		d.Cache = &blob.Cache{Store: e.Blob, Bucket: pipelinetest.Artifacts}
	})
	cm := &countingModels{next: e.Models(), calls: map[string]int{}}
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { d.Models = cm })
	_ = e.Upload(t, "translation-fr.yaml", readSample(t, "translation-fr.yaml"))
	u := e.Upload(t, "translation-fr.csv", csv)
	first, err := e.P.StartFromUpload(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	firstCalls := cm.take()
	second, err := e.P.StartFromAPI(t.Context(), pipeline.StartRequest{Dataset: "gs://" + pipelinetest.Datasets + "/translation-fr.csv"})
	if err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	secondCalls := cm.take()

	if firstCalls["primary"] == 0 || firstCalls["optimizer"] == 0 {
		t.Fatalf("first run calls %v: want primary and optimizer calls", firstCalls)
	}
	if secondCalls["primary"] != 0 || secondCalls["optimizer"] != 0 {
		t.Errorf("second run made new calls %v, want none (all cache hits)", secondCalls)
	}
	s1, s2 := takeSnapshot(t, e.Store, first), takeSnapshot(t, e.Store, second.ID)
	if s1.Status != store.StatusSucceeded {
		t.Fatalf("first run: %s", s1.Status)
	}
	if d := cmp.Diff(outcomeOf(s1), outcomeOf(s2)); d != "" {
		t.Errorf("second run reached another result (-first +second):\n%s", d)
	}
	// The first run may hit the cache too (an identical call asked twice
	// within the run); every call it paid for reached the provider.
	if s1.Usage.Calls != firstCalls["primary"]+firstCalls["optimizer"] {
		t.Errorf("first run usage %+v, want %d calls", s1.Usage, firstCalls["primary"]+firstCalls["optimizer"])
	}
	if want := s1.Usage.Calls + s1.Usage.CacheHits; s2.Usage.Calls != 0 || s2.Usage.CacheHits != want || s2.Usage.InputTokens != 0 {
		t.Errorf("second run usage %+v, want 0 calls, 0 tokens and %d cache hits", s2.Usage, want)
	}
	r2, err := e.Store.GetRun(t.Context(), second.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := r2.UsageByModel["sim/sim-primary"].CacheHits; got == 0 {
		t.Errorf("usage by model %+v: want the primary's cache hits", r2.UsageByModel)
	}
}

// TestTransientFailuresChangeNothing: with the simulator failing 30% of
// calls with a 429 (and a Retry-After), the run finishes with the same
// prompts and scores as without failures.
func TestTransientFailuresChangeNothing(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	key, err := sim.ParseCSV(strings.NewReader(csv))
	if err != nil {
		t.Fatal(err)
	}
	run := func(rate float64) (snapshot, int, map[string]int) {
		e := pipelinetest.New(t, csv)
		e.With(t, func(d *pipeline.Deps, c *pipeline.Config) {
			d.Models = pipelinetest.SimModels{M: sim.New(sim.Options{Key: sim.NewKey(key), Seed: 1,
				ErrorRate: rate, RetryAfter: time.Millisecond})}
		})
		cm := &countingModels{next: e.Models(), calls: map[string]int{}}
		e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { d.Models = cm })
		e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { c.LLMRetries = 4 })
		_ = e.Upload(t, "t.yaml", readSample(t, "translation-fr.yaml"))
		id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "t.csv", csv))
		if err != nil {
			t.Fatal(err)
		}
		n := e.Drain(t, false)
		return takeSnapshot(t, e.Store, id), n, cm.take()
	}
	clean, _, cleanCalls := run(0)
	flaky, redelivered, flakyCalls := run(0.3)
	if clean.Status != store.StatusSucceeded {
		t.Fatalf("clean run: %s", clean.Status)
	}
	total := func(m map[string]int) int { return m["primary"] + m["optimizer"] }
	// About 30% of attempts fail, so the flaky run asks ~1/0.7 as often.
	if total(flakyCalls) < total(cleanCalls)*5/4 {
		t.Fatalf("flaky run made %d calls vs %d: the failures were not exercised", total(flakyCalls), total(cleanCalls))
	}
	t.Logf("clean %v calls; flaky %v calls, %d redeliveries", cleanCalls, flakyCalls, redelivered)
	if d := cmp.Diff(outcomeOf(clean), outcomeOf(flaky)); d != "" {
		t.Errorf("the run with 429s differs (-clean +flaky):\n%s", d)
	}
	// A 429 is not paid for, but the answered calls of a batch attempt that
	// failed are, and the run counts them: the flaky run paid at least as
	// much.
	if flaky.Usage.Calls < clean.Usage.Calls || flaky.Usage.InputTokens < clean.Usage.InputTokens {
		t.Errorf("usage clean %+v, flaky %+v: the flaky run cannot have paid less", clean.Usage, flaky.Usage)
	}
}

// TestBudgetBelowEstimate: a run whose budget is below its dry-run
// estimate ends budget_exhausted, exports the best prompt so far, and
// spends at most one batch more than the budget.
func TestBudgetBelowEstimate(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	e := pipelinetest.New(t, csv)
	// The optimizer proposes a prompt that fixes every habit, so that the
	// first epoch is accepted whatever the simulated optimizer's wording
	// would have been (issue 19: it is no longer built to be right): the
	// test is about what the budget keeps, not about the optimizer.
	sm := e.Models().(pipelinetest.SimModels)
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) {
		d.Models = scriptedModels{&scripted{Generator: sm.M, reply: func(int, *llm.Request) string {
			return rewriteJSON(t, "You are a helpful assistant.", allFixed)
		}}}
	})
	_ = e.Upload(t, "translation-fr.yaml", readSample(t, "translation-fr.yaml"))
	_ = e.Upload(t, "translation-fr.csv", csv)
	est, err := e.P.DryRun(t.Context(), pipeline.StartRequest{Dataset: "gs://" + pipelinetest.Datasets + "/translation-fr.csv"})
	if err != nil {
		t.Fatal(err)
	}
	// Baseline (40 train + 20 val) and one epoch's optimizer call and val
	// phase fit; the accepted candidate's train phase does not.
	const maxCalls = 90
	t.Logf("dry-run estimate: %d calls, %d input and %d output tokens, %d phases", est.Calls, est.InputTokens, est.OutputTokens, len(est.Phases))
	if est.Calls <= maxCalls {
		t.Fatalf("estimate %d calls: the budget %d is not below it", est.Calls, maxCalls)
	}
	layer := []byte("budget: {max_calls: 90}\n")
	_ = e.Upload(t, "translation-fr.yaml", readSample(t, "translation-fr.yaml")+string(layer))
	u := e.Upload(t, "translation-fr.csv", csv)
	id, err := e.P.StartFromUpload(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusBudgetExhausted {
		t.Fatalf("status %s (usage %+v), want budget_exhausted", r.Status, r.Usage)
	}
	const batchSize = 10 // translation-fr.yaml
	if r.Usage.Calls > maxCalls+batchSize {
		t.Errorf("spent %d calls, budget %d + one batch of %d", r.Usage.Calls, maxCalls, batchSize)
	}
	best, err := e.Store.GetPrompt(t.Context(), id, r.IncumbentID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Blob.ReadAll(t.Context(), pipelinetest.Artifacts, blob.ExportPath(id, "output.txt"), 0)
	if err != nil {
		t.Fatalf("best prompt not exported: %v", err)
	}
	if string(out) != best.Output {
		t.Errorf("exported %q, want the best prompt's %q", out, best.Output)
	}
	if r.BestVal < r.InitialVal || r.IncumbentID == r.InitialPromptID {
		t.Errorf("best val %.3f (prompt %s) vs initial %.3f: want the accepted candidate kept", r.BestVal, r.IncumbentID, r.InitialVal)
	}
	events, err := e.Store.ListEvents(t.Context(), id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	var why string
	for _, ev := range events {
		if ev.Kind == string(store.StatusBudgetExhausted) {
			why = ev.Message
		}
	}
	if !strings.Contains(why, "max_calls 90") {
		t.Errorf("budget event %q, want it to name the limit", why)
	}
}

// TestBudgetStopsBeforeBaseline: a budget the baseline's estimate already
// crosses publishes nothing and exports the initial prompt.
func TestBudgetStopsBeforeBaseline(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	e := pipelinetest.New(t, csv)
	cm := &countingModels{next: e.Models(), calls: map[string]int{}}
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { d.Models = cm })
	_ = e.Upload(t, "t.yaml", "budget: {max_tokens: 500}\n")
	id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "t.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	if bs, _ := e.Q.Take(); len(bs) != 0 {
		t.Errorf("%d batches published", len(bs))
	}
	e.Drain(t, false)
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusBudgetExhausted || r.Stage != store.StageDone || len(cm.take()) != 0 {
		t.Fatalf("run %s/%s: want budget_exhausted at once, with no model call", r.Status, r.Stage)
	}
	v0, err := e.Store.GetPrompt(t.Context(), id, r.InitialPromptID)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.Blob.ReadAll(t.Context(), pipelinetest.Artifacts, blob.ExportPath(id, "system.txt"), 0)
	if err != nil || string(out) != v0.System {
		t.Errorf("export %q (%v), want the initial prompt %q", out, err, v0.System)
	}
}

// blockingModels blocks the primary's answer for inputs containing a word,
// as a safety filter would.
type blockingModels struct {
	next pipeline.Models
	word string
}

func (b blockingModels) Model(ctx context.Context, m config.Model) (pipeline.Generator, error) {
	g, err := b.next.Model(ctx, m)
	if err != nil {
		return nil, err
	}
	return blockingGen{g: g, word: b.word}, nil
}

type blockingGen struct {
	g    pipeline.Generator
	word string
}

func (b blockingGen) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if req.Purpose == "primary" && strings.Contains(req.Prompt, b.word) {
		return nil, &llm.Error{Kind: llm.Permanent, Reason: llm.ReasonSafety, Err: errors.New("blocked: SAFETY")}
	}
	return b.g.Generate(ctx, req)
}

// TestPermanentPrimaryErrorsAreRecorded: a safety block is recorded on the
// example with its reason and counted as an error (never a wrong answer),
// and the run goes on.
func TestPermanentPrimaryErrorsAreRecorded(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	e := pipelinetest.New(t, csv)
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { d.Models = blockingModels{next: e.Models(), word: " is "} })
	id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "t.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusSucceeded {
		t.Fatalf("status %s: permanent example errors must not fail the run", r.Status)
	}
	res, _, err := e.P.PhaseResults(t.Context(), id, pipeline.PhaseID("train", r.InitialPromptID), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	blocked := 0
	for _, x := range res {
		if !strings.Contains(x.Input, " is ") {
			continue
		}
		blocked++
		if x.Score != nil || x.Reason != llm.ReasonSafety || !strings.HasPrefix(x.Error, "llm: ") {
			t.Errorf("blocked example %s: score %v reason %q error %q; want no score, reason safety", x.ID, x.Score, x.Reason, x.Error)
		}
	}
	ph, err := e.Store.GetPhase(t.Context(), id, pipeline.PhaseID("train", r.InitialPromptID))
	if err != nil {
		t.Fatal(err)
	}
	if blocked == 0 || ph.Metrics.Errors != blocked || ph.Usage.Errors != blocked {
		t.Errorf("%d blocked examples; phase errors %d, usage errors %d", blocked, ph.Metrics.Errors, ph.Usage.Errors)
	}
}

// judgingModels answers the llm_judge calls itself: blocked (a permanent
// safety error) for questions containing word, a verdict of 7/10 otherwise.
type judgingModels struct {
	next pipeline.Models
	word string
}

func (j judgingModels) Model(ctx context.Context, m config.Model) (pipeline.Generator, error) {
	g, err := j.next.Model(ctx, m)
	if err != nil {
		return nil, err
	}
	return judgingGen{g: g, word: j.word}, nil
}

type judgingGen struct {
	g    pipeline.Generator
	word string
}

func (j judgingGen) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if req.Purpose != "judge" {
		return j.g.Generate(ctx, req)
	}
	if strings.Contains(req.Prompt, j.word) {
		return nil, &llm.Error{Kind: llm.Permanent, Reason: llm.ReasonSafety, Err: errors.New("blocked: SAFETY")}
	}
	return &llm.Response{Text: `{"reasoning":"fine","score":7}`, Usage: llm.Usage{InputTokens: 50, OutputTokens: 10, TotalTokens: 60}}, nil
}

// TestPermanentJudgeErrorsAreRecorded: a judge call blocked for safety
// leaves the example unscored with the reason, like a blocked answer.
func TestPermanentJudgeErrorsAreRecorded(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	e := pipelinetest.New(t, csv)
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { d.Models = judgingModels{next: e.Models(), word: " is "} })
	_ = e.Upload(t, "t.yaml", "epochs: 1\nmetrics: [{name: llm_judge, options: {rubric: \"A faithful French translation.\"}}]\n")
	id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "t.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	res, _, err := e.P.PhaseResults(t.Context(), id, pipeline.PhaseID("train", r.InitialPromptID), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	blocked := 0
	for _, x := range res {
		if !strings.Contains(x.Input, " is ") {
			continue
		}
		blocked++
		if x.Score != nil || x.Reason != llm.ReasonSafety || !strings.HasPrefix(x.Error, "score: ") {
			t.Errorf("example %s with a blocked judge: score %v reason %q error %q; want no score, reason safety", x.ID, x.Score, x.Reason, x.Error)
		}
	}
	if blocked == 0 || len(res) == blocked {
		t.Fatalf("%d of %d examples blocked: the sample does not exercise both cases", blocked, len(res))
	}
}

// missingModels answers every primary call with a 404: the model name is
// wrong.
type missingModels struct{ next pipeline.Models }

func (m missingModels) Model(ctx context.Context, c config.Model) (pipeline.Generator, error) {
	g, err := m.next.Model(ctx, c)
	if err != nil {
		return nil, err
	}
	return missingGen{g: g}, nil
}

type missingGen struct{ g pipeline.Generator }

func (m missingGen) Generate(ctx context.Context, req *llm.Request) (*llm.Response, error) {
	if req.Purpose == "primary" {
		return nil, llm.StatusError(404, 0, errors.New("models/gemini-9 is not found"))
	}
	return m.g.Generate(ctx, req)
}

// TestModelNotFoundFailsRun: a permanent error that every call would meet
// (a wrong model name, credentials, permissions) fails the run with its
// reason, instead of being recorded on every example of a run that then
// "succeeds" with nothing scored.
func TestModelNotFoundFailsRun(t *testing.T) {
	csv := readSample(t, "translation-fr.csv")
	e := pipelinetest.New(t, csv)
	e.With(t, func(d *pipeline.Deps, c *pipeline.Config) { d.Models = missingModels{next: e.Models()} })
	id, err := e.P.StartFromUpload(t.Context(), e.Upload(t, "t.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	e.Drain(t, false)
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != store.StatusFailed || r.Error == nil || !strings.Contains(r.Error.Message, "not_found") {
		t.Fatalf("run %s (error %+v), want failed naming not_found", r.Status, r.Error)
	}
}
