package sim

import (
	"testing"

	"github.com/promptml/promptml/shared/optimize"
)

// TestConvergence runs the training loop the pipeline runs — primary, exact
// match, optimizer, validation gate — with the simulator in both roles, and
// checks the trajectory the simulator promises: an untuned prompt scores low,
// a few epochs of rewrites fix the habits, and the wrong-answer share caps
// the result.
func TestConvergence(t *testing.T) {
	tests := []struct {
		name string
		data []pair
	}{
		{"translation", translationPairs(60)},
		{"sentiment", sentimentPairs(60)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(Options{Key: keyOf(tt.data), Seed: 7})
			train, val := tt.data[:40], tt.data[40:]
			sys, out := neutralSystem, neutralOutput
			valScore, _ := score(t, m, val, sys, out)
			initial := valScore
			var history []optimize.HistoryEntry
			const epochs, k = 4, 2
			for e := 0; e < epochs; e++ {
				trainScore, fails := score(t, m, train, sys, out)
				if len(fails) > 10 {
					fails = fails[:10]
				}
				bestSys, bestOut, best := sys, out, valScore
				for c := 0; c < k; c++ {
					p := propose(t, m, optimize.Data{
						Strategy: "rewrite", SystemPrompt: sys, OutputPrompt: out,
						Metrics:  optimize.Metrics{Metric: "exact_match", Mean: trainScore, PassRate: trainScore, N: len(train)},
						Failures: fails, History: history, Candidate: c,
					})
					v, _ := score(t, m, val, p.SystemPrompt, p.OutputPrompt)
					history = append(history, optimize.HistoryEntry{SystemPrompt: p.SystemPrompt, OutputPrompt: p.OutputPrompt, ValScore: v})
					t.Logf("epoch %d cand %d val %.2f out %q\n  reasoning: %s", e, c, v, p.OutputPrompt, p.Reasoning)
					if v > best {
						bestSys, bestOut, best = p.SystemPrompt, p.OutputPrompt, v
					}
				}
				sys, out, valScore = bestSys, bestOut, best
			}
			t.Logf("val exact match %.2f → %.2f", initial, valScore)
			if initial > 0.2 {
				t.Errorf("initial val exact match = %.2f, want <= 0.2", initial)
			}
			if valScore < 0.85 {
				t.Errorf("final val exact match = %.2f, want >= 0.85", valScore)
			}
		})
	}
}
