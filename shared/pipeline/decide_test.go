package pipeline

import (
	"strings"
	"testing"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/eval"
	"github.com/promptml/promptml/shared/store"
)

func TestScore(t *testing.T) {
	s := &eval.Summary{Mean: 0.4, PassRate: 0.25}
	for _, tc := range []struct {
		name   string
		s      *eval.Summary
		metric string
		want   float64
	}{
		{"mean", s, "mean", 0.4},
		{"pass rate", s, "pass_rate", 0.25},
		{"no summary", nil, "mean", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := score(tc.s, tc.metric); got != tc.want {
				t.Errorf("score = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestBestCandidate(t *testing.T) {
	c := func(s store.CandidateStatus, v float64) candidateScore { return candidateScore{Status: s, Val: v} }
	for _, tc := range []struct {
		name  string
		cands []candidateScore
		want  int
	}{
		{"none", nil, -1},
		{"only unscored", []candidateScore{c(store.CandidateBlocked, 0.9), c(store.CandidateNoChange, 0.9)}, -1},
		{"highest val", []candidateScore{c(store.CandidateProposed, 0.2), c(store.CandidateProposed, 0.5)}, 1},
		{"a tie goes to the first", []candidateScore{c(store.CandidateProposed, 0.5), c(store.CandidateProposed, 0.5)}, 0},
		{"blocked never wins", []candidateScore{c(store.CandidateBlocked, 1), c(store.CandidateProposed, 0.1)}, 1},
		{"a regated epoch's verdicts count", []candidateScore{c(store.CandidateRejected, 0.3), c(store.CandidateAccepted, 0.6)}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := bestCandidate(tc.cands); got != tc.want {
				t.Errorf("bestCandidate = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestGate(t *testing.T) {
	p := func(v float64) *float64 { return &v }
	for _, tc := range []struct {
		name     string
		in       gateInput
		want     store.Decision
		needTest bool
		note     string
	}{
		{"better, no test", gateInput{Candidate: candidateScore{Val: 0.6}, IncumbentVal: 0.5}, store.DecisionAccepted, true, ""},
		{"equal is not better", gateInput{Candidate: candidateScore{Val: 0.5}, IncumbentVal: 0.5}, store.DecisionRejected, false, ""},
		{"within min_delta", gateInput{Candidate: candidateScore{Val: 0.54}, IncumbentVal: 0.5, MinDelta: 0.05}, store.DecisionRejected, false, ""},
		{"worse", gateInput{Candidate: candidateScore{Val: 0.2}, IncumbentVal: 0.5}, store.DecisionRejected, false, ""},
		{"significant", gateInput{Candidate: candidateScore{Val: 0.7}, IncumbentVal: 0.5, Alpha: 0.1, P: p(0.03)}, store.DecisionAccepted, true, ""},
		{"p at alpha", gateInput{Candidate: candidateScore{Val: 0.7}, IncumbentVal: 0.5, Alpha: 0.1, P: p(0.1)}, store.DecisionAccepted, true, ""},
		{"not significant", gateInput{Candidate: candidateScore{Val: 0.7}, IncumbentVal: 0.5, Alpha: 0.1, P: p(0.125)}, store.DecisionRejected, true, ""},
		{"more unscored examples", gateInput{Candidate: candidateScore{Val: 0.9, Errors: 3}, IncumbentVal: 0.5, IncumbentErrors: 1},
			store.DecisionRejected, false, "no score on 3 val examples vs the incumbent's 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.needsTest(); got != tc.needTest {
				t.Errorf("needsTest = %v, want %v", got, tc.needTest)
			}
			d, note := gate(tc.in)
			if d != tc.want || !strings.Contains(note, tc.note) || (tc.note == "" && note != "") {
				t.Errorf("gate = %s %q, want %s %q", d, note, tc.want, tc.note)
			}
		})
	}
}

func TestStaleAfter(t *testing.T) {
	for _, tc := range []struct {
		name     string
		stale    int
		d        store.Decision
		delta    float64
		minDelta float64
		want     int
	}{
		{"accepted resets", 2, store.DecisionAccepted, 0.1, 0, 0},
		{"accepted below early_stopping.min_delta counts as stale", 1, store.DecisionAccepted, 0.01, 0.05, 2},
		{"rejected", 0, store.DecisionRejected, -0.1, 0, 1},
		{"no change", 1, store.DecisionNoChange, 0, 0, 2},
		{"optimizer failed", 0, store.DecisionOptimizerFailed, 0, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := staleAfter(tc.stale, tc.d, tc.delta, tc.minDelta); got != tc.want {
				t.Errorf("staleAfter = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestTrainingOver(t *testing.T) {
	for _, tc := range []struct {
		name                           string
		epoch, epochs, stale, patience int
		bestVal                        float64
		want                           bool
		why                            string
	}{
		{"first epoch to come", 0, 5, 0, 2, 0.5, false, ""},
		{"epochs reached", 5, 5, 0, 2, 0.5, true, "reached the configured 5 epochs"},
		{"zero epochs: the baseline only", 0, 0, 0, 2, 0.5, true, "configured 0 epochs"},
		{"patience ran out", 3, 5, 2, 2, 0.5, true, "no improvement for 2 epochs (patience 2)"},
		{"patience 0 never stops early", 3, 5, 9, 0, 0.5, false, ""},
		{"perfect on val", 1, 5, 0, 2, 1, true, "perfect on val"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := trainingOver(tc.epoch, tc.epochs, tc.stale, tc.patience, tc.bestVal)
			if got != tc.want || !strings.Contains(why, tc.why) {
				t.Errorf("trainingOver = %v %q, want %v %q", got, why, tc.want, tc.why)
			}
		})
	}
}

func TestEpochOverBudget(t *testing.T) {
	perCall := spend{calls: 1, tokens: 100, usd: 0.01}
	perExample := spend{calls: 1, tokens: 10, usd: 0.001}
	for _, tc := range []struct {
		name  string
		b     config.Budget
		spent spend
		want  string
	}{
		{"no budget", config.Budget{}, spend{calls: 1e6}, ""},
		// 50 spent + 2 optimizer calls + 2 candidates × 20 val examples = 92.
		{"fits exactly", config.Budget{MaxCalls: 92}, spend{calls: 50}, ""},
		{"one call over", config.Budget{MaxCalls: 91}, spend{calls: 50}, "92 calls > budget.max_calls 91"},
		{"tokens", config.Budget{MaxTokens: 500}, spend{tokens: 100}, "tokens > budget.max_tokens 500"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := epochOverBudget(tc.b, tc.spent, spend{}, perCall, perExample, 2, 20)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("epochOverBudget = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPerOptimizerCall(t *testing.T) {
	if got := perOptimizerCall(nil); got != (spend{calls: 1}) {
		t.Errorf("before any epoch = %+v, want one call", got)
	}
	eps := []*store.Epoch{{Usage: store.Usage{Calls: 2, InputTokens: 300, OutputTokens: 100, CostUSD: 0.02}}, {Usage: store.Usage{Calls: 2, InputTokens: 100, CostUSD: 0.02}}}
	if got := perOptimizerCall(eps); got.calls != 1 || got.tokens != 125 || got.usd < 0.01-1e-12 || got.usd > 0.01+1e-12 {
		t.Errorf("average = %+v, want 1 call, 125 tokens, $0.01", got)
	}
}
