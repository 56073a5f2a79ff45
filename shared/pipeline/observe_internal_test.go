package pipeline

import (
	"testing"

	"cloud.google.com/go/firestore"

	"github.com/promptml/promptml/shared/localcloud"
	"github.com/promptml/promptml/shared/store"
)

// TestObserveStaleRun: a phase that finished after the caller read the run
// (its usage is on the run document now, not on the caller's copy) is
// still counted in the spend: the budget checks never miss a whole phase.
func TestObserveStaleRun(t *testing.T) {
	localcloud.RequireEmulators(t)
	fs, err := firestore.NewClient(t.Context(), localcloud.ProjectID(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	p := &Pipeline{store: store.New(fs)}
	ctx := t.Context()
	r := &store.Run{ID: "observe-" + attemptID(), Status: store.StatusRunning, Usage: store.Usage{Calls: 5, CostUSD: 0.5}}
	if err := p.store.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	stale, err := p.store.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.EnsurePhase(ctx, r.ID, &store.Phase{ID: "val-p1", Split: "val", PromptID: "p1", TotalBatches: 1}); err != nil {
		t.Fatal(err)
	}
	if err := p.store.FinishPhase(ctx, r.ID, "val-p1", store.Phase{Metrics: nil, Usage: store.Usage{Calls: 20, CostUSD: 2}}); err != nil {
		t.Fatal(err)
	}
	o, err := p.observe(ctx, stale)
	if err != nil {
		t.Fatal(err)
	}
	if o.spent.calls != 25 || o.spent.usd < 2.5-1e-9 {
		t.Errorf("spent %+v, want 25 calls and $2.50 (the run's 5 and the finished phase's 20)", o.spent)
	}
}
