package optimize

import (
	"fmt"
	"sort"
	"strings"
	"unicode"
)

// Scored is one scored example as the pipeline stores it.
type Scored struct {
	Input string
	// Vars are the row's variables other than user_input (empty for a
	// dataset without other columns).
	Vars     map[string]string
	Expected string
	Actual   string
	Score    float64
	// Failed is true for an example whose answer could not be produced (an
	// LLM error): it is not a failure of the prompt.
	Failed bool
}

// Error kinds of a failure, from comparing the answer with the ground truth.
// They are generic on purpose (no task knowledge): enough to spread the
// failures the optimizer sees over different problems.
const (
	KindEmpty      = "empty"       // no answer
	KindCase       = "case"        // right up to letter case
	KindFormat     = "format"      // right up to quotes, punctuation, spacing
	KindExtraText  = "extra_text"  // the expected answer plus text around it
	KindMissing    = "missing"     // part of the expected answer
	KindWrongValue = "wrong_value" // something else
)

// Classify names the error kind of an answer that failed.
func Classify(actual, expected string) string {
	a, e := strings.TrimSpace(actual), strings.TrimSpace(expected)
	switch {
	case a == "":
		return KindEmpty
	case strings.EqualFold(a, e):
		return KindCase
	case squash(a) == squash(e) && squash(e) != "":
		return KindFormat
	case e != "" && strings.Contains(strings.ToLower(a), strings.ToLower(e)):
		return KindExtraText
	case squash(e) != "" && strings.Contains(squash(a), squash(e)):
		return KindExtraText
	case squash(a) != "" && strings.Contains(squash(e), squash(a)):
		return KindMissing
	}
	return KindWrongValue
}

// squash lowercases s and keeps only its letters and digits.
func squash(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// SelectFailures returns up to k of the lowest-scoring examples below
// threshold, spread across error kinds: kinds take turns (the kind with the
// worst example first, then by count), each giving its worst remaining
// example, so k failures are not k of the same problem. If nothing is below
// threshold, the k lowest-scoring successes. Errors are skipped.
func SelectFailures(examples []Scored, threshold float64, k int) []Example {
	var ok []Scored
	for _, e := range examples {
		if !e.Failed {
			ok = append(ok, e)
		}
	}
	sort.SliceStable(ok, func(i, j int) bool { return ok[i].Score < ok[j].Score })
	byKind := map[string][]Scored{}
	var kinds []string
	for _, e := range ok {
		if e.Score >= threshold {
			continue
		}
		kd := Classify(e.Actual, e.Expected)
		if _, seen := byKind[kd]; !seen {
			kinds = append(kinds, kd) // in order of each kind's worst example
		}
		byKind[kd] = append(byKind[kd], e)
	}
	if len(kinds) == 0 {
		if len(ok) > k {
			ok = ok[:k]
		}
		out := make([]Example, len(ok))
		for i, e := range ok {
			out[i] = Example{Input: e.Input, Vars: e.Vars, Expected: e.Expected, Actual: e.Actual, Score: e.Score}
		}
		return out
	}
	sort.SliceStable(kinds, func(i, j int) bool {
		a, b := byKind[kinds[i]], byKind[kinds[j]]
		if a[0].Score != b[0].Score {
			return a[0].Score < b[0].Score
		}
		return len(a) > len(b)
	})
	var out []Example
	for round := 0; len(out) < k; round++ {
		added := false
		for _, kd := range kinds {
			if l := byKind[kd]; round < len(l) && len(out) < k {
				e := l[round]
				out = append(out, Example{Input: e.Input, Vars: e.Vars, Expected: e.Expected, Actual: e.Actual, Score: e.Score, Kind: kd})
				added = true
			}
		}
		if !added {
			break
		}
	}
	return out
}

// SelectPool picks up to n training examples the fewshot strategy may use
// as demonstrations: the current demonstrations first (so the optimizer can
// keep them), then failures spread across error kinds, then successes of
// diverse answers (distinct expected outputs, shortest inputs first, which
// make compact demonstrations). Examples that look like prompt injection
// (LooksLikeInjection) and errored ones are never offered. IDs are "d1",
// "d2", … in pool order.
func SelectPool(examples []Scored, current []Demo, threshold float64, n int) []PoolExample {
	var pool []PoolExample
	have := map[string]bool{}
	add := func(in string, vars map[string]string, out string, failed, cur bool) {
		key := in + "\x00" + out
		if len(pool) >= n || have[key] || LooksLikeInjection(in) || LooksLikeInjection(out) {
			return
		}
		have[key] = true
		pool = append(pool, PoolExample{ID: fmt.Sprintf("d%d", len(pool)+1), Input: in, Vars: vars, Output: out, Failed: failed, Current: cur})
	}
	for _, d := range current {
		add(d.Input, nil, d.Output, false, true)
	}
	var clean []Scored
	for _, e := range examples {
		if !e.Failed && !LooksLikeInjection(e.Input) && !LooksLikeInjection(e.Expected) {
			clean = append(clean, e)
		}
	}
	for _, f := range SelectFailures(clean, threshold, n) {
		if f.Score < threshold {
			add(f.Input, f.Vars, f.Expected, true, false)
		}
	}
	var good []Scored
	for _, e := range clean {
		if e.Score >= threshold {
			good = append(good, e)
		}
	}
	sort.SliceStable(good, func(i, j int) bool { return len(good[i].Input) < len(good[j].Input) })
	outs := map[string]bool{}
	for _, e := range good {
		if !outs[e.Expected] {
			outs[e.Expected] = true
			add(e.Input, e.Vars, e.Expected, false, false)
		}
	}
	for _, e := range good {
		add(e.Input, e.Vars, e.Expected, false, false)
	}
	return pool
}

// injectionMarkers are phrasings of prompt-injection attempts. A training
// row containing one is never offered as a demonstration (it would put the
// attacker's text into the prompt verbatim), and a candidate prompt that
// gains one is blocked.
var injectionMarkers = []string{
	"ignore previous instructions", "ignore all previous instructions", "ignore the previous instructions",
	"ignore the above", "ignore all the above", "disregard previous instructions", "disregard the above",
	"disregard all rules", "disregard all instructions", "forget you are", "forget your instructions",
	"set the system prompt", "your system prompt", "hidden instructions", "developer mode",
	"new instructions:", "the new task is", "system:", "you are now", "do not translate this",
}

// LooksLikeInjection reports whether s contains a known prompt-injection
// phrasing (case- and spacing-insensitive).
func LooksLikeInjection(s string) bool {
	t := strings.Join(strings.Fields(strings.ToLower(s)), " ")
	for _, m := range injectionMarkers {
		if strings.Contains(t, m) {
			return true
		}
	}
	return false
}
