package eval

import (
	"testing"
)

// scoreCase is one (prediction, reference) pair and the expected value.
type scoreCase struct {
	name       string
	options    map[string]any
	prediction string
	reference  string
	want       float64
}

// runScoreCases builds metric with each case's options and checks the value
// to within tol.
func runScoreCases(t *testing.T, metric string, tol float64, cases []scoreCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Build([]Spec{{Name: metric, Options: tc.options}}, Deps{})
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			s, err := m.Score(t.Context(), tc.prediction, tc.reference)
			if err != nil {
				t.Fatalf("Score(%q, %q): %v", tc.prediction, tc.reference, err)
			}
			if d := s.Value - tc.want; d > tol || d < -tol {
				t.Errorf("Score(%q, %q) = %.6f, want %.6f (±%g) [%s]", tc.prediction, tc.reference, s.Value, tc.want, tol, s.Explanation)
			}
			if s.Value < 0 || s.Value > 1 {
				t.Errorf("Score = %v, outside [0,1]", s.Value)
			}
		})
	}
}

func TestExactMatch(t *testing.T) {
	runScoreCases(t, "exact_match", 0, []scoreCase{
		{name: "equal", prediction: "Paris", reference: "Paris", want: 1},
		{name: "case differs", prediction: "paris", reference: "Paris", want: 0},
		{name: "trailing newline trimmed", prediction: "Paris\n", reference: "Paris", want: 1},
		{name: "no trim", options: map[string]any{"trim": false}, prediction: "Paris\n", reference: "Paris", want: 0},
		{name: "both empty", prediction: "", reference: "", want: 1},
		{name: "empty prediction", prediction: "", reference: "x", want: 0},
		{name: "unicode equal", prediction: "東京", reference: "東京", want: 1},
		{name: "composed vs decomposed differ", prediction: "caf\u00e9", reference: "cafe\u0301", want: 0},
	})
}

func TestNormalizedMatch(t *testing.T) {
	runScoreCases(t, "normalized_match", 0, []scoreCase{
		{name: "case and punctuation", prediction: "  PARIS!! ", reference: "paris", want: 1},
		{name: "inner whitespace", prediction: "New\t York", reference: "new york", want: 1},
		{name: "NFKC fullwidth", prediction: "ＡＢＣ１２３", reference: "abc123", want: 1},
		{name: "NFKC composes", prediction: "caf\u00e9", reference: "cafe\u0301", want: 1},
		{name: "accents kept by default", prediction: "café", reference: "cafe", want: 0},
		{name: "accents option", options: map[string]any{"normalizers": []any{"accents"}}, prediction: "Crème Brûlée", reference: "Creme Brulee", want: 1},
		{name: "case folding sharp s", options: map[string]any{"normalizers": "case"}, prediction: "STRASSE", reference: "straße", want: 1},
		{name: "only case", options: map[string]any{"normalizers": []string{"case"}}, prediction: "Paris.", reference: "paris", want: 0},
		{name: "both empty", prediction: "", reference: "", want: 1},
		{name: "punctuation only vs empty", prediction: "?!", reference: "", want: 1},
		{name: "different words", prediction: "Lyon", reference: "Paris", want: 0},
	})
}

func TestContainsFamily(t *testing.T) {
	t.Run("contains", func(t *testing.T) {
		runScoreCases(t, "contains", 0, []scoreCase{
			{name: "substring", prediction: "The capital is Paris.", reference: "Paris", want: 1},
			{name: "case sensitive by default", prediction: "the capital is paris", reference: "Paris", want: 0},
			{name: "case normalizer", options: map[string]any{"normalizers": "case"}, prediction: "the capital is paris", reference: "Paris", want: 1},
			{name: "fixed value", options: map[string]any{"value": "ANSWER:"}, prediction: "ANSWER: 4", reference: "4", want: 1},
			{name: "empty reference is contained", prediction: "anything", reference: "", want: 1},
			{name: "empty prediction", prediction: "", reference: "x", want: 0},
			{name: "unicode", prediction: "答えは東京です", reference: "東京", want: 1},
		})
	})
	t.Run("contains_all", func(t *testing.T) {
		runScoreCases(t, "contains_all", 1e-12, []scoreCase{
			{name: "all", prediction: "red, green and blue", reference: "red|green|blue", want: 1},
			{name: "two of three", prediction: "red and blue", reference: "red|green|blue", want: 2.0 / 3},
			{name: "values option", options: map[string]any{"values": []any{"a", "b"}}, prediction: "a", reference: "ignored", want: 0.5},
			{name: "separator option", options: map[string]any{"separator": ";"}, prediction: "x y", reference: "x; y", want: 1},
			{name: "empty reference", prediction: "anything", reference: "", want: 1},
			{name: "unicode", prediction: "東京と大阪", reference: "東京|京都", want: 0.5},
		})
	})
	t.Run("contains_any", func(t *testing.T) {
		runScoreCases(t, "contains_any", 0, []scoreCase{
			{name: "one", prediction: "it is blue", reference: "red|blue", want: 1},
			{name: "none", prediction: "it is green", reference: "red|blue", want: 0},
			{name: "comma-separated values", options: map[string]any{"values": "yes,true"}, prediction: "true", reference: "", want: 1},
			{name: "empty reference", prediction: "anything", reference: "", want: 0},
			{name: "unicode with accents normalizer", options: map[string]any{"normalizers": "accents,case"}, prediction: "Très bien", reference: "tres|oui", want: 1},
		})
	})
	t.Run("starts_with", func(t *testing.T) {
		runScoreCases(t, "starts_with", 0, []scoreCase{
			{name: "prefix", prediction: "Yes, because", reference: "Yes", want: 1},
			{name: "leading space ignored", prediction: "  Yes", reference: "Yes", want: 1},
			{name: "not prefix", prediction: "I think yes", reference: "Yes", want: 0},
			{name: "value option", options: map[string]any{"value": "{"}, prediction: `{"a":1}`, reference: "", want: 1},
			{name: "empty", prediction: "", reference: "", want: 1},
			{name: "empty prediction", prediction: "", reference: "Yes", want: 0},
			{name: "unicode", prediction: "Ja, natürlich", reference: "Ja", want: 1},
		})
	})
}

func TestRegex(t *testing.T) {
	runScoreCases(t, "regex", 0, []scoreCase{
		{name: "full match", options: map[string]any{"pattern": `\d{3}-\d{4}`}, prediction: "555-1234", reference: "", want: 1},
		{name: "partial is not enough", options: map[string]any{"pattern": `\d{3}-\d{4}`}, prediction: "call 555-1234", reference: "", want: 0},
		{name: "alternation anchored as a whole", options: map[string]any{"pattern": `yes|no`}, prediction: "yesno", reference: "", want: 0},
		{name: "surrounding whitespace trimmed", options: map[string]any{"pattern": `yes|no`}, prediction: "no\n", reference: "", want: 1},
		{name: "ignore case", options: map[string]any{"pattern": `yes|no`, "ignore_case": true}, prediction: "YES", reference: "", want: 1},
		{name: "reference as pattern", prediction: "A7", reference: `[A-Z]\d`, want: 1},
		{name: "unicode class", options: map[string]any{"pattern": `\p{Han}+`}, prediction: "東京", reference: "", want: 1},
		{name: "empty pattern matches empty", prediction: "", reference: "", want: 1},
	})
}

func TestRegexBadReferenceIsAnError(t *testing.T) {
	m, err := Build([]Spec{{Name: "regex"}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Score(t.Context(), "x", "("); err == nil {
		t.Error("Score with an invalid reference pattern succeeded, want an error")
	}
}
