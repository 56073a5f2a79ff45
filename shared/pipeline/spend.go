package pipeline

import (
	"context"
	"fmt"
	"slices"

	"github.com/promptml/promptml/shared/llm"
	"github.com/promptml/promptml/shared/logging"
	"github.com/promptml/promptml/shared/store"
)

// A run's spend is its ledger (runs/{run}/spend): every model call a
// delivery attempt made, written by the meter before the reply is used
// (llm.Metered), under the attempt's own id. So the ledger holds what the
// providers answered: duplicate deliveries that both paid, attempts that
// failed after their calls, proposals recomputed by a redelivered
// transition. The run's usage is the ledger's sum (store.RunSpend): set at
// each commit (step.apply), and settled when the run ends, whatever ends
// it, cancel included (end). An attempt still calling when its run ends
// settles the run again after its last call (settleIfEnded), so late calls
// are counted too. Budgets are checked against the same sum (observe).
//
// Phases and batches keep the usage of the attempts they count (the batch
// document names one attempt's results); the run's figure can be larger by
// exactly the calls of the attempts no phase kept.

// spendLedger records one attempt's calls in its run's ledger.
type spendLedger struct {
	store   *store.Store
	run     string
	phase   string
	epoch   int
	attempt string
}

// Record implements llm.Ledger.
func (l spendLedger) Record(ctx context.Context, id string, s llm.Spend) error {
	u := usageOf(s.Tally)
	u.Errors = 0
	return l.store.RecordSpend(ctx, l.run, id, store.SpendEntry{Model: s.Model, Role: s.Role, Phase: l.phase, Epoch: l.epoch,
		Attempt: l.attempt, Usage: u})
}

// meter returns the meter of one attempt (a batch of phase, or a proposal
// of epoch), whose calls go to the run's ledger.
func (p *Pipeline) meter(runID, phase string, epoch int, attempt string) *llm.Meter {
	return &llm.Meter{Attempt: attempt, Ledger: spendLedger{store: p.store, run: runID, phase: phase, epoch: epoch, attempt: attempt}}
}

// spendModels are the model keys a run's spend is split by: its primary,
// its optimizer (the llm_judge judge too), the instance's embedding model,
// and any key the run already shows.
func (p *Pipeline) spendModels(r *store.Run) []string {
	var keys []string
	if cfg, err := runConfig(r); err == nil {
		keys = append(keys, cfg.Primary.Key(), cfg.Optimizer.Model.Key())
	}
	if p.embedder != nil {
		keys = append(keys, p.cfg.EmbeddingModel.Key())
	}
	for k := range r.UsageByModel {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return slices.Compact(keys)
}

// runSpend is the sum of r's ledger, in total and by model.
func (p *Pipeline) runSpend(ctx context.Context, r *store.Run) (store.Usage, map[string]store.Usage, error) {
	total, by, err := p.store.RunSpend(ctx, r.ID, p.spendModels(r))
	if err != nil {
		return store.Usage{}, nil, fmt.Errorf("pipeline.runSpend: %w", err)
	}
	return total, by, nil
}

// settle sets r's stored usage to its ledger's sum and returns the run as
// it stands after.
func (p *Pipeline) settle(ctx context.Context, r *store.Run) (*store.Run, error) {
	total, by, err := p.runSpend(ctx, r)
	if err != nil {
		return nil, err
	}
	cur, _, err := p.store.SettleRunUsage(ctx, r.ID, total, by)
	if err != nil {
		return nil, fmt.Errorf("pipeline.settle: %w", err)
	}
	return cur, nil
}

// settleIfEnded settles the run after an attempt whose meter recorded
// calls, if the run has ended meanwhile: the end's own settlement may have
// summed the ledger before this attempt's last calls. (If the run is still
// running, whatever ends it sums the ledger after this attempt's entries.)
// A failure is logged: the next settlement counts the same entries.
func (p *Pipeline) settleIfEnded(ctx context.Context, runID string, m *llm.Meter) {
	if m.Recorded() == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	r, err := p.store.GetRun(ctx, runID)
	if err == nil && r.Terminal() {
		_, err = p.settle(ctx, r)
	}
	if err != nil {
		logging.FromContext(ctx).Warn("spend of an attempt not settled", "error", err.Error())
	}
}
