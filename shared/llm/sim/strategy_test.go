package sim

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/optimize"
)

// TestStrategies: each strategy's reply, through the optimizer route,
// builds (optimize.Build) into a candidate of its kind: the rewrite keeps
// the system prompt and adds to the output prompt; the edits keep the
// incumbent's text and add to it; the fewshot reply names pool IDs only,
// failures first, and K candidates pick different sets. (Until issue 19 it
// also required edit and rewrite to add the same sentences: that held only
// because the old optimizer worded fixes from a fixed table; the standalone
// one draws its wording per request, as a model does.)
func TestStrategies(t *testing.T) {
	m := New(Options{})
	fails := []optimize.Example{failPreambleQuotes, failQuotesExplain, failPreamble, failCaps}
	base := optimize.Data{SystemPrompt: neutralSystem, OutputPrompt: neutralOutput, Failures: fails}
	build := func(strategy string, mod func(*optimize.Data)) optimize.Candidate {
		t.Helper()
		d := base
		d.Strategy = strategy
		if mod != nil {
			mod(&d)
		}
		c, err := optimize.Build(d, generate(t, m, optimizerReq(t, d)))
		if err != nil {
			t.Fatalf("%s: %v", strategy, err)
		}
		return c
	}
	for _, strategy := range []string{"rewrite", "edit"} {
		for _, out := range []string{neutralOutput, "Answer. Answer.", "", "Answer the request  "} {
			t.Run(strategy+" of "+out, func(t *testing.T) {
				got := build(strategy, func(d *optimize.Data) { d.OutputPrompt = out })
				if got.System != neutralSystem {
					t.Errorf("system prompt changed to %q", got.System)
				}
				if !strings.HasPrefix(got.Output, strings.TrimSpace(out)) || len(strings.TrimSpace(got.Output)) <= len(strings.TrimSpace(out)) {
					t.Errorf("output %q does not keep and extend %q", got.Output, out)
				}
			})
		}
	}
	t.Run("edit with nothing to fix", func(t *testing.T) {
		c := build("edit", func(d *optimize.Data) { d.Failures = nil })
		if c.Output != neutralOutput {
			t.Errorf("output = %q, want unchanged", c.Output)
		}
	})
	pool := []optimize.PoolExample{
		{ID: "d1", Input: "a", Output: "A"}, {ID: "d2", Input: "b", Output: "B", Failed: true},
		{ID: "d3", Input: "c", Output: "C"}, {ID: "d4", Input: "d", Output: "D", Failed: true},
	}
	t.Run("fewshot", func(t *testing.T) {
		var sets [][]optimize.Demo
		for c := range 2 {
			got := build("fewshot", func(d *optimize.Data) { d.Pool, d.MaxDemos, d.Candidate = pool, 3, c })
			if len(got.Examples) != 3 {
				t.Fatalf("candidate %d: %d demos, want 3", c, len(got.Examples))
			}
			failed := map[string]bool{"b": true, "d": true}
			if !failed[got.Examples[0].Input] || !failed[got.Examples[1].Input] || failed[got.Examples[2].Input] {
				t.Errorf("candidate %d demos %v: want the two failed examples first", c, got.Examples)
			}
			sets = append(sets, got.Examples)
		}
		if cmp.Equal(sets[0], sets[1]) {
			t.Errorf("candidates 0 and 1 picked the same demos %v", sets[0])
		}
	})
}

// TestNoise: with Noise, a share of (prompt, input) pairs is a coin flip,
// drawn independently per prompt, reproducibly per NoiseSeed.
func TestNoise(t *testing.T) {
	ps := translationPairs(200)
	const fixed = "Start directly with the answer; do not add a preamble. Do not wrap the answer in quotation marks. " +
		"Do not explain the answer or add any text after it. Preserve the exact capitalization the answer calls for."
	clean, _ := score(t, New(Options{Key: keyOf(ps), Seed: 3, WrongRate: -1}), ps, neutralSystem, fixed)
	noisy := New(Options{Key: keyOf(ps), Seed: 3, WrongRate: -1, Noise: 0.5, NoiseSeed: 9})
	v1, _ := score(t, noisy, ps, neutralSystem, fixed)
	v2, _ := score(t, noisy, ps, neutralSystem, fixed)
	other, _ := score(t, noisy, ps, neutralSystem+" ", fixed)
	if clean != 1 {
		t.Fatalf("clean score %.2f, want 1", clean)
	}
	// Half the pairs are noisy, half of those wrong: about 0.75.
	if v1 < 0.65 || v1 > 0.85 || v1 != v2 {
		t.Errorf("noisy scores %.3f, %.3f; want one reproducible value near 0.75", v1, v2)
	}
	if other == v1 {
		t.Errorf("another prompt drew the same noise (%.3f)", other)
	}
}
