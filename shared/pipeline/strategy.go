package pipeline

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/promptml/promptml/shared/blob"
	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/dataset"
	"github.com/promptml/promptml/shared/errs"
	"github.com/promptml/promptml/shared/optimize"
	"github.com/promptml/promptml/shared/stats"
	"github.com/promptml/promptml/shared/store"
)

// resolveStrategy returns the strategy of the next epoch and why. A fixed
// strategy is itself. auto first tries each strategy once, in the order of
// optimize.Strategies; after that it picks the highest Laplace-smoothed
// acceptance rate (accepted+1)/(tried+2) over this run's epochs, ties going
// to the strategy tried fewer times, then to the earlier one in the list.
// It depends on the stored epochs only, so a retried transition resolves
// the same strategy.
func resolveStrategy(cfg config.Run, epochs []*store.Epoch) (string, string) {
	if cfg.Optimizer.Strategy != optimize.StrategyAuto {
		return cfg.Optimizer.Strategy, ""
	}
	tried, accepted := map[string]int{}, map[string]int{}
	for _, e := range epochs {
		if e.Strategy == "" {
			continue
		}
		tried[e.Strategy]++
		if e.Decision == store.DecisionAccepted {
			accepted[e.Strategy]++
		}
	}
	for _, s := range optimize.Strategies {
		if tried[s] == 0 {
			return s, fmt.Sprintf("auto: %s not tried yet in this run", s)
		}
	}
	best, bestRate := "", -1.0
	for _, s := range optimize.Strategies {
		rate := float64(accepted[s]+1) / float64(tried[s]+2)
		if rate > bestRate+1e-12 || (math.Abs(rate-bestRate) <= 1e-12 && tried[s] < tried[best]) {
			best, bestRate = s, rate
		}
	}
	return best, fmt.Sprintf("auto: %s has the best acceptance so far (%d of %d epochs accepted)", best, accepted[best], tried[best])
}

// maxHeldOut bounds how many val and test ground truths the leakage check
// reads, so a huge dataset does not make every epoch read whole splits.
const maxHeldOut = 20000

// heldOutTruths reads the ground truths of the val and test splits.
func (p *Pipeline) heldOutTruths(ctx context.Context, r *store.Run) ([]string, error) {
	var out []string
	for _, split := range []string{dataset.Val, dataset.Test} {
		for n := 0; n < r.Dataset.Batches[split] && len(out) < maxHeldOut; n++ {
			rc, err := p.blob.Open(ctx, p.cfg.ArtifactsBucket, blob.DataPath(r.ID, split, n), 0)
			if err != nil {
				return nil, fmt.Errorf("pipeline.heldOutTruths: %w", err)
			}
			ex, err := dataset.ReadShard(rc)
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("pipeline.heldOutTruths: %w", err)
			}
			for _, e := range ex {
				out = append(out, e.GroundTruth)
			}
		}
	}
	return out, nil
}

func guardConfig(cfg config.Run) optimize.GuardConfig {
	g := cfg.Optimizer.Guards
	return optimize.GuardConfig{MinChars: g.MinChars, MaxChars: g.MaxChars, Leakage: g.Leakage.Enabled,
		MinWords: g.Leakage.MinWords, NGram: g.Leakage.NGram, MaxOverlap: g.Leakage.MaxOverlap}
}

// earlierCandidates maps every prompt id an earlier epoch proposed or
// started from to where it was seen, so a repeat is not scored again.
func earlierCandidates(epochs []*store.Epoch) map[string]string {
	seen := map[string]string{}
	for _, e := range epochs {
		if _, ok := seen[e.IncumbentID]; !ok {
			seen[e.IncumbentID] = fmt.Sprintf("the incumbent of epoch %d", e.N)
		}
		for i, c := range e.Candidates {
			if _, ok := seen[c.PromptID]; !ok && c.PromptID != "" {
				seen[c.PromptID] = fmt.Sprintf("candidate %d of epoch %d (%s)", i+1, e.N, c.Status)
			}
		}
	}
	return seen
}

func toDemos(ds []optimize.Demo) []store.Demo {
	out := make([]store.Demo, len(ds))
	for i, d := range ds {
		out[i] = store.Demo{Input: d.Input, Output: d.Output}
	}
	return out
}

func fromDemos(ds []store.Demo) []optimize.Demo {
	out := make([]optimize.Demo, len(ds))
	for i, d := range ds {
		out[i] = optimize.Demo{Input: d.Input, Output: d.Output}
	}
	return out
}

// gateResult is the outcome of the paired test.
type gateResult struct {
	Test  string
	P     *float64
	Pairs int
	// B and C are McNemar's discordant counts: candidate passes where the
	// incumbent fails, and the other way round.
	B, C int
}

// pairedTest compares the candidate's per-example val results with the
// incumbent's, paired by example id (examples either side failed to score
// are left out).
func (p *Pipeline) pairedTest(ctx context.Context, r *store.Run, cfg config.Run, incID, candID string) (gateResult, error) {
	res := gateResult{Test: cfg.Gate.Test}
	if res.Test == "" || res.Test == "none" {
		res.Test = "none"
		return res, nil
	}
	read := func(id string) (map[string]Result, error) {
		ph, err := p.store.GetPhase(ctx, r.ID, PhaseID(dataset.Val, id))
		if err != nil {
			return nil, err
		}
		rs, _, err := p.readResults(ctx, r.ID, ph)
		if err != nil {
			return nil, err
		}
		m := make(map[string]Result, len(rs))
		for _, x := range rs {
			if x.Score != nil {
				m[x.ID] = x
			}
		}
		return m, nil
	}
	inc, err := read(incID)
	if err != nil {
		return res, err
	}
	cand, err := read(candID)
	if err != nil {
		return res, err
	}
	// Pairs in id order, so the seeded bootstrap resamples the same
	// sequence every time.
	ids := make([]string, 0, len(cand))
	for id := range cand {
		if _, ok := inc[id]; ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	var cs, is []float64
	for _, id := range ids {
		c, i := cand[id], inc[id]
		res.Pairs++
		cs, is = append(cs, *c.Score), append(is, *i.Score)
		switch {
		case c.Passed && !i.Passed:
			res.B++
		case !c.Passed && i.Passed:
			res.C++
		}
	}
	var pv float64
	switch res.Test {
	case "mcnemar":
		pv, _ = stats.McNemar(res.B, res.C)
	case "bootstrap":
		if res.Pairs == 0 {
			pv = 1
			break
		}
		if pv, _, err = stats.Bootstrap(cs, is, cfg.Gate.Samples, uint64(cfg.Gate.Seed)); err != nil {
			return res, fmt.Errorf("pipeline.pairedTest: %w", err)
		}
	default:
		return res, errs.New(errs.InvalidArgument, "unknown gate.test %q", res.Test)
	}
	res.P = &pv
	return res, nil
}

// describe renders the test for the decision message.
func (g gateResult) describe(cfg config.Run) string {
	switch {
	case g.P == nil:
		return ""
	case g.Test == "mcnemar":
		return fmt.Sprintf("; exact McNemar on %d paired examples, %d better vs %d worse: one-sided p = %.3g, alpha %.3g", g.Pairs, g.B, g.C, *g.P, cfg.Gate.Alpha)
	}
	return fmt.Sprintf("; paired bootstrap on %d examples (%d resamples): one-sided p = %.3g, alpha %.3g", g.Pairs, cfg.Gate.Samples, *g.P, cfg.Gate.Alpha)
}

// gateEventData is the decision event's Data: what the dashboard shows.
func gateEventData(ep *store.Epoch) map[string]any {
	d := map[string]any{"decision": ep.Decision, "delta": ep.Delta, "gate_test": ep.GateTest, "strategy": ep.Strategy,
		"best_candidate": ep.BestCandidate}
	if ep.PValue != nil {
		d["p_value"] = *ep.PValue
	}
	return d
}
