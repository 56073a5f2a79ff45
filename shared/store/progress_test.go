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

// TestRunSpend sums a run's spend ledger: nothing before the first call;
// every entry once by id (a rewrite of the same entry counts once, two
// attempts' entries twice, as the provider saw them); cache hits apart from
// paid calls; by model with keys that hold "/" and "."; and a settled run
// keeps its errors and never goes back to an older, smaller sum.
func TestRunSpend(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	mustCreateRun(t, s, &Run{ID: "r", Status: StatusRunning, Usage: Usage{Errors: 2},
		UsageByModel: map[string]Usage{"sim/sim-primary": {Errors: 2}}})
	approx := cmpopts.EquateApprox(0, 1e-12)
	primary, opt := "sim/sim-primary", "openai/gpt-4.1 http://127.0.0.1:1/v1"
	total, by, err := s.RunSpend(ctx, "r", []string{primary, opt})
	if err != nil || total != (Usage{}) || len(by) != 0 {
		t.Fatalf("RunSpend before any call = %+v, %v, %v; want zero", total, by, err)
	}
	entries := []struct {
		id string
		e  SpendEntry
	}{
		{"a1-0001", SpendEntry{Model: primary, Role: "primary", Phase: "val-p1", Attempt: "a1", Usage: Usage{Calls: 1, InputTokens: 120, OutputTokens: 34, CostUSD: 0.000125}}},
		{"a1-0002", SpendEntry{Model: opt, Role: "judge", Phase: "val-p1", Attempt: "a1", Usage: Usage{Calls: 1, InputTokens: 80, OutputTokens: 21, CostUSD: 0.0008, CachedInputTokens: 64, ThinkingTokens: 9}}},
		// The same call made again by a duplicate delivery: paid twice.
		{"a2-0001", SpendEntry{Model: primary, Role: "primary", Phase: "val-p1", Attempt: "a2", Usage: Usage{Calls: 1, InputTokens: 120, OutputTokens: 34, CostUSD: 0.000125}}},
		{"a3-0001", SpendEntry{Model: primary, Role: "primary", Phase: "val-p1", Attempt: "a3", Usage: Usage{CacheHits: 1}}},
		{"o1-0001", SpendEntry{Model: opt, Role: "optimizer", Epoch: 1, Attempt: "o1", Usage: Usage{Calls: 1, InputTokens: 900, OutputTokens: 300, CostUSD: 0.01}}},
	}
	for _, en := range entries {
		if err := s.RecordSpend(ctx, "r", en.id, en.e); err != nil {
			t.Fatal(err)
		}
	}
	// A retried write of an entry it already wrote.
	if err := s.RecordSpend(ctx, "r", entries[0].id, entries[0].e); err != nil {
		t.Fatal(err)
	}
	total, by, err = s.RunSpend(ctx, "r", []string{primary, opt, "sim/unused"})
	if err != nil {
		t.Fatal(err)
	}
	wantBy := map[string]Usage{
		primary: {Calls: 2, InputTokens: 240, OutputTokens: 68, CacheHits: 1, CostUSD: 0.00025},
		opt:     {Calls: 2, InputTokens: 980, OutputTokens: 321, CostUSD: 0.0108, CachedInputTokens: 64, ThinkingTokens: 9},
	}
	wantTotal := wantBy[primary].Add(wantBy[opt])
	if diff := cmp.Diff(wantTotal, total, approx); diff != "" {
		t.Errorf("total (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantBy, by, approx); diff != "" {
		t.Errorf("by model (-want +got):\n%s", diff)
	}

	_, wrote, err := s.SettleRunUsage(ctx, "r", total, by)
	if err != nil || !wrote {
		t.Fatalf("SettleRunUsage = %v, %v; want a write", wrote, err)
	}
	older := Usage{Calls: 1, InputTokens: 120, OutputTokens: 34, CostUSD: 0.000125}
	if _, wrote, err := s.SettleRunUsage(ctx, "r", older, map[string]Usage{primary: older}); err != nil || wrote {
		t.Errorf("SettleRunUsage with an older sum = %v, %v; want no write", wrote, err)
	}
	r, err := s.GetRun(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	wantRun := wantTotal
	wantRun.Errors = 2
	if diff := cmp.Diff(wantRun, r.Usage, approx); diff != "" {
		t.Errorf("settled run usage (-want +got):\n%s", diff)
	}
	p := wantBy[primary]
	p.Errors = 2
	if diff := cmp.Diff(map[string]Usage{primary: p, opt: wantBy[opt]}, r.UsageByModel, approx); diff != "" {
		t.Errorf("settled usage by model (-want +got):\n%s", diff)
	}
}
