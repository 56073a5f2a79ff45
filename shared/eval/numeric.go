package eval

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

func init() { register("numeric", newNumeric) }

type numeric struct {
	base
	absTol, relTol float64
	extract        string // first, last, only
	percent        bool   // "50%" means 0.5
	decimalComma   bool
}

// newNumeric: options abs_tol (0; alias tolerance), rel_tol (1e-9), extract
// (which number of the prediction: last, first, only; default last, where
// models put the answer after their reasoning), percent (fraction: "50%" is
// 0.5, the default; or number: "50%" is 50), decimal_separator ("." or ",";
// default "."), threshold (1).
func newNumeric(o *options, _ Deps) Metric {
	m := &numeric{base: base{name: "numeric", threshold: 1}}
	m.absTol = o.nonNegFloat("abs_tol", 0)
	if t, ok := o.optFloat("tolerance"); ok {
		if t < 0 || math.IsNaN(t) {
			o.fail("tolerance", "must be >= 0")
		}
		m.absTol = t
	}
	m.relTol = o.nonNegFloat("rel_tol", 1e-9)
	m.extract = o.oneOf("extract", "last", "last", "first", "only")
	m.percent = o.oneOf("percent", "fraction", "fraction", "number") == "fraction"
	m.decimalComma = o.oneOf("decimal_separator", ".", ".", ",") == ","
	return m
}

// Number patterns. A number is an optional sign, digits either grouped in
// threes by a thousands separator or not, an optional fraction, an optional
// exponent and an optional percent sign. The separators swap with
// decimal_separator ",".
var (
	numberDot   = regexp.MustCompile(`[+\-\x{2212}]?(?:\d{1,3}(?:[,\x{00a0}\x{202f}'_]\d{3})+|\d+)?(?:\.\d+)?(?:[eE][+\-]?\d+)?\s?%?`)
	numberComma = regexp.MustCompile(`[+\-\x{2212}]?(?:\d{1,3}(?:[.\x{00a0}\x{202f}'_]\d{3})+|\d+)?(?:,\d+)?(?:[eE][+\-]?\d+)?\s?%?`)
)

// numbers returns the numbers in s, in order.
func (m *numeric) numbers(s string) []float64 {
	re := numberDot
	if m.decimalComma {
		re = numberComma
	}
	var out []float64
	for _, loc := range re.FindAllStringIndex(s, -1) {
		tok := s[loc[0]:loc[1]]
		if !strings.ContainsFunc(tok, unicode.IsDigit) {
			continue // the pattern can match a bare sign, dot or "%"
		}
		// A sign glued to a word or digit before it is a hyphen ("COVID-19",
		// "5-3"), not a minus.
		if r, size := utf8.DecodeRuneInString(tok); r == '+' || r == '-' || r == '\u2212' {
			if prev, _ := utf8.DecodeLastRuneInString(s[:loc[0]]); loc[0] > 0 && (unicode.IsLetter(prev) || unicode.IsDigit(prev)) {
				tok = tok[size:]
			}
		}
		if f, ok := m.parse(tok); ok {
			out = append(out, f)
		}
	}
	return out
}

// parse converts one matched number token to a float.
func (m *numeric) parse(tok string) (float64, bool) {
	tok = strings.TrimSpace(tok)
	pct := strings.HasSuffix(tok, "%")
	tok = strings.TrimSpace(strings.TrimSuffix(tok, "%"))
	tok = strings.Replace(tok, "\u2212", "-", 1)
	tok = strings.Map(func(r rune) rune {
		switch r {
		case '\u00a0', '\u202f', '\'', '_', ' ':
			return -1
		case ',':
			if m.decimalComma {
				return '.'
			}
			return -1
		case '.':
			if m.decimalComma {
				return -1
			}
		}
		return r
	}, tok)
	f, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		return 0, false
	}
	if pct && m.percent {
		f /= 100
	}
	return f, true
}

// isClose is Python's math.isclose.
func (m *numeric) isClose(a, b float64) bool {
	if a == b {
		return true
	}
	return math.Abs(a-b) <= math.Max(m.relTol*math.Max(math.Abs(a), math.Abs(b)), m.absTol)
}

// Score implements Metric: 1 when the prediction's number is within
// tolerance of the reference's. A prediction without a number scores 0; a
// reference without exactly one number is an error (bad ground truth).
func (m *numeric) Score(_ context.Context, prediction, reference string) (Score, error) {
	refs := m.numbers(reference)
	if len(refs) != 1 {
		return Score{}, fmt.Errorf("numeric: reference %q must hold exactly one number, found %d", reference, len(refs))
	}
	preds := m.numbers(prediction)
	var p float64
	switch {
	case len(preds) == 0:
		return Score{Value: 0, Explanation: "no number in prediction"}, nil
	case m.extract == "only" && len(preds) > 1:
		return Score{Value: 0, Explanation: fmt.Sprintf("%d numbers in prediction, want one", len(preds))}, nil
	case m.extract == "first":
		p = preds[0]
	default:
		p = preds[len(preds)-1]
	}
	if m.isClose(p, refs[0]) {
		return Score{Value: 1}, nil
	}
	return Score{Value: 0, Explanation: fmt.Sprintf("%g != %g", p, refs[0])}, nil
}
