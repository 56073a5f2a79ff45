package eval

import (
	"context"
	"strings"
	"unicode"
)

func init() {
	register("rouge_l", newRougeL)
	register("token_f1", newTokenF1)
	register("levenshtein", newLevenshtein)
}

// rougeL is ROUGE-L F-measure as Google's rouge-score package computes it
// (rouge_scorer.RougeScorer(["rougeL"]), no stemmer): tokens are lowercased
// runs of letters and digits; precision and recall are the longest common
// subsequence over each side's length; F = 2PR/(P+R).
type rougeL struct {
	base
	asciiOnly bool
}

// newRougeL: options tokenizer (unicode, the default: runs of letters and
// digits of any script, identical to rouge-score on ASCII text; or
// rouge_score: exactly the package's [a-z0-9]+ tokens, which drops every
// other character), threshold (0.5).
func newRougeL(o *options, _ Deps) Metric {
	return &rougeL{
		base:      base{name: "rouge_l", threshold: 0.5},
		asciiOnly: o.oneOf("tokenizer", "unicode", "unicode", "rouge_score") == "rouge_score",
	}
}

func (m *rougeL) tokens(s string) []string {
	s = strings.ToLower(s)
	return strings.FieldsFunc(s, func(r rune) bool {
		if m.asciiOnly {
			return !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
		}
		return !(unicode.IsLetter(r) || unicode.IsDigit(r))
	})
}

// Score implements Metric. As in rouge-score, an empty side scores 0.
func (m *rougeL) Score(_ context.Context, prediction, reference string) (Score, error) {
	p, r := m.tokens(prediction), m.tokens(reference)
	if len(p) == 0 || len(r) == 0 {
		return Score{Value: 0}, nil
	}
	lcs := lcsLen(p, r)
	if lcs == 0 {
		return Score{Value: 0}, nil
	}
	prec := float64(lcs) / float64(len(p))
	rec := float64(lcs) / float64(len(r))
	return Score{Value: clamp01(2 * prec * rec / (prec + rec))}, nil
}

// lcsLen is the length of the longest common subsequence of a and b.
func lcsLen(a, b []string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for i := range a {
		for j := range b {
			if a[i] == b[j] {
				cur[j+1] = prev[j] + 1
			} else {
				cur[j+1] = max(prev[j+1], cur[j])
			}
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// tokenF1 is SQuAD's token F1 (evaluate-v2.0.py): both sides normalized by
// lowercasing, removing ASCII punctuation, removing the articles a/an/the and
// collapsing whitespace; F1 of the multiset overlap of the tokens. As in
// SQuAD 2.0, two empty answers score 1 and one empty answer 0.
type tokenF1 struct{ base }

// newTokenF1: options threshold (0.5).
func newTokenF1(_ *options, _ Deps) Metric {
	return &tokenF1{base: base{name: "token_f1", threshold: 0.5}}
}

// squadTokens is normalize_answer(s).split().
func squadTokens(s string) []string {
	s = strings.ToLower(s)
	s = strings.Map(func(r rune) rune {
		if strings.ContainsRune(pyPunct, r) {
			return -1
		}
		return r
	}, s)
	// \b(a|an|the)\b with Python's Unicode \w: an article is removed only
	// when it is a whole run of word characters.
	var b strings.Builder
	runStart := -1
	flush := func(end int) {
		if runStart < 0 {
			return
		}
		switch w := s[runStart:end]; w {
		case "a", "an", "the":
			b.WriteByte(' ')
		default:
			b.WriteString(w)
		}
		runStart = -1
	}
	for i, r := range s {
		if unicode.IsLetter(r) || unicode.IsNumber(r) || r == '_' {
			if runStart < 0 {
				runStart = i
			}
			continue
		}
		flush(i)
		b.WriteRune(r)
	}
	flush(len(s))
	return pyFields(b.String())
}

// Score implements Metric.
func (m *tokenF1) Score(_ context.Context, prediction, reference string) (Score, error) {
	p, r := squadTokens(prediction), squadTokens(reference)
	if len(p) == 0 || len(r) == 0 {
		return Score{Value: boolScore(len(p) == len(r))}, nil
	}
	refCounts := make(map[string]int, len(r))
	for _, t := range r {
		refCounts[t]++
	}
	same := 0
	for _, t := range p {
		if refCounts[t] > 0 {
			refCounts[t]--
			same++
		}
	}
	if same == 0 {
		return Score{Value: 0}, nil
	}
	prec := float64(same) / float64(len(p))
	rec := float64(same) / float64(len(r))
	return Score{Value: clamp01(2 * prec * rec / (prec + rec))}, nil
}

// levenshtein is the normalized Levenshtein similarity over Unicode code
// points, 1 - distance / max(len), as RapidFuzz's
// Levenshtein.normalized_similarity; two empty strings score 1.
type levenshtein struct {
	base
	norm normalizer
}

// newLevenshtein: options normalizers (as normalized_match; default none),
// threshold (0.8).
func newLevenshtein(o *options, _ Deps) Metric {
	return &levenshtein{base: base{name: "levenshtein", threshold: 0.8}, norm: readNormalizers(o, nil)}
}

// Score implements Metric.
func (m *levenshtein) Score(_ context.Context, prediction, reference string) (Score, error) {
	a, b := []rune(m.norm.apply(prediction)), []rune(m.norm.apply(reference))
	n := max(len(a), len(b))
	if n == 0 {
		return Score{Value: 1}, nil
	}
	return Score{Value: clamp01(1 - float64(editDistance(a, b))/float64(n))}, nil
}

// editDistance is the Levenshtein distance (unit insert, delete, substitute).
func editDistance(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := range a {
		cur[0] = i + 1
		for j := range b {
			cost := 1
			if a[i] == b[j] {
				cost = 0
			}
			cur[j+1] = min(prev[j+1]+1, cur[j]+1, prev[j]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
