package sim

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/promptml/promptml/shared/optimize"
)

// TestStrategies: the edit reply applies (optimize.Build) to the same
// prompts the rewrite proposes; the fewshot reply names pool IDs only,
// failures first, and K candidates pick different sets.
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
	rw := build("rewrite", nil)
	for _, out := range []string{neutralOutput, "Answer. Answer.", "", "Answer the request  "} {
		t.Run("edit of "+out, func(t *testing.T) {
			want := build("rewrite", func(d *optimize.Data) { d.OutputPrompt = out })
			got := build("edit", func(d *optimize.Data) { d.OutputPrompt = out })
			if strings.TrimSpace(got.Output) != strings.TrimSpace(want.Output) || got.System != want.System {
				t.Errorf("edit gave %q, rewrite %q", got.Output, want.Output)
			}
		})
	}
	if rw.Output == neutralOutput {
		t.Fatal("rewrite fixed nothing")
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
			sets = append(sets, got.Examples)
		}
		want := []optimize.Demo{{Input: "b", Output: "B"}, {Input: "d", Output: "D"}, {Input: "a", Output: "A"}}
		if d := cmp.Diff(want, sets[0]); d != "" {
			t.Errorf("candidate 0 demos (-want +got):\n%s", d)
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
