package api_test

import (
	"bytes"
	"html"
	"net/http"
	"testing"

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
	run, err := e.P.Store.GetRun(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	const blocked, reason = "p0123456789ab", "prompts are 154 characters long, over the limit of 60"
	if err := e.P.Store.PutEpoch(ctx, id, &store.Epoch{N: 1, IncumbentID: run.InitialPromptID, Decision: store.DecisionNoChange,
		Candidates: []store.EpochCandidate{{PromptID: blocked, Status: store.DecisionBlocked, Note: reason,
			System: "You are terse.", Output: "Answer <b>only</b>.", Reasoning: "Preambles everywhere."}}}); err != nil {
		t.Fatal(err)
	}
	const why = "Budget exhausted: the next stage would bring the run to 121 calls > budget.max_calls 90."
	if err := e.P.Store.AddEvent(ctx, id, "budget", store.Event{Kind: store.StatusBudgetExhausted, Message: why}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.P.Store.UpdateRun(ctx, id, func(r *store.Run) error {
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
