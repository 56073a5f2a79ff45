package eval

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Summary aggregates the per-example scores of one phase (or batch).
//
// Errors are not scores: an example whose prediction could not be produced
// (LLM error, safety block) or whose score could not be computed is counted
// in Errors and left out of N, Mean, PassRate and the interval, so a failing
// provider never looks like a model answering badly (0) or well (1).
type Summary struct {
	// N is the number of scored examples.
	N int `json:"n" firestore:"n"`
	// Errors is the number of examples that have no score.
	Errors int `json:"errors" firestore:"errors"`
	// Mean is the mean score of the N scored examples.
	Mean float64 `json:"mean" firestore:"mean"`
	// PassRate is the fraction of the N scored examples with a score >= the
	// metric's threshold.
	PassRate float64 `json:"pass_rate" firestore:"pass_rate"`
	// CILow and CIHigh bound the 95% bootstrap confidence interval of Mean.
	CILow  float64 `json:"ci_low" firestore:"ci_low"`
	CIHigh float64 `json:"ci_high" firestore:"ci_high"`
}

// Outcome is the result of one example: a score, or the reason there is none.
type Outcome struct {
	// Value is the score; meaningless when Err is set.
	Value float64 `json:"value"`
	// Err is why there is no score ("" when there is one), e.g.
	// "llm: safety block" or "judge: timeout".
	Err string `json:"error,omitempty"`
}

// Bootstrap parameters. The seed is fixed so a phase summarized twice (e.g.
// on a redelivered message) gives the same interval.
const (
	bootstrapResamples = 1000
	bootstrapSeed1     = 0x9e3779b97f4a7c15
	bootstrapSeed2     = 0x2545f4914f6cdd1d
)

// Summarize aggregates scored values: mean, pass rate at threshold and a 95%
// percentile bootstrap interval of the mean (1000 resamples, fixed seed).
// With no values every field is zero.
func Summarize(values []float64, threshold float64) Summary {
	n := len(values)
	if n == 0 {
		return Summary{}
	}
	var sum float64
	pass := 0
	for _, v := range values {
		sum += v
		if v >= threshold {
			pass++
		}
	}
	s := Summary{N: n, Mean: sum / float64(n), PassRate: float64(pass) / float64(n)}
	s.CILow, s.CIHigh = bootstrapCI(values)
	return s
}

// SummarizeOutcomes is Summarize over the outcomes that have a score, with
// the others counted in Errors.
func SummarizeOutcomes(outcomes []Outcome, threshold float64) Summary {
	values := make([]float64, 0, len(outcomes))
	errs := 0
	for _, o := range outcomes {
		if o.Err != "" {
			errs++
			continue
		}
		values = append(values, o.Value)
	}
	s := Summarize(values, threshold)
	s.Errors = errs
	return s
}

func bootstrapCI(values []float64) (lo, hi float64) {
	n := len(values)
	r := rand.New(rand.NewPCG(bootstrapSeed1, bootstrapSeed2))
	means := make([]float64, bootstrapResamples)
	for b := range means {
		var sum float64
		for range n {
			sum += values[r.IntN(n)]
		}
		means[b] = sum / float64(n)
	}
	slices.Sort(means)
	return quantile(means, 0.025), quantile(means, 0.975)
}

// quantile is the linearly interpolated quantile of sorted xs (type 7, the
// default of R and numpy).
func quantile(xs []float64, q float64) float64 {
	h := q * float64(len(xs)-1)
	i := int(math.Floor(h))
	if i+1 >= len(xs) {
		return xs[len(xs)-1]
	}
	return xs[i] + (h-float64(i))*(xs[i+1]-xs[i])
}
