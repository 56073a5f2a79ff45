package eval

import "testing"

func TestNumeric(t *testing.T) {
	runScoreCases(t, "numeric", 0, []scoreCase{
		{name: "integer", prediction: "42", reference: "42", want: 1},
		{name: "decimal vs integer", prediction: "42.0", reference: "42", want: 1},
		{name: "last number after reasoning", prediction: "3 apples plus 4 apples is 7", reference: "7", want: 1},
		{name: "first number", options: map[string]any{"extract": "first"}, prediction: "7 apples, not 8", reference: "7", want: 1},
		{name: "only: several numbers fail", options: map[string]any{"extract": "only"}, prediction: "7 or 8", reference: "7", want: 0},
		{name: "only: one number", options: map[string]any{"extract": "only"}, prediction: "The answer is 7.", reference: "7", want: 1},
		{name: "thousands separators", prediction: "$1,234,567.89", reference: "1234567.89", want: 1},
		{name: "thousands with narrow nbsp", prediction: "1\u202f234", reference: "1234", want: 1},
		{name: "negative", prediction: "-12.5", reference: "−12.5", want: 1},
		{name: "explicit plus", prediction: "+3", reference: "3", want: 1},
		{name: "sign matters", prediction: "-3", reference: "3", want: 0},
		{name: "hyphen is not a minus", prediction: "COVID-19", reference: "19", want: 1},
		{name: "range keeps last positive", prediction: "5-3", reference: "3", want: 1},
		{name: "percent as fraction", prediction: "50%", reference: "0.5", want: 1},
		{name: "percent with space", prediction: "12.5 %", reference: "12.5%", want: 1},
		{name: "percent as number", options: map[string]any{"percent": "number"}, prediction: "50%", reference: "50", want: 1},
		{name: "leading dot decimal", prediction: ".5", reference: "0.5", want: 1},
		{name: "exponent", prediction: "1.5e3", reference: "1500", want: 1},
		{name: "decimal comma", options: map[string]any{"decimal_separator": ","}, prediction: "1.234,5", reference: "1234,5", want: 1},
		{name: "absolute tolerance in", options: map[string]any{"abs_tol": 0.01}, prediction: "3.14159", reference: "3.14", want: 1},
		{name: "absolute tolerance out", options: map[string]any{"abs_tol": 0.001}, prediction: "3.14159", reference: "3.14", want: 0},
		{name: "tolerance alias", options: map[string]any{"tolerance": 0.5}, prediction: "10.4", reference: "10", want: 1},
		{name: "relative tolerance", options: map[string]any{"rel_tol": 0.05}, prediction: "104", reference: "100", want: 1},
		{name: "relative tolerance out", options: map[string]any{"rel_tol": 0.01}, prediction: "104", reference: "100", want: 0},
		{name: "float noise within default rel_tol", prediction: "0.30000000000000004", reference: "0.3", want: 1},
		{name: "no number", prediction: "I don't know", reference: "4", want: 0},
		{name: "empty prediction", prediction: "", reference: "4", want: 0},
		{name: "unicode around", prediction: "答えは 42 です", reference: "42", want: 1},
		{name: "version-like tail", prediction: "it is 1,23", reference: "23", want: 1},
	})
}

func TestNumericReferenceWithoutOneNumberIsAnError(t *testing.T) {
	m, err := Build([]Spec{{Name: "numeric"}}, Deps{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"", "none", "3 or 4"} {
		if _, err := m.Score(t.Context(), "3", ref); err == nil {
			t.Errorf("Score(3, %q) succeeded, want an error (bad ground truth)", ref)
		}
	}
}
