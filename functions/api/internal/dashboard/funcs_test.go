package dashboard

import (
	"testing"

	"github.com/promptml/promptml/shared/store"
)

// TestScoreFuncs: scores print as they are (a score of 0 is 0.000), while
// a gate's tiny p-value prints as <0.001, not 0.000.
func TestScoreFuncs(t *testing.T) {
	pscore := funcs["pscore"].(func(*float64) string)
	pvalue := funcs["pvalue"].(func(*float64) string)
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name string
		fn   func(*float64) string
		v    *float64
		want string
	}{
		{"zero score", pscore, f(0), "0.000"},
		{"score", pscore, f(0.95), "0.950"},
		{"no score", pscore, nil, "–"},
		{"tiny p-value", pvalue, f(6.1e-05), "<0.001"},
		{"p-value", pvalue, f(0.031), "0.031"},
		{"no p-value", pvalue, nil, "–"},
	}
	for _, tc := range tests {
		if got := tc.fn(tc.v); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestRunValFunc: a run's val scores print as "–" until the baseline has
// scored them, and a scored 0 prints 0.000 (issue 17 item 3).
func TestRunValFunc(t *testing.T) {
	runVal := funcs["runVal"].(func(*store.Run, float64) string)
	tests := []struct {
		name string
		run  *store.Run
		want string
		why  string
	}{
		{"at intake", &store.Run{Status: store.StatusRunning, Stage: store.StageIntake}, "–", "not scored yet"},
		{"failed at intake", &store.Run{Status: store.StatusFailed, Stage: store.StageIntake}, "–", "not scored: the run ended at intake"},
		{"scoring the baseline", &store.Run{Status: store.StatusRunning, Stage: store.StageBaseline}, "–", "not scored yet"},
		{"cancelled in the baseline", &store.Run{Status: store.StatusCancelled, Stage: store.StageBaseline}, "–", "not scored: the run ended before its baseline was scored"},
		{"scored zero", &store.Run{Status: store.StatusRunning, Stage: store.StageCandidates}, "0.000", ""},
		{"done", &store.Run{Status: store.StatusSucceeded, Stage: store.StageDone}, "0.000", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := runVal(tc.run, 0); got != tc.want {
				t.Errorf("runVal = %q, want %q", got, tc.want)
			}
			if tc.why != "" {
				if got := unscoredWhy(tc.run); got != tc.why {
					t.Errorf("unscoredWhy = %q, want %q", got, tc.why)
				}
			}
		})
	}
}
