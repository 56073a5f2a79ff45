package eval

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// The normalized_match trap (issue 17 item 14): a metric that strips
// punctuation before comparing makes "2017/09/01" match "2017-09-01",
// "3.14" match "314" and "-5" match "5". That is right for prose and wrong
// for ground truths whose punctuation is the answer's format. The metric
// stays as configured; the run is warned.

// stripsPunctuation names the metrics of specs that remove punctuation
// before comparing: normalized_match and levenshtein with the punctuation
// normalizer (normalized_match has it by default) and token_f1 (SQuAD's
// normalization). A spec that does not build is skipped: validation
// reports it.
func stripsPunctuation(specs []Spec) []string {
	var out []string
	for _, s := range specs {
		m, oe := buildOne(s, Deps{})
		if oe != nil {
			continue
		}
		switch m := m.(type) {
		case *textMatch:
			if m.norm.punct {
				out = append(out, s.Name)
			}
		case *levenshtein:
			if m.norm.punct {
				out = append(out, s.Name)
			}
		case *tokenF1:
			out = append(out, s.Name)
		}
	}
	return out
}

// StripsPunctuation reports whether any metric of specs removes
// punctuation before comparing, i.e. whether FormattedTruthsWarning can
// say anything (a caller reads ground truths only then).
func StripsPunctuation(specs []Spec) bool { return len(stripsPunctuation(specs)) > 0 }

var (
	dateLike   = regexp.MustCompile(`^(\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})([ T]\d{1,2}:\d{2}(:\d{2})?)?$`)
	numberLike = regexp.MustCompile(`^[-+−]?(\d{1,3}([,.' ]\d{3})+|\d+)([.,]\d+)?%?$`)
)

// formattedKind says what kind of formatted value s looks like: "date",
// "number" or "code" (one token of letters and digits with at least one
// digit and punctuation inside it, e.g. AB-1234, v1.2.3, 555-0100), or ""
// when stripping its punctuation cannot change what it means.
func formattedKind(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || !strings.ContainsFunc(s, isPunct) {
		return ""
	}
	switch {
	case dateLike.MatchString(s):
		return "date"
	case numberLike.MatchString(s):
		return "number"
	case !strings.ContainsFunc(s, unicode.IsSpace) && strings.ContainsFunc(s, unicode.IsDigit):
		return "code"
	}
	return ""
}

// FormattedTruthsWarning returns a warning for a run whose metrics strip
// punctuation while its ground truths (a sample) look like formatted
// values: at least a fifth of them, and at least two. Empty otherwise.
func FormattedTruthsWarning(specs []Spec, truths []string) string {
	names := stripsPunctuation(specs)
	if len(names) == 0 || len(truths) == 0 {
		return ""
	}
	n, example, kinds := 0, "", map[string]int{}
	for _, t := range truths {
		if k := formattedKind(t); k != "" {
			n++
			kinds[k]++
			if example == "" {
				example = strings.TrimSpace(t)
			}
		}
	}
	if n < 2 || n*5 < len(truths) {
		return ""
	}
	var what []string
	for _, k := range []string{"date", "number", "code"} {
		if kinds[k] > 0 {
			what = append(what, fmt.Sprintf("%d %ss", kinds[k], k))
		}
	}
	stripped := strings.Map(func(r rune) rune {
		if isPunct(r) {
			return -1
		}
		return r
	}, example)
	return fmt.Sprintf("%d of %d ground truths sampled look like formatted values (%s; e.g. %q), but %s removes punctuation before comparing: "+
		"an answer %q scores as a match. If the format is part of the answer, use exact_match, or set the normalizers without punctuation "+
		"(e.g. normalizers: [nfkc, case, whitespace]).",
		n, len(truths), strings.Join(what, ", "), example, strings.Join(names, " and "), stripped)
}
