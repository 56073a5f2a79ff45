package main

import (
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/promptml/promptml/functions/api"
	"github.com/promptml/promptml/shared/pipeline/pipelinetest"
	"github.com/promptml/promptml/shared/store"
)

// TestStatusBudgetExhausted: a run stopped by its budget has no error, so
// `status` prints the reason from its budget_exhausted event.
func TestStatusBudgetExhausted(t *testing.T) {
	csv, err := os.ReadFile("../../samples/translation-fr.csv")
	if err != nil {
		t.Fatal(err)
	}
	e := pipelinetest.New(t, string(csv))
	srv := httptest.NewServer(api.NewHandler(e.P))
	t.Cleanup(srv.Close)
	t.Setenv(apiEnv, srv.URL)
	out, code, err := runCLI(t, "run", "../../samples/translation-fr.csv", "--config", "../../samples/translation-fr.yaml",
		"--set", "budget.max_calls=90", "--set", "cache=off")
	if err != nil || code != 0 {
		t.Fatalf("run: %v (exit %d)\n%s", err, code, out)
	}
	id := strings.Fields(out)[1]
	e.Drain(t, false)
	run, err := e.Store.GetRun(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != store.StatusBudgetExhausted {
		t.Fatalf("run %s is %s, want budget_exhausted", id, run.Status)
	}
	out, code, err = runCLI(t, "status", id)
	if err != nil || code != 0 {
		t.Fatalf("status: %v (exit %d)\n%s", err, code, out)
	}
	for _, s := range []string{"budget_exhausted (stage done", "stopped", "budget.max_calls 90"} {
		if !strings.Contains(out, s) {
			t.Errorf("status lacks %q:\n%s", s, out)
		}
	}
}
