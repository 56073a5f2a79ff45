package pipeline

import (
	"testing"

	"github.com/promptml/promptml/shared/eval"
)

func TestNothingFails(t *testing.T) {
	tests := []struct {
		name string
		s    *eval.Summary
		want bool
	}{
		{"no summary", nil, false},
		{"nothing scored", &eval.Summary{N: 0, PassRate: 0}, false},
		{"every example passes", &eval.Summary{N: 40, Mean: 1, PassRate: 1}, true},
		{"passes at a partial-credit threshold", &eval.Summary{N: 40, Mean: 0.8, PassRate: 1}, true},
		{"one failure", &eval.Summary{N: 40, Mean: 0.975, PassRate: 0.975}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := nothingFails(tc.s); got != tc.want {
				t.Errorf("nothingFails(%+v) = %v, want %v", tc.s, got, tc.want)
			}
		})
	}
}
