package pipeline

import (
	"fmt"
	"testing"

	"cloud.google.com/go/firestore"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/localcloud"
	"github.com/promptml/promptml/shared/store"
)

// TestObserveCountsTheLedger: the budget checks count what the run's
// ledger holds, whatever the caller's copy of the run says and whether or
// not a phase or batch reports the calls: here a failed attempt's 20 calls
// (on no batch document) and 5 calls recorded after the caller read the
// run.
func TestObserveCountsTheLedger(t *testing.T) {
	localcloud.RequireEmulators(t)
	fs, err := firestore.NewClient(t.Context(), localcloud.ProjectID(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	p := &Pipeline{store: store.New(fs)}
	ctx := t.Context()
	r := &store.Run{ID: "observe-" + attemptID(), Status: store.StatusRunning}
	if err := p.store.CreateRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	record := func(attempt string, n int) {
		l := spendLedger{store: p.store, run: r.ID, phase: "val-p1", attempt: attempt}
		for i := range n {
			if err := l.Record(ctx, fmt.Sprintf("%s-%04d", attempt, i), llm.Spend{Model: "sim/sim-primary", Role: "primary",
				Tally: llm.Tally{Calls: 1, InputTokens: 10, OutputTokens: 2, CostUSD: 0.1}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	record("failed", 20)
	stale, err := p.store.GetRun(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	record("late", 5)
	o, err := p.observe(ctx, stale)
	if err != nil {
		t.Fatal(err)
	}
	if o.spent.calls != 25 || o.spent.tokens != 300 || o.spent.usd < 2.5-1e-9 || o.spent.usd > 2.5+1e-9 {
		t.Errorf("spent %+v, want 25 calls, 300 tokens and $2.50 (the ledger's entries)", o.spent)
	}
}
