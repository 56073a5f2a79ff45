package eval

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name      string
		values    []float64
		threshold float64
		wantN     int
		wantMean  float64
		wantPass  float64
	}{
		{"empty", nil, 1, 0, 0, 0},
		{"all pass", []float64{1, 1, 1}, 1, 3, 1, 1},
		{"threshold inclusive", []float64{0.5, 0.49, 1, 0}, 0.5, 4, 0.4975, 0.5},
		{"single", []float64{0.3}, 0.5, 1, 0.3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Summarize(tt.values, tt.threshold)
			if s.N != tt.wantN || math.Abs(s.Mean-tt.wantMean) > 1e-12 || math.Abs(s.PassRate-tt.wantPass) > 1e-12 {
				t.Errorf("Summarize = %+v, want N=%d Mean=%v PassRate=%v", s, tt.wantN, tt.wantMean, tt.wantPass)
			}
			if s.N > 0 && (s.CILow > s.Mean || s.CIHigh < s.Mean) {
				t.Errorf("CI [%v,%v] does not contain the mean %v", s.CILow, s.CIHigh, s.Mean)
			}
		})
	}
}

func TestSummarizeEmptyIsZero(t *testing.T) {
	if diff := cmp.Diff(Summary{}, Summarize(nil, 0.5)); diff != "" {
		t.Errorf("Summarize(nil) mismatch (-want +got):\n%s", diff)
	}
}

func TestSummarizeCIConstantAndDeterministic(t *testing.T) {
	if s := Summarize([]float64{0.7, 0.7, 0.7, 0.7}, 1); s.CILow != 0.7 || s.CIHigh != 0.7 {
		t.Errorf("constant values: CI = [%v,%v], want [0.7,0.7]", s.CILow, s.CIHigh)
	}
	values := make([]float64, 200)
	for i := range values {
		values[i] = float64(i % 2) // mean 0.5, sd 0.5
	}
	a, b := Summarize(values, 1), Summarize(values, 1)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two summaries of the same values differ (-a +b):\n%s", diff)
	}
	// The normal-approximation half width is 1.96*0.5/sqrt(200) ≈ 0.069; the
	// bootstrap interval should be close to it.
	halfWidth := 1.96 * 0.5 / math.Sqrt(200)
	if math.Abs((a.CIHigh-a.CILow)/2-halfWidth) > 0.015 {
		t.Errorf("CI [%v,%v] half width %v, want about %v", a.CILow, a.CIHigh, (a.CIHigh-a.CILow)/2, halfWidth)
	}
}

func TestSummarizeOutcomesCountsErrorsSeparately(t *testing.T) {
	outcomes := []Outcome{{Value: 1}, {Err: "llm: safety block"}, {Value: 0}, {Value: 1}, {Err: "judge: timeout"}}
	got := SummarizeOutcomes(outcomes, 1)
	want := Summarize([]float64{1, 0, 1}, 1)
	want.Errors = 2
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("SummarizeOutcomes mismatch (-want +got):\n%s", diff)
	}
	if got.N != 3 {
		t.Errorf("N = %d, want 3 (errors are not scores)", got.N)
	}
}
