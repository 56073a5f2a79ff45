package eval

import (
	"strings"
	"testing"
)

func TestFormattedKind(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"iso date", "2017-09-01", "date"},
		{"slashed date", "01/09/2017", "date"},
		{"date and time", "2017-09-01 14:30", "date"},
		{"thousands", "1,234,567", "number"},
		{"decimal", "3.14", "number"},
		{"negative", "-5", "number"},
		{"percent", "12.5%", "number"},
		{"code", "AB-1234", "code"},
		{"version", "v1.2.3", "code"},
		{"plain number", "42", ""},
		{"word", "positive", ""},
		{"sentence", "Le chat est sur le tapis.", ""},
		{"hyphenated word", "well-known", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := formattedKind(tc.in); got != tc.want {
				t.Errorf("formattedKind(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestFormattedTruthsWarning: a punctuation-stripping metric over ground
// truths that look like formatted values is warned about (issue 17 item
// 14); the metric itself keeps working as configured.
func TestFormattedTruthsWarning(t *testing.T) {
	dates := []string{"2017-09-01", "2018-01-15", "1999-12-31", "2020-02-29", "2001-07-04"}
	prose := []string{"positive", "negative", "neutral", "positive", "negative"}
	tests := []struct {
		name   string
		specs  []Spec
		truths []string
		says   []string // empty: no warning
	}{
		{"normalized_match over dates", []Spec{{Name: "normalized_match"}}, dates,
			[]string{"5 of 5 ground truths", "5 dates", `"2017-09-01"`, "normalized_match removes punctuation", `"20170901" scores as a match`, "exact_match"}},
		{"normalized_match over labels", []Spec{{Name: "normalized_match"}}, prose, nil},
		{"exact_match over dates", []Spec{{Name: "exact_match"}}, dates, nil},
		{"normalized_match without punctuation", []Spec{{Name: "normalized_match", Options: map[string]any{"normalizers": []any{"case", "whitespace"}}}}, dates, nil},
		{"levenshtein with punctuation", []Spec{{Name: "levenshtein", Options: map[string]any{"normalizers": []any{"punctuation"}}}}, dates, []string{"levenshtein removes punctuation"}},
		{"token_f1 over amounts", []Spec{{Name: "token_f1"}}, []string{"1,234", "5.5", "-3", "cat"}, []string{"3 of 4", "3 numbers", "token_f1"}},
		{"in a composite", []Spec{{Name: "exact_match"}, {Name: "normalized_match"}}, dates, []string{"normalized_match removes"}},
		{"a few formatted among many", []Spec{{Name: "normalized_match"}}, append(append([]string{}, prose...), append(prose, "2017-09-01")...), nil},
		{"no truths", []Spec{{Name: "normalized_match"}}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := FormattedTruthsWarning(tc.specs, tc.truths)
			if len(tc.says) == 0 {
				if got != "" {
					t.Errorf("warning %q, want none", got)
				}
				return
			}
			for _, s := range tc.says {
				if !strings.Contains(got, s) {
					t.Errorf("warning %q does not say %q", got, s)
				}
			}
		})
	}
	// The trap is real: the metric does match the reformatted date.
	m, err := Build([]Spec{{Name: "normalized_match"}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := m.Score(t.Context(), "2017/09/01", "2017-09-01")
	if err != nil || s.Value != 1 {
		t.Fatalf("normalized_match(2017/09/01, 2017-09-01) = %v, %v; the warning describes a trap that is not there", s.Value, err)
	}
}
