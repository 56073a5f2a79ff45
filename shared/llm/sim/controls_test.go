package sim

import (
	"math/rand/v2"
	"testing"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/optimize"
)

// trainWith runs TestConvergence's loop (4 epochs × 2 candidates, the best
// val kept) with propose as the optimizer, and returns the initial val,
// the final val and the best val any candidate reached.
func trainWith(t *testing.T, m *Model, data []pair, propose func(d optimize.Data) (optimize.Candidate, bool)) (initial, final, bestCand float64) {
	t.Helper()
	train, val := data[:40], data[40:]
	sys, out := neutralSystem, neutralOutput
	valScore, _ := score(t, m, val, sys, out)
	initial, bestCand = valScore, -1
	for e := 0; e < 4; e++ {
		trainScore, fails := score(t, m, train, sys, out)
		if len(fails) > 10 {
			fails = fails[:10]
		}
		bestSys, bestOut, best := sys, out, valScore
		for c := 0; c < 2; c++ {
			cand, ok := propose(optimize.Data{Strategy: "rewrite", SystemPrompt: sys, OutputPrompt: out,
				Metrics:  optimize.Metrics{Metric: "exact_match", Mean: trainScore, PassRate: trainScore, N: len(train)},
				Failures: fails, Candidate: c})
			if !ok {
				continue
			}
			v, _ := score(t, m, val, cand.System, cand.Output)
			bestCand = max(bestCand, v)
			if v > best {
				bestSys, bestOut, best = cand.System, cand.Output, v
			}
		}
		sys, out, valScore = bestSys, bestOut, best
	}
	return initial, valScore, bestCand
}

// TestControlGenericProposer (issue 19 item 7): a proposer that appends
// random generic instructions, which name no pattern of the failures, does
// not reach the target the real loop reaches (TestConvergence: 0.95).
func TestControlGenericProposer(t *testing.T) {
	generic := []string{"Be accurate and concise.", "Be helpful and clear.", "Think carefully before answering.",
		"Follow the task closely.", "Give a good answer.", "Be precise.", "Make the answer as useful as possible.",
		"Pay attention to detail.", "Use your best judgment.", "Answer well."}
	for _, tt := range []struct {
		name string
		data []pair
	}{{"translation", translationPairs(60)}, {"sentiment", sentimentPairs(60)}} {
		t.Run(tt.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, 2))
			m := New(Options{Key: keyOf(tt.data), Seed: 7})
			initial, final, _ := trainWith(t, m, tt.data, func(d optimize.Data) (optimize.Candidate, bool) {
				out := d.OutputPrompt
				for range 1 + rng.IntN(2) {
					out += " " + generic[rng.IntN(len(generic))]
				}
				return optimize.Candidate{System: d.SystemPrompt, Output: out}, true
			})
			t.Logf("generic proposer: val %.2f → %.2f", initial, final)
			if final >= 0.85 {
				t.Errorf("generic instructions reached val %.2f; want below the target 0.85", final)
			}
		})
	}
}

// TestControlUnrelatedMetaPrompt (issue 19 item 7): with a meta-prompt that
// asks for something else, no candidate scores better than the initial
// prompt, with or without an enforced response schema.
func TestControlUnrelatedMetaPrompt(t *testing.T) {
	data := translationPairs(60)
	for _, schema := range []bool{false, true} {
		name := "prose"
		if schema {
			name = "schema"
		}
		t.Run(name, func(t *testing.T) {
			m := New(Options{Key: keyOf(data), Seed: 7})
			replies, built := 0, 0
			initial, final, bestCand := trainWith(t, m, data, func(d optimize.Data) (optimize.Candidate, bool) {
				block, err := optimize.EncodeData(d)
				if err != nil {
					t.Fatal(err)
				}
				req := &llm.Request{Purpose: "optimizer", Prompt: "Write a haiku about cats.\n\n" + block}
				if schema {
					req.ResponseSchema = optimize.ProposalSchema(d.Strategy)
				}
				text := generate(t, m, req)
				replies++
				c, err := optimize.Build(d, text)
				if err != nil {
					return optimize.Candidate{}, false
				}
				built++
				return c, true
			})
			t.Logf("%d replies, %d built into candidates; val %.2f → %.2f, best candidate %.2f", replies, built, initial, final, bestCand)
			if final > initial || bestCand > initial {
				t.Errorf("an unrelated meta-prompt improved val: %.2f → %.2f (best candidate %.2f)", initial, final, bestCand)
			}
		})
	}
}
