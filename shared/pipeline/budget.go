package pipeline

import (
	"context"
	"fmt"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/dataset"
	"github.com/promptml/promptml/shared/store"
)

// Budgets (config `budget`) are checked at four points, each before money
// is committed:
//
//   - at the intake, the estimate of the baseline (baselineOverBudget);
//   - before an epoch asks the optimizer (epochBudget): the optimizer
//     calls plus the candidates' val phases;
//   - before a stage's phases are published (stageBudget);
//   - before each batch is scored (batchOverBudget), against the spend so
//     far including the batches of phases still running.
//
// Projections use what the run has observed: the average spend per scored
// example (primary + judge, cache hits included) and per optimizer call.
// When a check fails the run ends budget_exhausted with its best prompt
// exported. A batch that passed its check runs whole, and a check counts
// done batches only: a run overshoots by at most the batches in flight at
// once when a projection was too low (one per RunBatch instance and
// request slot, docs/llm.md#budgets). The arithmetic is decide.go's.

// observed is what a run has spent so far and what one scored example
// costs on average.
type observed struct {
	spent      spend
	perExample spend
	examples   int
}

// observe reads the run's spend: the sum of its ledger (every call any
// attempt paid for, those of batches still running and of failed attempts
// included, spend.go), and the average per scored example over the done
// phases and the done batches of phases still running.
func (p *Pipeline) observe(ctx context.Context, r *store.Run) (observed, error) {
	var o observed
	phases, err := p.store.ListPhases(ctx, r.ID)
	if err != nil {
		return o, fmt.Errorf("pipeline.observe: %w", err)
	}
	spent, _, err := p.store.RunSpend(ctx, r.ID, nil)
	if err != nil {
		return o, fmt.Errorf("pipeline.observe: %w", err)
	}
	o.spent = spendOf(spent)
	var total spend
	for _, ph := range phases {
		if ph.State == store.PhaseDone {
			if ph.Metrics != nil {
				total = total.plus(spendOf(ph.Usage))
				o.examples += ph.Metrics.N + ph.Metrics.Errors
			}
			continue
		}
		bs, err := p.store.ListBatches(ctx, r.ID, ph.ID)
		if err != nil {
			return o, fmt.Errorf("pipeline.observe: %w", err)
		}
		for _, b := range bs {
			total = total.plus(spendOf(b.Usage))
			o.examples += b.Examples
		}
	}
	if o.examples > 0 {
		o.perExample = total.times(1 / float64(o.examples))
	}
	return o, nil
}

// stageBudget says why the phases step st would publish, added to what is
// spent, cross the budget; "" when they fit (or nothing is published).
func (p *Pipeline) stageBudget(ctx context.Context, t turn, st step) (string, error) {
	r, cfg := t.run, t.cfg
	if !cfg.Budget.Set() || st.End != "" || len(st.Pending) == 0 {
		return "", nil
	}
	o, err := p.observe(ctx, r)
	if err != nil {
		return "", err
	}
	examples := 0
	for _, id := range st.Pending {
		ph, err := p.store.GetPhase(ctx, r.ID, id)
		if err != nil {
			return "", err
		}
		if ph.State != store.PhaseDone {
			examples += r.Dataset.Counts[ph.Split]
		}
	}
	// The ledger has the step's optimizer calls already (st.AddUsage).
	next := o.spent.plus(o.perExample.times(float64(examples)))
	if why := over(cfg.Budget, next); why != "" {
		return fmt.Sprintf("the %s stage (%d phases, %d examples) would bring the run to %s", st.To, len(st.Pending), examples, why), nil
	}
	return "", nil
}

// epochBudget says why epoch n (its optimizer calls and its candidates'
// val phases) would cross the budget, before the optimizer is asked; ""
// when it fits.
func (p *Pipeline) epochBudget(ctx context.Context, t turn, st step, n int) (string, error) {
	r, cfg := t.run, t.cfg
	if !cfg.Budget.Set() {
		return "", nil
	}
	o, err := p.observe(ctx, r)
	if err != nil {
		return "", err
	}
	eps, err := p.store.ListEpochs(ctx, r.ID)
	if err != nil {
		return "", fmt.Errorf("pipeline.epochBudget: %w", err)
	}
	why := epochOverBudget(cfg.Budget, o.spent, spend{}, perOptimizerCall(eps), o.perExample, cfg.Candidates, r.Dataset.Counts[dataset.Val])
	if why == "" {
		return "", nil
	}
	return fmt.Sprintf("epoch %d (%d optimizer calls, %d candidates on val) would bring the run to %s", n, cfg.Candidates, cfg.Candidates, why), nil
}

// batchOverBudget is the per-batch check: when scoring this batch would
// take the run over its budget, the run ends budget_exhausted (the best
// prompt so far exported) and the batch is dropped. It reports whether the
// batch must not run.
func (p *Pipeline) batchOverBudget(ctx context.Context, r *store.Run, ph *store.Phase, n int) (bool, error) {
	cfg, err := runConfig(r)
	if err != nil || !cfg.Budget.Set() {
		return false, err
	}
	o, err := p.observe(ctx, r)
	if err != nil {
		return false, err
	}
	size := min(cfg.BatchSize, r.Dataset.Counts[ph.Split]-n*cfg.BatchSize)
	why := over(cfg.Budget, o.spent.plus(o.perExample.times(float64(max(size, 0)))))
	if why == "" {
		return false, nil
	}
	best, err := p.store.GetPrompt(ctx, r.ID, r.IncumbentID)
	if err != nil {
		return false, err
	}
	if err := p.Export(ctx, r, best); err != nil {
		return false, err
	}
	if _, _, err := p.end(ctx, r.ID, budgetExhausted(r.Epoch, best.ID, r.BestVal,
		fmt.Sprintf("batch %d of %s would bring the run to %s", n, ph.ID, why))); err != nil {
		return false, fmt.Errorf("pipeline.batchOverBudget: %w", err)
	}
	return true, nil
}

// baselineOverBudget is the intake's check: the estimate of the baseline
// (the initial prompt on train and val, EstimateRun's first two phases)
// against the budget, before anything is published. It returns why the
// run cannot start, or "".
func baselineOverBudget(cfg config.Run, splits map[string]SplitStats, embedding config.Model) string {
	if !cfg.Budget.Set() {
		return ""
	}
	e := EstimateRun(cfg, splits, embedding)
	var s spend
	for _, pe := range e.Phases[:2] {
		s = s.plus(spend{calls: pe.Calls, tokens: pe.InputTokens + pe.OutputTokens, usd: pe.CostUSD})
	}
	if why := over(cfg.Budget, s); why != "" {
		return "the baseline (the initial prompt on train and val, estimated) would bring the run to " + why
	}
	return ""
}
