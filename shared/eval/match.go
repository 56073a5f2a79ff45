package eval

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// Normalizer names, applied in this fixed order whatever order the config
// lists them in, so that e.g. "accents" sees NFKC-composed text.
const (
	normNFKC        = "nfkc"
	normAccents     = "accents"
	normCase        = "case"
	normPunctuation = "punctuation"
	normWhitespace  = "whitespace"
)

var normalizerOrder = []string{normNFKC, normAccents, normCase, normPunctuation, normWhitespace}

// defaultNormalizers is what normalized_match uses when the config names none:
// the differences that never change an answer's meaning in practice. Accents
// are left out because they do in many languages.
var defaultNormalizers = []string{normNFKC, normCase, normPunctuation, normWhitespace}

// normalizer is a set of text normalizations.
type normalizer struct{ nfkc, accents, fold, punct, space bool }

// readNormalizers reads the "normalizers" option.
func readNormalizers(o *options, def []string) normalizer {
	names, ok := o.strings("normalizers")
	if !ok {
		names = def
	}
	var n normalizer
	for _, name := range names {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case normNFKC:
			n.nfkc = true
		case normAccents:
			n.accents = true
		case normCase:
			n.fold = true
		case normPunctuation:
			n.punct = true
		case normWhitespace:
			n.space = true
		default:
			o.fail("normalizers", fmt.Sprintf("unknown normalizer %q (known: %s)", name, strings.Join(normalizerOrder, ", ")))
		}
	}
	return n
}

// apply normalizes s.
func (n normalizer) apply(s string) string {
	if n.nfkc {
		s = norm.NFKC.String(s)
	}
	if n.accents {
		s = stripAccents(s)
	}
	if n.fold {
		// Full Unicode case folding, so "Straße" matches "STRASSE".
		s = cases.Fold().String(s)
	}
	if n.punct {
		s = strings.Map(func(r rune) rune {
			if isPunct(r) {
				return -1
			}
			return r
		}, s)
	}
	if n.space {
		s = strings.Join(strings.Fields(s), " ")
	}
	return s
}

// stripAccents removes combining marks after canonical decomposition, so
// "café" becomes "cafe" whether it was written precomposed or not.
func stripAccents(s string) string {
	d := norm.NFD.String(s)
	d = strings.Map(func(r rune) rune {
		if unicode.Is(unicode.Mn, r) {
			return -1
		}
		return r
	}, d)
	return norm.NFC.String(d)
}

// isPunct reports Unicode punctuation plus the ASCII symbols of Python's
// string.punctuation ($+<=>^`|~), which SQuAD's normalization removes too.
func isPunct(r rune) bool {
	if unicode.IsPunct(r) {
		return true
	}
	return r < 0x80 && unicode.IsSymbol(r)
}

func boolScore(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func init() {
	register("exact_match", newExactMatch)
	register("normalized_match", newNormalizedMatch)
	register("contains", newContains("contains"))
	register("contains_all", newContains("contains_all"))
	register("contains_any", newContains("contains_any"))
	register("starts_with", newContains("starts_with"))
	register("regex", newRegex)
}

// textMatch compares whole strings after a normalization.
type textMatch struct {
	base
	norm normalizer
	trim bool
}

// newExactMatch: options trim (bool, default true: surrounding whitespace,
// such as the newline models append, is ignored).
func newExactMatch(o *options, _ Deps) Metric {
	return &textMatch{base: base{name: "exact_match", threshold: 1}, trim: o.bool("trim", true)}
}

// newNormalizedMatch: options normalizers (list, default nfkc, case,
// punctuation, whitespace).
func newNormalizedMatch(o *options, _ Deps) Metric {
	return &textMatch{base: base{name: "normalized_match", threshold: 1}, norm: readNormalizers(o, defaultNormalizers), trim: true}
}

// Score implements Metric.
func (m *textMatch) Score(_ context.Context, prediction, reference string) (Score, error) {
	p, r := m.norm.apply(prediction), m.norm.apply(reference)
	if m.trim {
		p, r = strings.TrimSpace(p), strings.TrimSpace(r)
	}
	return Score{Value: boolScore(p == r)}, nil
}

// containsMatch looks for needles in the prediction.
type containsMatch struct {
	base
	norm   normalizer
	values []string // fixed needles from config; nil means use the reference
	sep    string   // splits the reference into needles (contains_all/any)
}

func newContains(name string) factory {
	return func(o *options, _ Deps) Metric {
		m := &containsMatch{base: base{name: name, threshold: 1}, norm: readNormalizers(o, nil)}
		switch name {
		case "contains", "starts_with":
			if v, ok := o.get("value"); ok {
				s, isString := v.(string)
				if !isString {
					o.fail("value", fmt.Sprintf("must be a string, got %T", v))
				}
				m.values = []string{s}
			}
		default:
			if vs, ok := o.strings("values"); ok {
				if len(vs) == 0 {
					o.fail("values", "must not be empty")
				}
				m.values = vs
			}
			m.sep = o.string("separator", "|")
			if m.sep == "" {
				o.fail("separator", "must not be empty")
			}
		}
		return m
	}
}

// needles returns the normalized strings to look for.
func (m *containsMatch) needles(reference string) []string {
	raw := m.values
	if raw == nil {
		if m.sep == "" {
			raw = []string{reference}
		} else {
			for p := range strings.SplitSeq(reference, m.sep) {
				if p = strings.TrimSpace(p); p != "" {
					raw = append(raw, p)
				}
			}
		}
	}
	out := make([]string, len(raw))
	for i, s := range raw {
		out[i] = m.norm.apply(s)
	}
	return out
}

// Score implements Metric. contains and starts_with score 1 or 0;
// contains_all scores the fraction of needles found (threshold 1 makes it
// pass only when all are) and contains_any 1 when at least one is found.
func (m *containsMatch) Score(_ context.Context, prediction, reference string) (Score, error) {
	p := m.norm.apply(prediction)
	needles := m.needles(reference)
	switch m.name {
	case "starts_with":
		return Score{Value: boolScore(strings.HasPrefix(strings.TrimLeftFunc(p, unicode.IsSpace), needles[0]))}, nil
	case "contains":
		return Score{Value: boolScore(strings.Contains(p, needles[0]))}, nil
	}
	if len(needles) == 0 {
		// An empty reference asks for nothing: vacuously all found, none to find.
		return Score{Value: boolScore(m.name == "contains_all")}, nil
	}
	var found, missing []string
	for _, n := range needles {
		if strings.Contains(p, n) {
			found = append(found, n)
		} else {
			missing = append(missing, n)
		}
	}
	if m.name == "contains_any" {
		return Score{Value: boolScore(len(found) > 0)}, nil
	}
	s := Score{Value: float64(len(found)) / float64(len(needles))}
	if len(missing) > 0 {
		s.Explanation = "missing: " + strings.Join(slices.Compact(missing), ", ")
	}
	return s, nil
}

// regexMatch requires the whole (trimmed) prediction to match a pattern.
type regexMatch struct {
	base
	re         *regexp.Regexp // from config; nil means the reference is the pattern
	ignoreCase bool
}

// newRegex: options pattern (RE2 syntax; default: the reference is the
// pattern), ignore_case (bool, default false).
func newRegex(o *options, _ Deps) Metric {
	m := &regexMatch{base: base{name: "regex", threshold: 1}, ignoreCase: o.bool("ignore_case", false)}
	if p, ok := o.get("pattern"); ok {
		s, isString := p.(string)
		if !isString {
			o.fail("pattern", fmt.Sprintf("must be a string, got %T", p))
			return m
		}
		re, err := compileFull(s, m.ignoreCase)
		if err != nil {
			o.fail("pattern", err.Error())
			return m
		}
		m.re = re
	}
	return m
}

// compileFull anchors the pattern at both ends: \A and \z rather than ^ and $
// so a trailing newline cannot sneak past.
func compileFull(pattern string, ignoreCase bool) (*regexp.Regexp, error) {
	flags := ""
	if ignoreCase {
		flags = "(?i)"
	}
	return regexp.Compile(flags + `\A(?:` + pattern + `)\z`)
}

// Score implements Metric. With the pattern taken from the reference, a
// reference that is not a valid pattern is an error, not a 0.
func (m *regexMatch) Score(_ context.Context, prediction, reference string) (Score, error) {
	re := m.re
	if re == nil {
		var err error
		if re, err = compileFull(reference, m.ignoreCase); err != nil {
			return Score{}, fmt.Errorf("regex: reference is not a valid pattern: %w", err)
		}
	}
	return Score{Value: boolScore(re.MatchString(strings.TrimSpace(prediction)))}, nil
}
