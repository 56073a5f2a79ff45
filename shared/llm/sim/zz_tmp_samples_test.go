package sim

import (
	"context"
	"os"
	"testing"

	"github.com/promptml/promptml/shared/optimize"
)

func TestTmpSamples(t *testing.T) {
	var objs = []string{"injection.csv", "sentiment.csv", "translation-fr.csv"}
	var fobjs = nil_objs()
	for _, o := range objs {
		b, err := os.ReadFile("../../../samples/" + o)
		if err != nil {
			t.Fatal(err)
		}
		fobjs = append(fobjs, object(o, string(b)))
	}
	srv := newFakeGCS(t, fobjs...)
	bk := NewBucketKey(srv.Client(), "datasets", 0)
	for _, o := range []string{"translation-fr.csv", "sentiment.csv", "injection.csv"} {
		for seed := int64(0); seed < 3; seed++ {
			b, _ := os.ReadFile("../../../samples/" + o)
			pairsMap, _ := ParseCSV(bytesReader(b))
			var ps []pair
			for in, out := range pairsMap {
				ps = append(ps, pair{in, out})
			}
			sortPairs(ps)
			m := New(Options{Key: bk, Seed: seed})
			n := len(ps)
			train, val := ps[:n/2], ps[n/2:n*3/4]
			sys, out := neutralSystem, neutralOutput
			v, _ := score(t, m, val, sys, out)
			traj := []float64{v}
			var hist []optimize.HistoryEntry
			for e := 0; e < 5; e++ {
				tr, fails := score(t, m, train, sys, out)
				if len(fails) > 8 {
					fails = fails[:8]
				}
				p := propose(t, m, optimize.Data{Strategy: "rewrite", SystemPrompt: sys, OutputPrompt: out, Metrics: optimize.Metrics{Mean: tr}, Failures: fails, History: hist})
				cv, _ := score(t, m, val, p.SystemPrompt, p.OutputPrompt)
				hist = append(hist, optimize.HistoryEntry{SystemPrompt: p.SystemPrompt, OutputPrompt: p.OutputPrompt, ValScore: cv})
				if cv > v {
					sys, out, v = p.SystemPrompt, p.OutputPrompt, cv
				}
				traj = append(traj, v)
			}
			t.Logf("%s seed %d: %v final %q", o, seed, traj, out)
			_, f := score(t, m, val, sys, out)
			for _, x := range f { t.Logf("   %q -> %q (want %q)", x.Input, x.Actual, x.Expected) }
		}
	}
	_ = context.Background
}
