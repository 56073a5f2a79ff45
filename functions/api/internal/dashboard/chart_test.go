package dashboard

import (
	"strings"
	"testing"

	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/store"
)

func TestChart(t *testing.T) {
	pv := 0.01
	epochs := []*store.Epoch{
		{N: 1, IncumbentTrain: 0, IncumbentVal: 0, BestCandidate: "pa", Decision: store.DecisionAccepted,
			Candidates: []store.EpochCandidate{{PromptID: "pa", Val: 0.25, Status: store.CandidateAccepted}, {PromptID: "pb", Val: 0.1, Status: store.CandidateRejected}}},
		{N: 2, IncumbentTrain: 0.2, IncumbentVal: 0.25, BestCandidate: "pc", Decision: store.DecisionRejected, PValue: &pv,
			Candidates: []store.EpochCandidate{{PromptID: "pc", Val: 0.2, Status: store.CandidateRejected}, {PromptID: "pd", Status: store.CandidateBlocked, Note: "too long"}}},
		{N: 3, IncumbentTrain: 0.2, IncumbentVal: 0.25, Decision: store.DecisionNoChange,
			Candidates: []store.EpochCandidate{{PromptID: "pa", Status: store.CandidateNoChange}}},
		// An epoch whose candidate the gate has not scored yet (running, or
		// the run was cancelled): its Val is 0 but means nothing.
		{N: 4, IncumbentTrain: 0.2, IncumbentVal: 0.25,
			Candidates: []store.EpochCandidate{{PromptID: "pe", Status: store.CandidateProposed}}},
	}
	tests := []struct {
		name   string
		run    *store.Run
		epochs []*store.Epoch
		want   map[string]int // class attribute → circles (legend excluded)
		has    []string
	}{
		{"three epochs and test", &store.Run{Test: &store.TestResult{Initial: eval.Summary{Mean: 0}, Best: eval.Summary{Mean: 0.3}}}, epochs[:3],
			map[string]int{`"pt inc-train"`: 3, `"pt inc-val"`: 3, `"pt cand"`: 2, `"pt cand accepted"`: 1, `"pt test-initial"`: 1, `"pt test-best"`: 1},
			[]string{"candidate pb val 0.100 (rejected)", ">test</text>", `<polyline class="series inc-val"`, "test: best prompt 0.300"}},
		{"running, no test", &store.Run{}, epochs[:1],
			map[string]int{`"pt inc-train"`: 1, `"pt inc-val"`: 1, `"pt cand accepted"`: 1, `"pt test-best"`: 0}, nil},
		{"unscored candidate has no point", &store.Run{}, epochs,
			map[string]int{`"pt inc-val"`: 4, `"pt cand"`: 2, `"pt cand accepted"`: 1}, nil},
		{"no epoch", &store.Run{}, nil, map[string]int{`"pt inc-val"`: 0}, []string{"no epoch yet"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			svg := string(Chart(tc.run, tc.epochs))
			if !strings.HasPrefix(svg, "<svg") || !strings.HasSuffix(svg, "</svg>") {
				t.Fatalf("not an svg: %.80s", svg)
			}
			for class, n := range tc.want {
				if got := strings.Count(svg, `<circle class=`+class+` cx=`); got != n {
					t.Errorf("%d circles of class %s, want %d", got, class, n)
				}
			}
			for _, s := range tc.has {
				if !strings.Contains(svg, s) {
					t.Errorf("svg lacks %q", s)
				}
			}
		})
	}
}
