package pipeline

import (
	"strings"
	"testing"

	"cloud.google.com/go/firestore"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/localcloud"
	"github.com/promptml/promptml/shared/store"
)

func internalStore(t *testing.T) (*Pipeline, *firestore.Client) {
	t.Helper()
	localcloud.RequireEmulators(t)
	fs, err := firestore.NewClient(t.Context(), localcloud.ProjectID(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return &Pipeline{store: store.New(fs)}, fs
}

// TestMissingEpochNamed: a run whose epoch document is missing when its
// incumbent's train phase is done fails with a message that says so. The
// aggregator used to build it with %v of a nil error: "epoch 1: <nil>".
func TestMissingEpochNamed(t *testing.T) {
	p, _ := internalStore(t)
	ctx := t.Context()
	r := &store.Run{ID: "noepoch-" + attemptID(), Status: store.StatusRunning, Stage: store.StageIncumbentTrain, Epoch: 1}
	if err := p.store.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	_, err := p.leaveIncumbentTrain(ctx, turn{run: r, cfg: config.Defaults()})
	if err == nil {
		t.Fatal("no error for a missing epoch")
	}
	if msg := err.Error(); strings.Contains(msg, "<nil>") || !strings.Contains(msg, "epoch 1 missing") {
		t.Errorf("error %q, want it to say epoch 1 is missing (and no <nil>)", msg)
	}
}

// TestEpochBudgetListEpochsError: a failure to list the epochs fails the
// budget check of an epoch (the transition is retried). It used to be
// ignored, and the epoch was priced as if its optimizer calls cost one call
// each and nothing else.
func TestEpochBudgetListEpochsError(t *testing.T) {
	p, fs := internalStore(t)
	ctx := t.Context()
	r := &store.Run{ID: "badepochs-" + attemptID(), Status: store.StatusRunning, Stage: store.StageCandidates,
		Dataset: store.Dataset{Counts: map[string]int{"val": 20}}}
	if err := p.store.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	// An epoch document that cannot be decoded makes ListEpochs fail.
	if _, err := fs.Collection("runs").Doc(r.ID).Collection("epochs").Doc("001").Set(ctx, map[string]any{"n": 1, "candidates": "not a list"}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.ListEpochs(ctx, r.ID); err == nil {
		t.Fatal("the malformed epoch decodes: the test needs another way to make ListEpochs fail")
	}
	cfg := config.Defaults()
	cfg.Budget = config.Budget{MaxCalls: 1000000}
	why, err := p.epochBudget(ctx, turn{run: r, cfg: cfg}, stay(r), 2)
	if err == nil {
		t.Fatalf("epochBudget = %q, nil error: the ListEpochs failure was swallowed", why)
	}
	if !strings.Contains(err.Error(), "epochBudget") {
		t.Errorf("error %q does not say which check failed", err)
	}
}
