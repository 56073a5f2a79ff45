package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/promptml/promptml/functions/api/wire"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/store"
)

// docAPI serves one run's documents as the API does, for the commands
// that read them (status, watch, runs).
func docAPI(t *testing.T, run *wire.Run, epochs []*wire.Epoch, prompts []*wire.Prompt) *httptest.Server {
	t.Helper()
	if epochs == nil {
		epochs = []*wire.Epoch{}
	}
	if prompts == nil {
		prompts = []*wire.Prompt{}
	}
	base := "/runs/" + run.ID
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		var v any
		switch r.URL.Path {
		case "/runs":
			v = map[string]any{"runs": []*wire.Run{run}}
		case base:
			v = run
		case base + "/epochs":
			v = wire.Epochs{Epochs: epochs}
		case base + "/prompts":
			v = wire.Prompts{Prompts: prompts}
		case base + "/phases":
			v = wire.Phases{Phases: []*wire.Phase{}}
		case base + "/events":
			v = wire.Events{Events: []*wire.Event{}}
		default:
			w.WriteHeader(http.StatusNotFound)
			v = map[string]string{"error": "not found"}
		}
		_ = json.NewEncoder(w).Encode(v)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestJSONShownValuesAreRounded: the summary --json writes is a shown value
// and carries no float noise; the stored documents `status --json` prints
// keep full precision (issue 17 item 12).
func TestJSONShownValuesAreRounded(t *testing.T) {
	// Variables, not constants: Go folds constant arithmetic exactly.
	a, b, c, d := 0.1, 0.2, 0.7, 0.4
	noisy := a + b // 0.30000000000000004
	delta := c - d // 0.29999999999999993
	run := &wire.Run{ID: "r1", Status: store.StatusSucceeded, Stage: store.StageDone, InitialPromptID: "p0", IncumbentID: "p1",
		InitialVal: 0.4, BestVal: 0.7, Usage: store.Usage{Calls: 3, CostUSD: noisy}}
	epochs := []*wire.Epoch{{N: 1, IncumbentID: "p0", IncumbentTrain: noisy, IncumbentVal: 0.4, BestCandidate: "p1", BestVal: 0.7,
		Delta: delta, Decision: store.DecisionAccepted, Candidates: []wire.Candidate{{PromptID: "p1"}}}}
	prompts := []*wire.Prompt{
		{ID: "p0", Scores: map[string]eval.Summary{"val": {N: 10, Mean: 0.4}, "test": {N: 10, Mean: noisy}}},
		{ID: "p1", Scores: map[string]eval.Summary{"val": {N: 10, Mean: 0.7}, "test": {N: 10, Mean: 0.8}}},
	}
	srv := docAPI(t, run, epochs, prompts)
	js := filepath.Join(t.TempDir(), "summary.json")
	if out, code, err := runCLI(t, "watch", "r1", "--json", js, "--api", srv.URL); err != nil || code != 0 {
		t.Fatalf("watch: %v (exit %d)\n%s", err, code, out)
	}
	raw, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	shown := string(raw)
	for _, noise := range []string{"0.30000000000000004", "0.29999999999999993"} {
		if strings.Contains(shown, noise) {
			t.Errorf("summary JSON carries float noise %s:\n%s", noise, shown)
		}
	}
	for _, s := range []string{`"delta": 0.3`, `"incumbent_train": 0.3`, `"cost_usd": 0.3`, `"test": 0.3`} {
		if !strings.Contains(shown, s) {
			t.Errorf("summary JSON lacks %s:\n%s", s, shown)
		}
	}

	out, code, err := runCLI(t, "status", "r1", "--json", "--api", srv.URL)
	if err != nil || code != 0 {
		t.Fatalf("status --json: %v (exit %d)\n%s", err, code, out)
	}
	if !strings.Contains(out, `"cost_usd": 0.30000000000000004`) {
		t.Errorf("status --json rounded the stored cost; want full precision:\n%s", out)
	}
}

func TestRound12(t *testing.T) {
	a, b, c, d := 0.1, 0.2, 0.7, 0.4
	tests := []struct {
		name string
		in   float64
		want float64
	}{
		{"sum noise", a + b, 0.3},
		{"difference noise", c - d, 0.3},
		{"small cost kept", 0.000012345678901234, 0.0000123456789012},
		{"zero", 0, 0},
		{"exact", 0.95, 0.95},
		{"negative", -(a + b), -0.3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := round12(tc.in); got != tc.want {
				t.Errorf("round12(%v) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

// TestUnscoredIsNotZero: a score that does not exist yet is shown as "–"
// or "not scored", never as 0.000, in status, runs and the final summary
// (issue 17 item 3); a scored zero still reads 0.000.
func TestUnscoredIsNotZero(t *testing.T) {
	intakeFailed := &wire.Run{ID: "rintake", Status: store.StatusFailed, Stage: store.StageIntake,
		Source: store.Source{Bucket: "b", Object: "dates.csv"}, Error: &store.RunError{Message: "invalid CSV gs://b/dates.csv: row 2: empty"}}
	atBaseline := &wire.Run{ID: "rbase", Status: store.StatusRunning, Stage: store.StageBaseline, InitialPromptID: "p0", IncumbentID: "p0",
		Dataset: store.Dataset{URI: "gs://b/d.csv", Rows: 30, Counts: map[string]int{"train": 18, "val": 6, "test": 6}}}
	cancelledAtBaseline := &wire.Run{ID: "rcancel", Status: store.StatusCancelled, Stage: store.StageBaseline, InitialPromptID: "p0", IncumbentID: "p0",
		Dataset: store.Dataset{URI: "gs://b/d.csv", Rows: 30, Counts: map[string]int{"train": 18, "val": 6, "test": 6}}}
	scoredZero := &wire.Run{ID: "rzero", Status: store.StatusSucceeded, Stage: store.StageDone, InitialPromptID: "p0", IncumbentID: "p0",
		Dataset: store.Dataset{URI: "gs://b/d.csv", Rows: 30, Counts: map[string]int{"train": 18, "val": 6, "test": 6}}}
	unscoredPrompt := []*wire.Prompt{{ID: "p0", Scores: map[string]eval.Summary{}}}
	zeroPrompt := []*wire.Prompt{{ID: "p0", Scores: map[string]eval.Summary{"val": {N: 6, Mean: 0}}}}

	tests := []struct {
		name    string
		run     *wire.Run
		prompts []*wire.Prompt
		args    []string
		says    []string
		notSays []string
	}{
		{"status of a run failed at intake", intakeFailed, nil, []string{"status", "rintake"},
			[]string{"gs://b/dates.csv (not read: the run failed at intake)", "not scored: the run ended at intake"}, []string{"0 rows", "initial 0.000", "best 0.000"}},
		{"status before val is scored", atBaseline, unscoredPrompt, []string{"status", "rbase"},
			[]string{"val       not scored yet", "30 rows"}, []string{"initial 0.000", "best 0.000"}},
		{"runs before val is scored", atBaseline, unscoredPrompt, []string{"runs"},
			[]string{"rbase  running  0      –         –"}, []string{" 0.000 "}},
		{"summary of a run cancelled at baseline", cancelledAtBaseline, unscoredPrompt, []string{"watch", "rcancel"},
			[]string{"Val: not scored (the run ended before its baseline)"}, []string{"initial 0.000", "final 0.000"}},
		{"a scored zero is a score", scoredZero, zeroPrompt, []string{"status", "rzero"},
			[]string{"initial 0.000 → best 0.000 (p0)"}, []string{"not scored"}},
		{"summary of a scored zero", scoredZero, zeroPrompt, []string{"watch", "rzero"},
			[]string{"Val: initial 0.000 → final 0.000."}, []string{"not scored"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := docAPI(t, tc.run, nil, tc.prompts)
			out, _, err := runCLI(t, append(tc.args, "--api", srv.URL)...)
			if err != nil && tc.run.Status == store.StatusSucceeded {
				t.Fatalf("%v: %v\n%s", tc.args, err, out)
			}
			for _, s := range tc.says {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.notSays {
				if strings.Contains(out, s) {
					t.Errorf("output shows %q:\n%s", s, out)
				}
			}
		})
	}

	t.Run("summary JSON has null for an unscored val", func(t *testing.T) {
		srv := docAPI(t, cancelledAtBaseline, nil, unscoredPrompt)
		js := filepath.Join(t.TempDir(), "s.json")
		_, code, _ := runCLI(t, "watch", "rcancel", "--json", js, "--api", srv.URL)
		if code != exitRunEnded {
			t.Errorf("exit %d, want %d for a cancelled run", code, exitRunEnded)
		}
		raw, err := os.ReadFile(js)
		if err != nil {
			t.Fatal(err)
		}
		var s struct {
			Initial map[string]any `json:"initial"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		if v, ok := s.Initial["val"]; !ok || v != nil {
			t.Errorf("initial.val = %v (present %v), want null:\n%s", v, ok, raw)
		}
	})
}
