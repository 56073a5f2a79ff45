package pipeline_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/promptml/promptml/shared/analytics"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

// fakeAnalytics records the rows the pipeline appends.
type fakeAnalytics struct {
	mu      sync.Mutex
	runs    []analytics.RunRow
	epochs  []analytics.EpochRow
	prompts []analytics.PromptRow
	results []analytics.ResultRow
}

func (f *fakeAnalytics) InsertRuns(_ context.Context, rows []analytics.RunRow) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs = append(f.runs, rows...)
	return nil
}

func (f *fakeAnalytics) InsertEpochs(_ context.Context, rows []analytics.EpochRow) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.epochs = append(f.epochs, rows...)
	return nil
}

func (f *fakeAnalytics) InsertPrompts(_ context.Context, rows []analytics.PromptRow) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.prompts = append(f.prompts, rows...)
	return nil
}

func (f *fakeAnalytics) InsertResults(_ context.Context, rows []analytics.ResultRow) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results = append(f.results, rows...)
	return nil
}

func readSample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../samples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// snapshot is the part of a run's state that must not depend on how often
// messages were delivered.
type snapshot struct {
	Status          store.RunStatus
	Stage           store.Stage
	Initial, Best   string
	InitialVal      float64
	BestVal         float64
	Usage           store.Usage
	Test            *store.TestResult
	Prompts         []string
	Epochs          []string
	Phases          []string
	Events          int
	BatchesPerPhase map[string]int
}

func takeSnapshot(t *testing.T, st *store.Store, id string) snapshot {
	t.Helper()
	ctx := t.Context()
	r, err := st.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	s := snapshot{Status: r.Status, Stage: r.Stage, Initial: r.InitialPromptID, Best: r.IncumbentID,
		InitialVal: r.InitialVal, BestVal: r.BestVal, Usage: r.Usage, Test: r.Test, BatchesPerPhase: map[string]int{}}
	prompts, err := st.ListPrompts(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, pr := range prompts {
		s.Prompts = append(s.Prompts, fmt.Sprintf("%s parent=%s epoch=%d status=%s scores=%v", pr.ID, pr.Parent, pr.Epoch, pr.Status, pr.Scores))
	}
	sort.Strings(s.Prompts)
	epochs, err := st.ListEpochs(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range epochs {
		s.Epochs = append(s.Epochs, fmt.Sprintf("%d inc=%s val=%.4f best=%s %.4f delta=%.4f %s usage=%+v", e.N, e.IncumbentID, e.IncumbentVal, e.BestCandidate, e.BestVal, e.Delta, e.Decision, e.Usage))
	}
	phases, err := st.ListPhases(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range phases {
		metrics := "none" // not done
		if ph.Metrics != nil {
			metrics = fmt.Sprintf("%+v", *ph.Metrics)
		}
		s.Phases = append(s.Phases, fmt.Sprintf("%s %s %s usage=%+v", ph.ID, ph.State, metrics, ph.Usage))
		bs, err := st.ListBatches(ctx, id, ph.ID)
		if err != nil {
			t.Fatal(err)
		}
		s.BatchesPerPhase[ph.ID] = len(bs)
	}
	sort.Strings(s.Phases)
	events, err := st.ListEvents(ctx, id, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	s.Events = len(events)
	return s
}

// requireSpendIsServed fails t unless run id's usage is what its models
// answered, counted at the model (pipelinetest.Served): the same calls and
// tokens. It returns the calls served.
func requireSpendIsServed(t *testing.T, e *pipelinetest.Env, id string) int {
	t.Helper()
	r, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	calls, u := e.Served.Calls()
	if r.Usage.Calls != calls || r.Usage.InputTokens != u.InputTokens || r.Usage.OutputTokens != u.OutputTokens {
		t.Errorf("run %s (%s) reports %d calls, %d+%d tokens; the models answered %d calls, %d+%d tokens",
			id, r.Status, r.Usage.Calls, r.Usage.InputTokens, r.Usage.OutputTokens, calls, u.InputTokens, u.OutputTokens)
	}
	return calls
}
