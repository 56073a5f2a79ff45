package dashboard

import "testing"

// TestScoreFuncs: scores print as they are (a score of 0 is 0.000), while
// a gate's tiny p-value prints as <0.001, not 0.000.
func TestScoreFuncs(t *testing.T) {
	pscore := funcs["pscore"].(func(*float64) string)
	pvalue := funcs["pvalue"].(func(*float64) string)
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name string
		fn   func(*float64) string
		v    *float64
		want string
	}{
		{"zero score", pscore, f(0), "0.000"},
		{"score", pscore, f(0.95), "0.950"},
		{"no score", pscore, nil, "–"},
		{"tiny p-value", pvalue, f(6.1e-05), "<0.001"},
		{"p-value", pvalue, f(0.031), "0.031"},
		{"no p-value", pvalue, nil, "–"},
	}
	for _, tc := range tests {
		if got := tc.fn(tc.v); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
