package api_test

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/promptml/promptml/shared/store"
)

// TestDashboardEndedRun: a run that ran out of budget, with a candidate a
// guard blocked, shows why it stopped, no stale progress bars (its phases
// stay pending forever), no promise of a test score, and the blocked
// candidate with its reason on the prompt evolution page.
func TestDashboardEndedRun(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	e := newEnv(t, csv)
	ctx := t.Context()
	id, err := e.P.StartFromUpload(ctx, e.Upload(t, "sentiment.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	run, err := e.Store.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	const blocked, reason = "p0123456789ab", "prompts are 154 characters long, over the limit of 60"
	if err := e.Store.PutEpoch(ctx, id, &store.Epoch{N: 1, IncumbentID: run.InitialPromptID, Decision: store.DecisionNoChange,
		Candidates: []store.EpochCandidate{{PromptID: blocked, Status: store.CandidateBlocked, Note: reason,
			System: "You are terse.", Output: "Answer <b>only</b>.", Reasoning: "Preambles everywhere."}}}); err != nil {
		t.Fatal(err)
	}
	const why = "Budget exhausted: the next stage would bring the run to 121 calls > budget.max_calls 90."
	if err := e.Store.AddEvent(ctx, id, "budget", store.Event{Kind: string(store.StatusBudgetExhausted), Message: why}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Store.UpdateRun(ctx, id, func(r *store.Run) error {
		r.Status = store.StatusBudgetExhausted
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	whyHTML := html.EscapeString(why)
	tests := []struct {
		path      string
		says, not []string
	}{
		{"/ui/runs/" + id,
			[]string{whyHTML, "not scored: the run ended budget_exhausted", "No phase is running", "prompts#e1-" + blocked, reason},
			[]string{"<progress", "scored when training ends"}},
		{"/ui/runs/" + id + "/prompts",
			[]string{"Blocked candidates", `id="e1-` + blocked + `"`, reason, "Preambles everywhere.", "Answer &lt;b&gt;only&lt;/b&gt;."},
			[]string{"<b>only</b>"}},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			r := e.do(t, http.MethodGet, tc.path, nil)
			if r.code != http.StatusOK {
				t.Fatalf("GET %s = %d", tc.path, r.code)
			}
			for _, s := range tc.says {
				if !bytes.Contains(r.body, []byte(s)) {
					t.Errorf("GET %s lacks %q in\n%s", tc.path, s, r.body)
				}
			}
			for _, s := range tc.not {
				if bytes.Contains(r.body, []byte(s)) {
					t.Errorf("GET %s has %q", tc.path, s)
				}
			}
		})
	}
}

// TestRunningPhaseProgress: while a phase is pending, GET /runs/{id}/phases
// and the run page show, next to its batches done, what those batches used
// (the phase's own usage is only written when it finishes).
func TestRunningPhaseProgress(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	e := newEnv(t, csv)
	ctx := t.Context()
	id, err := e.P.StartFromUpload(ctx, e.Upload(t, "sentiment.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	phases, err := e.Store.ListPhases(ctx, id)
	if err != nil || len(phases) == 0 {
		t.Fatalf("phases of a started run: %v (%d)", err, len(phases))
	}
	ph := phases[0]
	if ph.State != store.PhasePending || ph.TotalBatches < 2 {
		t.Fatalf("first phase %+v: want pending with at least 2 batches", ph)
	}
	used := []store.Usage{
		{Calls: 5, InputTokens: 400, OutputTokens: 60, CacheHits: 1, CostUSD: 0.002},
		{Calls: 7, InputTokens: 500, OutputTokens: 80, CacheHits: 2, CostUSD: 0.0022},
	}
	var want store.Usage
	for n, u := range used {
		if _, err := e.Store.CompleteBatch(ctx, id, ph.ID, store.Batch{N: n, Usage: u}); err != nil {
			t.Fatal(err)
		}
		want = want.Add(u)
	}

	var got struct{ Phases []store.Phase }
	e.getJSON(t, "/runs/"+id+"/phases", &got)
	found := false
	for _, p := range got.Phases {
		if p.ID != ph.ID {
			continue
		}
		found = true
		if p.DoneBatches != 2 {
			t.Errorf("done_batches = %d, want 2", p.DoneBatches)
		}
		if diff := cmp.Diff(want, p.Usage, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
			t.Errorf("usage of the pending phase (-want +got):\n%s", diff)
		}
	}
	if !found {
		t.Fatalf("GET /runs/%s/phases lacks %s: %+v", id, ph.ID, got.Phases)
	}

	r := e.do(t, http.MethodGet, "/ui/runs/"+id, nil)
	if r.code != http.StatusOK {
		t.Fatalf("run page = %d", r.code)
	}
	line := fmt.Sprintf("2/%d batches · 12 calls (+3 cached) · $0.0042", ph.TotalBatches)
	if !bytes.Contains(r.body, []byte(line)) {
		t.Errorf("run page lacks the progress %q in\n%s", line, r.body)
	}
}

// TestDashboardUnscored: a run whose val is not scored yet, and one that
// failed at intake, show "–" and say why, never 0.000 or "0 rows"
// (issue 17 item 3).
func TestDashboardUnscored(t *testing.T) {
	csv := readSample(t, "sentiment.csv")
	e := newEnv(t, csv)
	ctx := t.Context()
	baseline, err := e.P.StartFromUpload(ctx, e.Upload(t, "sentiment.csv", csv))
	if err != nil {
		t.Fatal(err)
	}
	failed, err := e.P.StartFromUpload(ctx, e.Upload(t, "broken.csv", "no,header\n"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := e.Store.GetRun(ctx, failed); err != nil || r.Status != store.StatusFailed {
		t.Fatalf("broken.csv: %v %+v, want a run failed at intake", err, r)
	}
	tests := []struct {
		name      string
		path      string
		says, not []string
	}{
		{"run at its baseline", "/ui/runs/" + baseline, []string{`id="best-val">–</p><p>not scored yet`}, []string{`id="best-val">0.000`, "initial 0.000"}},
		{"run failed at intake", "/ui/runs/" + failed, []string{`id="best-val">–</p><p>not scored: the run ended at intake`, `id="dataset-rows">–</p><p>not read: the run failed at intake`},
			[]string{"0.000", `<p class="big">0</p>`}},
		{"runs list", "/", []string{"<td>–</td><td><b>–</b></td>"}, []string{"<td>0.000</td>", "<b>0.000</b>"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(t, http.MethodGet, tc.path, nil)
			if r.code != http.StatusOK {
				t.Fatalf("GET %s = %d", tc.path, r.code)
			}
			for _, s := range tc.says {
				if !bytes.Contains(r.body, []byte(s)) {
					t.Errorf("GET %s lacks %q in\n%s", tc.path, s, r.body)
				}
			}
			for _, s := range tc.not {
				if bytes.Contains(r.body, []byte(s)) {
					t.Errorf("GET %s has %q", tc.path, s)
				}
			}
		})
	}
}
