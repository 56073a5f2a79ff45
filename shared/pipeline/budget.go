package pipeline

import (
	"context"
	"fmt"
	"time"

	"github.com/promptml/promptml/shared/config"
	"github.com/promptml/promptml/shared/dataset"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/store"
)

// Budgets (config `budget`) are checked at three points, each before money
// is committed:
//
//   - before an epoch asks the optimizer (epochOverBudget): the optimizer
//     calls plus the candidates' val phases;
//   - before a stage's phases are published (checkStageBudget);
//   - before each batch is scored (batchOverBudget), against the spend so
//     far including the batches of phases still running.
//
// Projections use what the run has observed: the average spend per scored
// example (primary + judge, cache hits included) and per optimizer call.
// When a check fails the run ends budget_exhausted with its best prompt
// exported. A batch that passed its check runs whole, and a check counts
// done batches only: a run overshoots by at most the batches in flight at
// once when a projection was too low (one per RunBatch instance and
// request slot, docs/llm.md#budgets).

// spend is an amount in the three budgeted units.
type spend struct {
	calls, tokens int
	usd           float64
}

func spendOf(u store.Usage) spend {
	return spend{calls: u.Calls, tokens: u.InputTokens + u.OutputTokens, usd: u.CostUSD}
}

func (s spend) plus(t spend) spend {
	return spend{calls: s.calls + t.calls, tokens: s.tokens + t.tokens, usd: s.usd + t.usd}
}

func (s spend) times(f float64) spend {
	return spend{calls: int(float64(s.calls)*f + 0.999), tokens: int(float64(s.tokens)*f + 0.999), usd: s.usd * f}
}

// over names the first limit of b that s crosses, "" if none.
func over(b config.Budget, s spend) string {
	switch {
	case b.MaxCalls > 0 && s.calls > b.MaxCalls:
		return fmt.Sprintf("%d calls > budget.max_calls %d", s.calls, b.MaxCalls)
	case b.MaxTokens > 0 && s.tokens > b.MaxTokens:
		return fmt.Sprintf("%d tokens > budget.max_tokens %d", s.tokens, b.MaxTokens)
	case b.MaxUSD > 0 && s.usd > b.MaxUSD:
		return fmt.Sprintf("$%.4f > budget.max_usd $%.4f", s.usd, b.MaxUSD)
	}
	return ""
}

// observed is what a run has spent so far and what one scored example
// costs on average.
type observed struct {
	spent      spend
	perExample spend
	examples   int
}

// observe reads the run's spend: the run's usage (done phases and the
// optimizer) plus the done batches of phases still running, and the average
// per scored example over both. The run is read again after its phases: a
// phase that finished after the caller read r has its usage on the run
// document only, and it must not fall between the two (a phase finishing
// between the two reads here is counted twice, the safe side).
func (p *Pipeline) observe(ctx context.Context, r *store.Run) (observed, error) {
	var o observed
	phases, err := p.Store.ListPhases(ctx, r.ID)
	if err != nil {
		return o, fmt.Errorf("pipeline.observe: %w", err)
	}
	cur, err := p.Store.GetRun(ctx, r.ID)
	if err != nil {
		return o, fmt.Errorf("pipeline.observe: %w", err)
	}
	o.spent = spendOf(cur.Usage)
	var total spend
	for _, ph := range phases {
		if ph.State == store.PhaseDone {
			if ph.Metrics != nil {
				total = total.plus(spendOf(ph.Usage))
				o.examples += ph.Metrics.N + ph.Metrics.Errors
			}
			continue
		}
		bs, err := p.Store.ListBatches(ctx, r.ID, ph.ID)
		if err != nil {
			return o, fmt.Errorf("pipeline.observe: %w", err)
		}
		for _, b := range bs {
			o.spent = o.spent.plus(spendOf(b.Usage))
			total = total.plus(spendOf(b.Usage))
			o.examples += b.Examples
		}
	}
	if o.examples > 0 {
		o.perExample = total.times(1 / float64(o.examples))
	}
	return o, nil
}

// checkStageBudget ends the run when the phases the new stage would
// publish, added to what is spent, cross the budget.
func (p *Pipeline) checkStageBudget(ctx context.Context, r *store.Run, cfg config.Run, st *step) error {
	if !cfg.Budget.Set() || st.Finished || len(st.Pending) == 0 {
		return nil
	}
	o, err := p.observe(ctx, r)
	if err != nil {
		return err
	}
	examples := 0
	for _, id := range st.Pending {
		ph, err := p.Store.GetPhase(ctx, r.ID, id)
		if err != nil {
			return err
		}
		if ph.State != store.PhaseDone {
			examples += r.Dataset.Counts[ph.Split]
		}
	}
	next := o.spent.plus(spendOf(st.AddUsage)).plus(o.perExample.times(float64(examples)))
	if why := over(cfg.Budget, next); why != "" {
		return p.exhaust(ctx, r, st, fmt.Sprintf("the %s stage (%d phases, %d examples) would bring the run to %s", st.Stage, len(st.Pending), examples, why))
	}
	return nil
}

// epochOverBudget ends the run, before the optimizer is asked, when an
// epoch (its optimizer calls and its candidates' val phases) would cross
// the budget.
func (p *Pipeline) epochOverBudget(ctx context.Context, r *store.Run, cfg config.Run, st *step, n int) (bool, error) {
	if !cfg.Budget.Set() {
		return false, nil
	}
	o, err := p.observe(ctx, r)
	if err != nil {
		return false, err
	}
	perCall := spend{calls: 1}
	if eps, err := p.Store.ListEpochs(ctx, r.ID); err == nil {
		var u store.Usage
		for _, e := range eps {
			u = u.Add(e.Usage)
		}
		if u.Calls > 0 {
			perCall = spendOf(u).times(1 / float64(u.Calls))
		}
	}
	next := o.spent.plus(spendOf(st.AddUsage)).
		plus(perCall.times(float64(cfg.Candidates))).
		plus(o.perExample.times(float64(cfg.Candidates * r.Dataset.Counts[dataset.Val])))
	if why := over(cfg.Budget, next); why != "" {
		return true, p.exhaust(ctx, r, st, fmt.Sprintf("epoch %d (%d optimizer calls, %d candidates on val) would bring the run to %s", n, cfg.Candidates, cfg.Candidates, why))
	}
	return false, nil
}

// exhaust turns the step into the end of the run: the best prompt so far
// is exported and the run ends budget_exhausted.
func (p *Pipeline) exhaust(ctx context.Context, r *store.Run, st *step, why string) error {
	best, err := p.Store.GetPrompt(ctx, r.ID, st.Incumbent)
	if err != nil {
		return err
	}
	if err := p.Export(ctx, r, best); err != nil {
		return err
	}
	st.Stage, st.Pending, st.Finished, st.Exhausted = store.StageDone, nil, true, true
	p.budgetEvent(ctx, r.ID, st.Epoch, best.ID, st.BestVal, why)
	return nil
}

func (p *Pipeline) budgetEvent(ctx context.Context, runID string, epoch int, bestID string, bestVal float64, why string) {
	p.event(ctx, runID, "budget-exhausted", store.Event{Kind: store.StatusBudgetExhausted, Epoch: epoch,
		Message: fmt.Sprintf("Budget exhausted: %s. Stopped with the best prompt so far, %s (val %.3f), exported.", why, bestID, bestVal),
		Data:    map[string]any{"reason": why, "best_prompt_id": bestID}})
	logging.FromContext(ctx).Info("budget exhausted", "reason", why, "best_prompt_id", bestID)
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
	best, err := p.Store.GetPrompt(ctx, r.ID, r.IncumbentID)
	if err != nil {
		return false, err
	}
	if err := p.Export(ctx, r, best); err != nil {
		return false, err
	}
	done, err := p.Store.UpdateRun(ctx, r.ID, func(cur *store.Run) error {
		if cur.Terminal() {
			return store.ErrSkip
		}
		cur.Status = store.StatusBudgetExhausted
		cur.Lease = nil
		cur.FinishedAt = time.Now()
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("pipeline.batchOverBudget: %w", err)
	}
	if done.Status == store.StatusBudgetExhausted {
		p.budgetEvent(ctx, r.ID, r.Epoch, best.ID, r.BestVal, fmt.Sprintf("batch %d of %s would bring the run to %s", n, ph.ID, why))
		p.reportRun(ctx, done)
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
