package fault

import (
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInjectorOffByDefault(t *testing.T) {
	var nilInj *Injector
	for _, in := range []*Injector{nilInj, {}, {Seed: 5}} {
		for i := range 100 {
			if err := in.Inject(context.Background(), BatchAfterResults, "k"); err != nil {
				t.Fatalf("injector %+v, call %d: %v, want no fault", in, i, err)
			}
		}
	}
}

func TestInjectorRateAndDeterminism(t *testing.T) {
	tests := []struct {
		name      string
		in        func() *Injector
		point     string
		wantFault bool
	}{
		{"batch rate applies to batch points", func() *Injector { return &Injector{BatchRate: 0.5, MaxPerKey: 1000} }, BatchAfterComplete, true},
		{"batch rate leaves aggregate points alone", func() *Injector { return &Injector{BatchRate: 0.5} }, AggregateAfterNext, false},
		{"aggregate rate applies to aggregate points", func() *Injector { return &Injector{AggregateRate: 0.5, MaxPerKey: 1000} }, AggregateMidFanOut, true},
		{"only other points", func() *Injector { return &Injector{AggregateRate: 0.9, Only: []string{AggregateAfterCommit}} }, AggregateAfterNext, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run := func() []bool {
				in := tt.in()
				var out []bool
				for range 2000 {
					err := in.Inject(context.Background(), tt.point, "run/phase/1")
					if err != nil && !errors.Is(err, ErrInjected) {
						t.Fatalf("error %v is not ErrInjected", err)
					}
					out = append(out, err != nil)
				}
				return out
			}
			a, b := run(), run()
			if d := cmp.Diff(a, b); d != "" {
				t.Errorf("same seed, different decisions:\n%s", d)
			}
			n := 0
			for _, f := range a {
				if f {
					n++
				}
			}
			if !tt.wantFault {
				if n != 0 {
					t.Errorf("%d faults, want none", n)
				}
				return
			}
			if share := float64(n) / float64(len(a)); share < 0.45 || share > 0.55 {
				t.Errorf("fault share %.3f, want about 0.5", share)
			}
		})
	}
}

func TestInjectorCapsFaultsPerKey(t *testing.T) {
	in := &Injector{BatchRate: 0.99, MaxPerKey: 2}
	n := 0
	for range 50 {
		if in.Inject(context.Background(), BatchAfterResults, "k") != nil {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d faults for one key, want the cap 2", n)
	}
	if d := cmp.Diff(map[string]int{BatchAfterResults: 2}, in.Counts()); d != "" {
		t.Errorf("Counts (-want +got):\n%s", d)
	}
}

func TestSample(t *testing.T) {
	if Sample(1, "k", 0, 0) {
		t.Error("rate 0 sampled")
	}
	n := 0
	for i := range 1000 {
		if Sample(1, "k", i, 0.25) {
			n++
		}
	}
	if n < 200 || n > 300 {
		t.Errorf("%d of 1000 sampled at 0.25", n)
	}
}
