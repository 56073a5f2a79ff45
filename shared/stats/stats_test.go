package stats

import (
	"math"
	"testing"
)

func TestMcNemar(t *testing.T) {
	// Reference values: exact binomial tails with p = ½, e.g.
	// P(B ≥ 10 | n=12) = (C(12,10)+C(12,11)+C(12,12)) / 2^12 = 79/4096,
	// the same as R's binom.test(10, 12, alternative = "greater").
	tests := []struct {
		name     string
		b, c     int
		one, two float64
	}{
		{"no discordant pairs", 0, 0, 1, 1},
		{"10 vs 2", 10, 2, 79.0 / 4096, 158.0 / 4096},
		{"5 vs 0", 5, 0, 1.0 / 32, 2.0 / 32},
		{"4 vs 0", 4, 0, 1.0 / 16, 2.0 / 16},
		{"balanced", 3, 3, 42.0 / 64, 1},
		{"candidate worse", 1, 6, 127.0 / 128, 16.0 / 128},
		{"large n", 60, 40, 0.028443966820490395, 0.05688793364098079},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			one, two := McNemar(tt.b, tt.c)
			if math.Abs(one-tt.one) > 1e-12 || math.Abs(two-tt.two) > 1e-12 {
				t.Errorf("McNemar(%d, %d) = %v, %v; want %v, %v", tt.b, tt.c, one, two, tt.one, tt.two)
			}
		})
	}
}

func TestBootstrap(t *testing.T) {
	ones := func(n int, v float64) []float64 {
		s := make([]float64, n)
		for i := range s {
			s[i] = v
		}
		return s
	}
	tests := []struct {
		name       string
		cand, inc  []float64
		delta      float64
		pMin, pMax float64
	}{
		// Every difference is +1: no resample can be ≤ 0, so p is the
		// smallest value the correction allows, 1/(1+samples).
		{"always better", ones(20, 1), ones(20, 0), 1, 1.0 / 2001, 1.0 / 2001},
		// Identical: every resampled difference is 0, i.e. ≤ 0.
		{"identical", ones(20, 0.5), ones(20, 0.5), 0, 1, 1},
		// One example better out of 20 (0.05 mean): P(no draw of it in 20)
		// = 0.95^20 ≈ 0.358.
		{"one of twenty", append(ones(19, 0), 1), ones(20, 0), 0.05, 0.32, 0.40},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, d, err := Bootstrap(tt.cand, tt.inc, 2000, 7)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(d-tt.delta) > 1e-12 || p < tt.pMin-1e-12 || p > tt.pMax+1e-12 {
				t.Errorf("Bootstrap = p %v delta %v; want p in [%v, %v], delta %v", p, d, tt.pMin, tt.pMax, tt.delta)
			}
			p2, _, _ := Bootstrap(tt.cand, tt.inc, 2000, 7)
			if p2 != p {
				t.Errorf("same seed gave p %v then %v", p, p2)
			}
		})
	}
	if _, _, err := Bootstrap([]float64{1}, nil, 10, 1); err == nil {
		t.Error("unequal lengths accepted")
	}
}
