package eval

import (
	"context"
	"fmt"
	"strings"
)

// chrF as sacreBLEU 2.x computes it (sacrebleu/metrics/chrf.py) for a single
// reference: character n-grams of orders 1..char_order over the text with
// whitespace removed (plus word n-grams 1..word_order for chrF++); per order
// the hypothesis, reference and matched n-gram counts; precision and recall
// averaged over the orders where both sides have n-grams ("effective order");
// then F-beta of the two averages, on 0–100, reported divided by 100.

func init() { register("chrf", newCHRF) }

type chrf struct {
	base
	charOrder, wordOrder int
	beta                 float64
	lowercase            bool
	whitespace           bool
	epsSmoothing         bool
}

// newCHRF: options char_order (6), word_order (0; 2 gives chrF++), beta (2),
// lowercase (false), whitespace (false: keep whitespace in char n-grams),
// eps_smoothing (false), threshold (0.5).
func newCHRF(o *options, _ Deps) Metric {
	m := &chrf{
		base:         base{name: "chrf", threshold: 0.5},
		charOrder:    o.int("char_order", 6, 0, 20),
		wordOrder:    o.int("word_order", 0, 0, 10),
		beta:         o.float("beta", 2),
		lowercase:    o.bool("lowercase", false),
		whitespace:   o.bool("whitespace", false),
		epsSmoothing: o.bool("eps_smoothing", false),
	}
	if m.beta <= 0 {
		o.fail("beta", "must be > 0")
	}
	if m.charOrder+m.wordOrder == 0 {
		o.fail("char_order", "char_order + word_order must be >= 1")
	}
	return m
}

func (m *chrf) order() int { return m.charOrder + m.wordOrder }

// stats returns [hyp, ref, match] counts per order, flattened as sacreBLEU's
// statistics are.
func (m *chrf) stats(prediction, reference string) []float64 {
	if m.lowercase {
		prediction, reference = strings.ToLower(prediction), strings.ToLower(reference)
	}
	hyp := m.ngrams(prediction)
	ref := m.ngrams(reference)
	st := make([]float64, 0, 3*m.order())
	for i := range hyp {
		var match, hypCount, refCount int
		for g, c := range hyp[i] {
			hypCount += c
			match += min(c, ref[i][g])
		}
		for _, c := range ref[i] {
			refCount += c
		}
		// sacreBLEU: "Don't count hits if no reference exists for that n-gram".
		if len(ref[i]) == 0 {
			hypCount = 0
		}
		st = append(st, float64(hypCount), float64(refCount), float64(match))
	}
	return st
}

// ngrams is extract_all_char_ngrams followed by the word n-grams of chrF++.
func (m *chrf) ngrams(s string) []map[string]int {
	out := make([]map[string]int, 0, m.order())
	line := s
	if !m.whitespace {
		line = strings.Join(pyFields(s), "")
	}
	// Byte offsets of the code points, so n-grams are substrings of line
	// (no allocation per n-gram) yet counted in characters as Python does.
	offs := make([]int, 0, len(line)+1)
	for i := range line {
		offs = append(offs, i)
	}
	offs = append(offs, len(line))
	chars := len(offs) - 1
	for n := 1; n <= m.charOrder; n++ {
		counts := make(map[string]int, max(0, chars-n+1))
		for i := 0; i+n <= chars; i++ {
			counts[line[offs[i]:offs[i+n]]]++
		}
		out = append(out, counts)
	}
	if m.wordOrder > 0 {
		words := chrfWords(s)
		for n := 1; n <= m.wordOrder; n++ {
			out = append(out, ngramCounts(words, n))
		}
	}
	return out
}

// pyPunct is Python's string.punctuation, which chrF++ splits off words.
const pyPunct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// chrfWords is sacreBLEU's CHRF._remove_punctuation: one punctuation mark is
// split off the end of a word, or else off its start.
func chrfWords(s string) []string {
	var out []string
	for _, w := range pyFields(s) {
		r := []rune(w)
		switch {
		case len(r) == 1:
			out = append(out, w)
		case strings.ContainsRune(pyPunct, r[len(r)-1]):
			out = append(out, string(r[:len(r)-1]), string(r[len(r)-1]))
		case strings.ContainsRune(pyPunct, r[0]):
			out = append(out, string(r[0]), string(r[1:]))
		default:
			out = append(out, w)
		}
	}
	return out
}

// fScore is sacreBLEU's CHRF._compute_f_score, returning 0–100.
func (m *chrf) fScore(st []float64) float64 {
	const eps = 1e-16
	factor := m.beta * m.beta
	var score, avgPrec, avgRec float64
	effective := 0
	for i := range m.order() {
		nHyp, nRef, nMatch := st[3*i], st[3*i+1], st[3*i+2]
		prec, rec := eps, eps
		if nHyp > 0 {
			prec = nMatch / nHyp
		}
		if nRef > 0 {
			rec = nMatch / nRef
		}
		if denom := factor*prec + rec; denom > 0 {
			score += (1 + factor) * prec * rec / denom
		} else {
			score += eps
		}
		if nHyp > 0 && nRef > 0 {
			avgPrec += prec
			avgRec += rec
			effective++
		}
	}
	if m.epsSmoothing {
		return 100 * score / float64(m.order())
	}
	if effective == 0 {
		return 0
	}
	avgPrec /= float64(effective)
	avgRec /= float64(effective)
	if avgPrec+avgRec == 0 {
		return 0
	}
	return 100 * (1 + factor) * avgPrec * avgRec / (factor*avgPrec + avgRec)
}

// Score implements Metric: sacreBLEU's CHRF sentence_score / 100.
func (m *chrf) Score(_ context.Context, prediction, reference string) (Score, error) {
	return Score{Value: clamp01(m.fScore(m.stats(prediction, reference)) / 100)}, nil
}

// Corpus implements CorpusMetric: sacreBLEU's CHRF corpus_score / 100, the
// F-score of the statistics summed over segments.
func (m *chrf) Corpus(predictions, references []string) (float64, error) {
	if len(predictions) != len(references) {
		return 0, fmt.Errorf("chrf: %d predictions but %d references", len(predictions), len(references))
	}
	sum := make([]float64, 3*m.order())
	for i := range predictions {
		for j, v := range m.stats(predictions[i], references[i]) {
			sum[j] += v
		}
	}
	return clamp01(m.fScore(sum) / 100), nil
}
