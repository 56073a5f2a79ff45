package store

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestDoneBatchUsage sums the usage of a pending phase's done batches with
// the emulator's aggregation queries: nothing before the first batch, each
// batch once (a duplicate completion does not count twice), integer
// counts and fractional costs.
func TestDoneBatchUsage(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	mustCreateRun(t, s, &Run{ID: "r", Status: StatusRunning})
	if _, err := s.EnsurePhase(ctx, "r", &Phase{ID: "val-p1", Split: "val", PromptID: "p1", TotalBatches: 3}); err != nil {
		t.Fatal(err)
	}
	approx := cmpopts.EquateApprox(0, 1e-12)

	n, u, err := s.DoneBatchUsage(ctx, "r", "val-p1")
	if err != nil || n != 0 || u != (Usage{}) {
		t.Fatalf("DoneBatchUsage before any batch = %d, %+v, %v; want 0, zero usage, nil", n, u, err)
	}
	batches := []Usage{
		{Calls: 10, InputTokens: 1200, OutputTokens: 340, Errors: 1, CacheHits: 2, CostUSD: 0.00125},
		{Calls: 7, InputTokens: 800, OutputTokens: 210, CacheHits: 3, CostUSD: 0.0008, CachedInputTokens: 512, ThinkingTokens: 90},
	}
	var want Usage
	for i, b := range batches {
		if _, err := s.CompleteBatch(ctx, "r", "val-p1", Batch{N: i, Usage: b}); err != nil {
			t.Fatal(err)
		}
		want = want.Add(b)
	}
	if _, err := s.CompleteBatch(ctx, "r", "val-p1", Batch{N: 1, Usage: batches[1]}); err != nil {
		t.Fatal(err)
	}
	n, u, err = s.DoneBatchUsage(ctx, "r", "val-p1")
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("done batches = %d, want 2", n)
	}
	if diff := cmp.Diff(want, u, approx); diff != "" {
		t.Errorf("usage of the done batches (-want +got):\n%s", diff)
	}
	if math.Abs(u.CostUSD-0.00205) > 1e-12 {
		t.Errorf("cost = %v, want 0.00205", u.CostUSD)
	}
}
