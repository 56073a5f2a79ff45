package eval

import (
	"context"
	"fmt"
	"math"
	"strings"
)

// BLEU as sacreBLEU 2.x computes it (sacrebleu/metrics/bleu.py), for a single
// reference: clipped n-gram matches up to max_ngram_order, brevity penalty,
// smoothing, and the geometric mean of the precisions on a 0–100 scale, which
// we report divided by 100.

func init() { register("bleu", newBLEU) }

type bleu struct {
	base
	order          int
	smooth         string
	smoothValue    float64
	tokenize       func(string) []string
	lowercase      bool
	effectiveOrder bool
}

// Smoothing defaults of sacreBLEU's BLEU.SMOOTH_DEFAULTS.
var bleuSmoothDefaults = map[string]float64{"none": 0, "floor": 0.1, "add-k": 1, "exp": 0}

// newBLEU: options max_ngram_order (default 4), smooth_method (exp, floor,
// add-k, none; default exp), smooth_value (floor 0.1, add-k 1), tokenize
// (13a, intl, none; default 13a), lowercase (false), effective_order (true:
// sentence_score's default; the corpus value never uses it, like
// corpus_score), threshold (0.5).
func newBLEU(o *options, _ Deps) Metric {
	m := &bleu{
		base:           base{name: "bleu", threshold: 0.5},
		order:          o.int("max_ngram_order", 4, 1, 10),
		smooth:         o.oneOf("smooth_method", "exp", "exp", "floor", "add-k", "none"),
		lowercase:      o.bool("lowercase", false),
		effectiveOrder: o.bool("effective_order", true),
	}
	m.smoothValue = o.nonNegFloat("smooth_value", bleuSmoothDefaults[m.smooth])
	switch o.oneOf("tokenize", "13a", "13a", "intl", "none") {
	case "13a":
		m.tokenize = tokenize13a
	case "intl":
		m.tokenize = tokenizeIntl
	default:
		m.tokenize = pyFields
	}
	return m
}

// bleuStats are the sufficient statistics of one segment (or a corpus).
type bleuStats struct {
	sysLen, refLen int
	correct, total []float64 // per order; float because add-k adds to them
}

func (m *bleu) stats(prediction, reference string) bleuStats {
	prep := func(s string) []string {
		if m.lowercase {
			s = strings.ToLower(s)
		}
		return m.tokenize(pyRstrip(s))
	}
	hyp, ref := prep(prediction), prep(reference)
	st := bleuStats{sysLen: len(hyp), refLen: len(ref), correct: make([]float64, m.order), total: make([]float64, m.order)}
	for n := 1; n <= m.order; n++ {
		refCounts := ngramCounts(ref, n)
		hypCounts := ngramCounts(hyp, n)
		var correct int
		for g, c := range hypCounts {
			correct += min(c, refCounts[g])
		}
		st.correct[n-1] = float64(correct)
		st.total[n-1] = float64(max(0, len(hyp)-n+1))
	}
	return st
}

// ngramCounts counts the n-grams of tokens; tokens hold no spaces, so the
// space-joined string is an unambiguous key.
func ngramCounts(tokens []string, n int) map[string]int {
	counts := make(map[string]int, len(tokens))
	for i := 0; i+n <= len(tokens); i++ {
		counts[strings.Join(tokens[i:i+n], " ")]++
	}
	return counts
}

// compute is sacreBLEU's BLEU.compute_bleu, returning the 0–100 score.
func (m *bleu) compute(st bleuStats, effectiveOrder bool) float64 {
	correct := append([]float64(nil), st.correct...)
	total := append([]float64(nil), st.total...)
	bp := 1.0
	if st.sysLen < st.refLen {
		bp = 0
		if st.sysLen > 0 {
			bp = math.Exp(1 - float64(st.refLen)/float64(st.sysLen))
		}
	}
	anyCorrect := false
	for _, c := range correct {
		anyCorrect = anyCorrect || c > 0
	}
	if !anyCorrect {
		return 0
	}
	precisions := make([]float64, m.order)
	smoothMteval := 1.0
	effOrder := m.order
	for n := 1; n <= m.order; n++ {
		if m.smooth == "add-k" && n > 1 {
			correct[n-1] += m.smoothValue
			total[n-1] += m.smoothValue
		}
		if total[n-1] == 0 {
			break
		}
		if effectiveOrder {
			effOrder = n
		}
		switch {
		case correct[n-1] > 0:
			precisions[n-1] = 100 * correct[n-1] / total[n-1]
		case m.smooth == "exp":
			smoothMteval *= 2
			precisions[n-1] = 100 / (smoothMteval * total[n-1])
		case m.smooth == "floor":
			precisions[n-1] = 100 * m.smoothValue / total[n-1]
		}
	}
	var sumLog float64
	for _, p := range precisions[:effOrder] {
		sumLog += myLog(p)
	}
	return bp * math.Exp(sumLog/float64(effOrder))
}

// myLog is sacreBLEU's my_log: log, with log(0) a huge negative number so a
// zero precision zeroes the geometric mean.
func myLog(x float64) float64 {
	if x == 0 {
		return -9999999999
	}
	return math.Log(x)
}

// Score implements Metric: sacreBLEU's sentence_score / 100.
func (m *bleu) Score(_ context.Context, prediction, reference string) (Score, error) {
	st := m.stats(prediction, reference)
	return Score{Value: clamp01(m.compute(st, m.effectiveOrder) / 100)}, nil
}

// Corpus implements CorpusMetric: sacreBLEU's corpus_score / 100, with the
// statistics summed over segments and no effective order.
func (m *bleu) Corpus(predictions, references []string) (float64, error) {
	if len(predictions) != len(references) {
		return 0, fmt.Errorf("bleu: %d predictions but %d references", len(predictions), len(references))
	}
	sum := bleuStats{correct: make([]float64, m.order), total: make([]float64, m.order)}
	for i := range predictions {
		st := m.stats(predictions[i], references[i])
		sum.sysLen += st.sysLen
		sum.refLen += st.refLen
		for n := range m.order {
			sum.correct[n] += st.correct[n]
			sum.total[n] += st.total[n]
		}
	}
	return clamp01(m.compute(sum, false) / 100), nil
}
