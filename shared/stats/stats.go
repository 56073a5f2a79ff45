// Package stats holds the paired significance tests of the validation gate:
// the exact McNemar test for 0/1 outcomes and a seeded paired bootstrap for
// graded scores. Both compare a candidate with the incumbent on the same
// examples and answer "is the candidate better?" (one-sided).
package stats

import (
	"errors"
	"math"
	"math/rand/v2"
)

// McNemar is the exact (binomial) McNemar test on the discordant pairs of a
// paired 0/1 comparison: b examples the candidate passes and the incumbent
// fails, c the other way round. Under the null hypothesis (both prompts are
// equally good) each discordant pair is a fair coin, so B ~ Binomial(b+c, ½).
// OneSided is P(B ≥ b), the evidence that the candidate is better; TwoSided
// is min(1, 2·min(P(B ≥ b), P(B ≤ b))), the usual two-sided exact p-value.
// With no discordant pair both are 1.
func McNemar(b, c int) (oneSided, twoSided float64) {
	n := b + c
	if b < 0 || c < 0 || n == 0 {
		return 1, 1
	}
	upper := binomTail(n, b)       // P(B ≥ b)
	lower := 1 - binomTail(n, b+1) // P(B ≤ b)
	return clamp(upper), clamp(math.Min(1, 2*math.Min(upper, lower)))
}

// binomTail is P(B ≥ k) for B ~ Binomial(n, ½), summed in log space so that
// large n does not overflow.
func binomTail(n, k int) float64 {
	if k <= 0 {
		return 1
	}
	if k > n {
		return 0
	}
	var sum float64
	lf := func(x int) float64 { v, _ := math.Lgamma(float64(x) + 1); return v }
	for i := k; i <= n; i++ {
		sum += math.Exp(lf(n) - lf(i) - lf(n-i) - float64(n)*math.Ln2)
	}
	return sum
}

func clamp(p float64) float64 { return math.Max(0, math.Min(1, p)) }

// ErrLength means the paired samples differ in length or are empty.
var ErrLength = errors.New("stats: paired samples must be non-empty and of equal length")

// Bootstrap is a paired bootstrap test of mean(cand) > mean(inc): it
// resamples the per-example differences cand[i]-inc[i] with replacement
// `samples` times (a PCG generator seeded with seed, so the p-value is
// reproducible) and returns the share of resampled mean differences that are
// ≤ 0, with the +1 correction (p = (1 + #{Δ* ≤ 0}) / (1 + samples)) so a
// finite number of resamples never claims p = 0. delta is the observed mean
// difference.
func Bootstrap(cand, inc []float64, samples int, seed uint64) (p, delta float64, err error) {
	n := len(cand)
	if n == 0 || n != len(inc) {
		return 0, 0, ErrLength
	}
	if samples < 1 {
		samples = 1
	}
	d := make([]float64, n)
	for i := range cand {
		d[i] = cand[i] - inc[i]
		delta += d[i]
	}
	delta /= float64(n)
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	notBetter := 0
	for range samples {
		var s float64
		for range n {
			s += d[rng.IntN(n)]
		}
		if s <= 0 {
			notBetter++
		}
	}
	return float64(1+notBetter) / float64(1+samples), delta, nil
}
